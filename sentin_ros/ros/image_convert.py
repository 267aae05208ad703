"""sensor_msgs/Image and CompressedImage <-> numpy, without cv_bridge.

Accepted encodings: bgr8, rgb8, mono8, bgra8, rgba8 (alpha dropped). `step` is respected
(rows may be padded). Anything else raises ImageError with a reason the node logs.
"""
from __future__ import annotations

import array

import cv2
import numpy as np

CHANNELS = {"bgr8": 3, "rgb8": 3, "mono8": 1, "bgra8": 4, "rgba8": 4}
MAX_PIXELS = 4096 * 4096


class ImageError(ValueError):
    pass


def image_to_array(msg) -> tuple[np.ndarray, str]:
    """Returns (H×W×3 array or H×W for mono8, encoding of that array: 'bgr8' | 'rgb8' | 'mono8')."""
    enc = msg.encoding.lower()
    if enc not in CHANNELS:
        raise ImageError(f"unsupported encoding {msg.encoding!r} (accepted: {', '.join(CHANNELS)})")
    h, w, ch = int(msg.height), int(msg.width), CHANNELS[enc]
    if h == 0 or w == 0:
        raise ImageError(f"empty image ({w}x{h})")
    if h * w > MAX_PIXELS:
        raise ImageError(f"image {w}x{h} exceeds the {MAX_PIXELS}-pixel limit")
    if msg.step < w * ch:
        raise ImageError(f"step {msg.step} is smaller than width*channels = {w * ch}")
    data = msg.data
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.view(np.uint8)
    if buf.size < h * msg.step:
        raise ImageError(f"data has {buf.size} bytes, expected height*step = {h * msg.step}")
    rows = buf[: h * msg.step].reshape(h, msg.step)[:, : w * ch]
    img = rows.reshape(h, w, ch) if ch > 1 else rows.reshape(h, w)
    if enc == "bgra8":
        return img[:, :, :3], "bgr8"
    if enc == "rgba8":
        return img[:, :, :3], "rgb8"
    return img, enc


def compressed_to_array(msg) -> tuple[np.ndarray, str]:
    buf = np.frombuffer(msg.data, dtype=np.uint8) if not isinstance(msg.data, np.ndarray) else msg.data
    if buf.size == 0:
        raise ImageError("empty CompressedImage")
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None:
        raise ImageError(f"cannot decode CompressedImage (format {msg.format!r})")
    return img, "bgr8"


def array_to_image(img: np.ndarray, encoding: str, header=None):
    """numpy -> sensor_msgs/Image. Fills `data` from bytes: assigning a numpy array costs ~0.2 s/frame."""
    from sensor_msgs.msg import Image

    if img.dtype != np.uint8:
        raise ImageError("only uint8 images are supported")
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = int(img.shape[0]), int(img.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(img.shape[1] * (img.shape[2] if img.ndim == 3 else 1))
    msg.data = array.array("B", np.ascontiguousarray(img).tobytes())
    return msg


def array_to_compressed(img_bgr: np.ndarray, header=None, fmt: str = "jpeg", quality: int = 90):
    from sensor_msgs.msg import CompressedImage

    ok, buf = cv2.imencode(".jpg" if fmt == "jpeg" else ".png", img_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageError("encoding failed")
    msg = CompressedImage()
    if header is not None:
        msg.header = header
    msg.format = fmt
    msg.data = array.array("B", buf.tobytes())
    return msg


def stamp_to_seconds(stamp) -> float:
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9
