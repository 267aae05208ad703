"""A synthetic face clip that needs no download: skimage's astronaut (a real, smiling face)
translated, scaled and rotated over a background, with a stretch where the face leaves."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

# Face centre in skimage.data.astronaut() (512×512), measured with the face core.
_FACE_CENTRE = (225.0, 122.0)


@dataclass
class ClipFrame:
    index: int
    bgr: np.ndarray
    face_visible: bool
    angle_deg: float  # in-plane rotation applied (cv2 convention: positive = counter-clockwise)
    scale: float
    centre: tuple[float, float]


def astronaut_rgb() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def place_face(rgb: np.ndarray, size=(640, 480), centre=(320.0, 240.0), scale=1.0, angle=0.0) -> np.ndarray:
    """Warp `rgb` so its face centre lands at `centre` (pixels), scaled and rotated; returns BGR."""
    w, h = size
    m = cv2.getRotationMatrix2D(_FACE_CENTRE, angle, scale)
    m[:, 2] += np.array(centre) - np.array(_FACE_CENTRE)
    bg = np.full((h, w, 3), 90, np.uint8)
    warped = cv2.warpAffine(rgb, m, (w, h), dst=bg, borderMode=cv2.BORDER_TRANSPARENT)
    return cv2.cvtColor(warped, cv2.COLOR_RGB2BGR)


def synthetic_clip(n_frames: int = 120, size=(640, 480), leave: bool = True) -> Iterator[ClipFrame]:
    """Smooth motion (drift, zoom, ±15° roll); with `leave`, frames 60%-80% of the clip have no face."""
    rgb = astronaut_rgb()
    w, h = size
    for i in range(n_frames):
        t = i / max(n_frames - 1, 1)
        gone = leave and 0.6 <= t < 0.8
        cx = w * (0.4 + 0.2 * np.sin(2 * np.pi * t))
        cy = h * (0.45 + 0.08 * np.cos(2 * np.pi * t))
        scale = 0.9 + 0.3 * np.sin(np.pi * t)
        angle = 15.0 * np.sin(2 * np.pi * t * 1.5)
        if gone:
            cx = w * 3.0  # far outside the image
        yield ClipFrame(i, place_face(rgb, size, (cx, cy), scale, angle), not gone, angle, scale, (cx, cy))


def write_clip(path: str, n_frames: int = 120, size=(640, 480), fps: float = 15.0, leave: bool = True) -> str:
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    for frame in synthetic_clip(n_frames, size, leave):
        writer.write(frame.bgr)
    writer.release()
    return path


# Side of the astronaut's face (its landmark extent), pixels of the 512×512 image.
_FACE_SIZE = 108.0


def face_canvas(sizes, canvas=(1280, 720), shift=(0.0, 0.0), background: int = 90) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Copies of the astronaut's head, one per entry of `sizes` (face side in pixels), laid out
    on a row-major grid of a grey canvas and moved by `shift` pixels; returns (BGR, centres)."""
    rgb = astronaut_rgb()
    w, h = canvas
    cols = int(np.ceil(np.sqrt(len(sizes) * w / h)))
    rows = int(np.ceil(len(sizes) / cols))
    out = np.full((h, w, 3), background, np.uint8)
    centres = []
    half = int(_FACE_SIZE)  # the head patch: twice the face's side, centred on the face
    cx0, cy0 = int(_FACE_CENTRE[0]), int(_FACE_CENTRE[1])
    patch = rgb[max(0, cy0 - half):cy0 + half, max(0, cx0 - half):cx0 + half]
    for k, side in enumerate(sizes):
        centre = ((k % cols + 0.5) * w / cols + shift[0], (k // cols + 0.5) * h / rows + shift[1])
        s = side / _FACE_SIZE
        m = np.array([[s, 0, centre[0] - s * (cx0 - max(0, cx0 - half))], [0, s, centre[1] - s * (cy0 - max(0, cy0 - half))]])
        out = cv2.warpAffine(patch, m, (w, h), dst=out, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT)
        centres.append(centre)
    return cv2.cvtColor(out, cv2.COLOR_RGB2BGR), centres
