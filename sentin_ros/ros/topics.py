"""Topic names derived from others (as image_transport / camera drivers lay them out)."""
from __future__ import annotations

#: camera_info_topic value that means "no CameraInfo" (the default pinhole, f = image width)
NO_CAMERA_INFO = "none"


def camera_info_topic(image_topic: str, value: str = "") -> str:
    """The CameraInfo topic to use: `value` if set ("none" = none, returned as ""), else the
    sibling `camera_info` of the image topic, as image_transport does (/camera/image_raw ->
    /camera/camera_info; image -> camera_info; a trailing /compressed is not part of it)."""
    value = (value or "").strip()
    if value.lower() == NO_CAMERA_INFO:
        return ""
    if value:
        return value
    base = (image_topic or "image").rstrip("/")
    if base.endswith("/compressed"):
        base = base[: -len("/compressed")]
    head, sep, _ = base.rpartition("/")
    return f"{head}{sep}camera_info" if sep else "camera_info"
