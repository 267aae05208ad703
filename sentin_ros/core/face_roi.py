"""Rotated square regions of interest and the warps between them and a model's input tensor."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Roi:
    """A square of side `size` pixels centred at (cx, cy), rotated by `angle` radians.

    angle is the rotation of the region's x axis from the image's x axis (clockwise in image
    coordinates, y down), i.e. the region's x axis is (cos a, sin a) in the image.
    """

    cx: float
    cy: float
    size: float
    angle: float

    def to_input(self, side: int) -> np.ndarray:
        """2×3 affine matrix image -> model input of `side`×`side` pixels."""
        c, s = np.cos(self.angle), np.sin(self.angle)
        k = side / self.size
        # Inverse rotation, then scale, then move the centre to the middle of the tensor.
        return np.array(
            [[k * c, k * s, side / 2 - k * (c * self.cx + s * self.cy)],
             [-k * s, k * c, side / 2 - k * (-s * self.cx + c * self.cy)]],
            np.float32,
        )

    def from_input(self, points: np.ndarray, side: int) -> np.ndarray:
        """Points (N, 2 or 3) in model-input pixels -> image pixels (z, if any, scaled like x)."""
        c, s = np.cos(self.angle), np.sin(self.angle)
        k = self.size / side
        # One product with the inverse of to_input (as rows: out = points @ a + b).
        a = np.array([[k * c, k * s, 0.0], [-k * s, k * c, 0.0], [0.0, 0.0, k]], np.float32)
        half = side / 2
        b = np.array([self.cx - k * half * (c - s), self.cy - k * half * (s + c), 0.0], np.float32)
        d = points.shape[1]
        out = np.asarray(points, np.float32) @ a[:d, :d]
        out += b[:d]
        return out

    def box(self) -> tuple[float, float, float, float]:
        half = self.size / 2
        return (self.cx - half, self.cy - half, self.cx + half, self.cy + half)


def roi_from_axis(start: np.ndarray, end: np.ndarray, centre: np.ndarray, size: float) -> Roi:
    """A region whose x axis runs from `start` to `end` (e.g. the two eyes)."""
    d = np.asarray(end, np.float64) - np.asarray(start, np.float64)
    return Roi(float(centre[0]), float(centre[1]), float(size), float(np.arctan2(d[1], d[0])))


def roi_from_points(points: np.ndarray, start: int, end: int, scale: float) -> Roi:
    """MediaPipe's landmarks -> ROI rule: the points' extent in the frame rotated to the
    start->end axis, its centre, the longer side times `scale`."""
    d = points[end, :2] - points[start, :2]
    angle = float(np.arctan2(d[1], d[0]))
    c, s = np.cos(angle), np.sin(angle)
    uv = points[:, :2] @ np.array([[c, -s], [s, c]], points.dtype)  # columns: u, v
    lo, hi = uv.min(0), uv.max(0)
    cu, cv = (lo + hi) / 2
    side = float((hi - lo).max()) * scale
    return Roi(float(cu * c - cv * s), float(cu * s + cv * c), float(side), angle)


def crop(image: np.ndarray, roi: Roi, side: int, mirror: bool = False) -> np.ndarray:
    """The region resampled to side×side (pixels outside the frame repeat the border).

    mirror: flipped left-right, by the warp itself (no second pass over the pixels).
    """
    m = roi.to_input(side)
    if mirror:
        m[0] = -m[0]
        m[0, 2] += side - 1  # pixel centres: column j <-> side - 1 - j
    return cv2.warpAffine(image, m, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
