"""sensor_msgs Image / CompressedImage / CameraInfo and header stamps <-> numpy, without cv_bridge.

Accepted encodings: bgr8, rgb8, mono8, bgra8, rgba8 (alpha dropped). `step` is respected
(rows may be padded). Anything else raises ImageError with a reason the node logs.
Builders take a message factory (types.RCLPY by default, types.RosbagsTypes for bags).
"""
from __future__ import annotations

import cv2
import numpy as np

from ...media.camera import default_camera_matrix
from .types import RCLPY

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


_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def encoded_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG or JPEG header, without decoding; ImageError for anything else.

    A few hundred KB of PNG can decode to 20000×20000 (1.2 GB): the size is checked first."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise ImageError("truncated PNG header")
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 4 <= len(data):
            if data[i] != 0xFF:
                raise ImageError("corrupt JPEG: no marker where one was expected")
            marker = data[i + 1]
            if marker == 0xFF:  # fill byte
                i += 1
                continue
            if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
                i += 2
                continue
            length = int.from_bytes(data[i + 2:i + 4], "big")
            if marker in _JPEG_SOF:
                if i + 9 > len(data):
                    break
                return int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
            if length < 2:
                raise ImageError("corrupt JPEG: bad segment length")
            i += 2 + length
        raise ImageError("JPEG without a frame header (SOF)")
    raise ImageError("unsupported CompressedImage data (accepted: JPEG, PNG)")


def compressed_to_array(msg) -> tuple[np.ndarray, str]:
    buf = np.frombuffer(msg.data, dtype=np.uint8) if not isinstance(msg.data, np.ndarray) else msg.data
    if buf.size == 0:
        raise ImageError("empty CompressedImage")
    w, h = encoded_size(buf[:65536].tobytes())  # (the JPEG frame header comes after the tables, well within this)
    if w == 0 or h == 0:
        raise ImageError(f"empty image ({w}x{h})")
    if w * h > MAX_PIXELS:
        raise ImageError(f"CompressedImage decodes to {w}x{h}, over the {MAX_PIXELS}-pixel limit; not decoded")
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None:
        raise ImageError(f"cannot decode CompressedImage (format {msg.format!r})")
    return img, "bgr8"


def cdr_image_size(serialized: bytes) -> tuple[int, int]:
    """(width, height) of a serialized (CDR) sensor_msgs/Image, read from its first bytes, so an
    oversize image can be refused before it is deserialized (copied into a Python message)."""
    if len(serialized) < 16:
        raise ImageError("serialized Image too short")
    order = "little" if serialized[1] == 1 else "big"  # encapsulation: CDR_LE = 00 01, CDR_BE = 00 00
    # after the 4-byte encapsulation: stamp (int32 sec, uint32 nanosec), frame_id (uint32 length + bytes),
    # then height, width (uint32, 4-aligned relative to the end of the encapsulation)
    n = int.from_bytes(serialized[12:16], order)
    pos = 12 + 4 + n
    pos = 4 + ((pos - 4 + 3) // 4) * 4
    if len(serialized) < pos + 8:
        raise ImageError("serialized Image too short")
    return int.from_bytes(serialized[pos + 4:pos + 8], order), int.from_bytes(serialized[pos:pos + 4], order)


def array_to_image(img: np.ndarray, encoding: str, header=None, types=RCLPY):
    """numpy -> sensor_msgs/Image (`data` filled from bytes: assigning a numpy array to an rclpy message costs ~0.2 s/frame)."""
    if img.dtype != np.uint8:
        raise ImageError(f"only uint8 images are supported, got {img.dtype}")
    h, w = int(img.shape[0]), int(img.shape[1])
    return types(
        "sensor_msgs/msg/Image", header=header if header is not None else types("std_msgs/msg/Header"), height=h, width=w,
        encoding=encoding, is_bigendian=0, step=w * (img.shape[2] if img.ndim == 3 else 1), data=types.octets(img),
    )


def array_to_compressed(img_bgr: np.ndarray, header=None, fmt: str = "jpeg", quality: int = 90):
    from sensor_msgs.msg import CompressedImage

    ok, buf = cv2.imencode(".jpg" if fmt == "jpeg" else ".png", img_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageError("encoding failed")
    msg = CompressedImage(format=fmt, data=RCLPY.octets(buf))
    if header is not None:
        msg.header = header
    return msg


# -- stamps and headers ------------------------------------------------------------------------
def stamp_to_seconds(stamp) -> float:
    """builtin_interfaces/Time -> `stamp`, seconds (the one float stamp used everywhere)."""
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def stamp_to_ns(stamp) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def header_msg(ns: int, frame_id: str, types=RCLPY):
    sec, nanosec = divmod(int(ns), 1_000_000_000)
    return types("std_msgs/msg/Header", stamp=types("builtin_interfaces/msg/Time", sec=sec, nanosec=nanosec), frame_id=frame_id)


# -- camera info ----------------------------------------------------------------------------
def camera_info_msg(width: int, height: int, header, types=RCLPY):
    """CameraInfo of the default pinhole camera (media.camera), no distortion."""
    k = default_camera_matrix(width, height)
    roi = types("sensor_msgs/msg/RegionOfInterest", x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return types(
        "sensor_msgs/msg/CameraInfo", header=header, height=int(height), width=int(width), distortion_model="plumb_bob",
        d=types.doubles(np.zeros(5)), k=k.reshape(-1), r=np.eye(3).reshape(-1), p=np.hstack([k, np.zeros((3, 1))]).reshape(-1),
        binning_x=0, binning_y=0, roi=roi,
    )


def camera_from_info(msg) -> tuple[np.ndarray, np.ndarray | None] | None:
    """(K 3×3, distortion or None) from a CameraInfo; None when K is unset (all zeros)."""
    k = np.array(msg.k, dtype=np.float64).reshape(3, 3)
    if not (k[0, 0] > 0 and k[1, 1] > 0):
        return None
    dist = np.array(msg.d, dtype=np.float64) if len(msg.d) in (4, 5, 8, 12, 14) else None
    return k, dist
