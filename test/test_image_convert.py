"""The Image <-> numpy converter: every accepted encoding, padded rows, and the rejections."""
import numpy as np
import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from sentin_ros.ros.convert.images import ImageError, array_to_compressed, array_to_image, compressed_to_array, image_to_array


def _img(h=4, w=5, ch=3):
    return (np.arange(h * w * ch) % 251).astype(np.uint8).reshape(h, w, ch) if ch > 1 else (np.arange(h * w) % 251).astype(np.uint8).reshape(h, w)


@pytest.mark.parametrize("enc,ch", [("bgr8", 3), ("rgb8", 3), ("mono8", 1), ("bgra8", 4), ("rgba8", 4)])
def test_round_trip_keeps_pixels_and_header(enc, ch):
    arr = _img(ch=ch)
    header = Header(frame_id="cam")
    header.stamp.sec, header.stamp.nanosec = 12, 345
    msg = array_to_image(arr, enc, header)
    out, out_enc = image_to_array(msg)
    assert msg.header.frame_id == "cam" and msg.header.stamp.nanosec == 345
    expected = arr[:, :, :3] if ch == 4 else arr
    np.testing.assert_array_equal(out, expected)
    assert out_enc == {"bgra8": "bgr8", "rgba8": "rgb8"}.get(enc, enc)


def test_padded_rows_respect_step():
    arr = _img(3, 4, 3)
    padded = np.zeros((3, 16), np.uint8)
    padded[:, :12] = arr.reshape(3, 12)
    msg = Image(height=3, width=4, encoding="bgr8", step=16, data=padded.tobytes())
    np.testing.assert_array_equal(image_to_array(msg)[0], arr)


@pytest.mark.parametrize(
    "msg,reason",
    [
        (Image(height=2, width=4, encoding="bgr8", step=8, data=bytes(64)), "step"),
        (Image(height=4, width=4, encoding="bgr8", step=12, data=bytes(20)), "bytes"),
        (Image(height=2, width=2, encoding="16UC1", step=4, data=bytes(8)), "unsupported encoding"),
        (Image(height=0, width=0, encoding="bgr8", step=0, data=b""), "empty"),
        (Image(height=3000, width=4000 * 2, encoding="mono8", step=8000, data=bytes(10)), "limit"),
    ],
)
def test_malformed_images_raise_with_reason(msg, reason):
    with pytest.raises(ImageError, match=reason):
        image_to_array(msg)


def test_compressed_round_trip():
    arr = np.zeros((32, 48, 3), np.uint8)
    arr[8:24, 8:40] = (0, 0, 255)
    out, enc = compressed_to_array(array_to_compressed(arr, fmt="png"))
    assert enc == "bgr8"
    np.testing.assert_array_equal(out, arr)
