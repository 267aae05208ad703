"""Rotated square regions of interest and the warps between them and a model's input tensor."""
from __future__ import annotations

import math
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
        # Python floats, not numpy scalars: these run once a region, right after a model invoke
        # has evicted numpy's paths from the cache, where each numpy call costs several µs.
        c, s = math.cos(self.angle), math.sin(self.angle)
        k = side / self.size
        # Inverse rotation, then scale, then move the centre to the middle of the tensor.
        return np.array(
            [[k * c, k * s, side / 2 - k * (c * self.cx + s * self.cy)],
             [-k * s, k * c, side / 2 - k * (-s * self.cx + c * self.cy)]],
            np.float32,
        )

    def from_input(self, points: np.ndarray, side: int) -> np.ndarray:
        """Points (N, 2 or 3) in model-input pixels -> image pixels (z, if any, scaled like x)."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        k = self.size / side
        half = side / 2
        # The inverse of to_input as one affine map, applied by a single OpenCV call.
        m = np.array(
            [[k * c, -k * s, 0.0, self.cx - k * half * (c - s)],
             [k * s, k * c, 0.0, self.cy - k * half * (s + c)],
             [0.0, 0.0, k, 0.0]],
            np.float32,
        )
        d = points.shape[1]
        if d == 2:
            m = m[:2, [0, 1, 3]]
        return cv2.transform(np.ascontiguousarray(points, np.float32).reshape(-1, 1, d), m).reshape(-1, d)

    def box(self) -> tuple[float, float, float, float]:
        half = self.size / 2
        return (self.cx - half, self.cy - half, self.cx + half, self.cy + half)


def roi_from_axis(start: np.ndarray, end: np.ndarray, centre: np.ndarray, size: float) -> Roi:
    """A region whose x axis runs from `start` to `end` (e.g. the two eyes)."""
    return Roi(float(centre[0]), float(centre[1]), float(size), math.atan2(float(end[1]) - float(start[1]), float(end[0]) - float(start[0])))


def roi_from_points(points: np.ndarray, start: int, end: int, scale: float) -> Roi:
    """MediaPipe's landmarks -> ROI rule: the points' extent in the frame rotated to the
    start->end axis, its centre, the longer side times `scale`."""
    (x0, y0), (x1, y1) = points[start, :2].tolist(), points[end, :2].tolist()
    angle = math.atan2(y1 - y0, x1 - x0)
    c, s = math.cos(angle), math.sin(angle)
    # Rows u, v: numpy reduces along a contiguous row several times faster than down a column.
    uv = np.array([[c, s], [-s, c]], points.dtype) @ points[:, :2].T
    (ulo, vlo), (uhi, vhi) = uv.min(1).tolist(), uv.max(1).tolist()
    cu, cv = (ulo + uhi) / 2, (vlo + vhi) / 2
    side = max(uhi - ulo, vhi - vlo) * scale
    return Roi(cu * c - cv * s, cu * s + cv * c, side, angle)


def crop(image: np.ndarray, roi: Roi, side: int, mirror: bool = False) -> np.ndarray:
    """The region resampled to side×side (pixels outside the frame repeat the border).

    mirror: flipped left-right, by the warp itself (no second pass over the pixels).
    """
    m = roi.to_input(side)
    if mirror:
        m[0] = -m[0]
        m[0, 2] += side - 1  # pixel centres: column j <-> side - 1 - j
    source, (x0, y0) = _rows_around(image, roi)
    if x0 or y0:
        m[:, 2] += m[:, 0] * x0 + m[:, 1] * y0
    return cv2.warpAffine(source, m, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _rows_around(image: np.ndarray, roi: Roi) -> tuple[np.ndarray, tuple[int, int]]:
    """The frame's pixels under the region (and a pixel beyond, for the bilinear taps), copied
    row by row, and where they start.

    A new camera frame is not in the cache, and a rotated warp reads it along diagonals, one
    cache miss after another; copying the rows first reads it in order, which the hardware
    prefetches (a 192×192 face region from a 640×480 frame out of memory: 0.33 against 0.48 ms,
    copy included). Where the region reaches past the frame the copy ends at the frame's edge,
    so the border the warp repeats is the frame's own.
    """
    h, w = image.shape[:2]
    reach = roi.size * (abs(math.cos(roi.angle)) + abs(math.sin(roi.angle))) / 2 + 2
    x0, y0 = max(int(roi.cx - reach), 0), max(int(roi.cy - reach), 0)
    x1, y1 = min(int(roi.cx + reach) + 2, w), min(int(roi.cy + reach) + 2, h)
    if x1 <= x0 or y1 <= y0 or (x1 - x0) * (y1 - y0) * 2 > w * h:
        return image, (0, 0)  # off the frame, or most of it: the copy would cost more than it saves
    return np.ascontiguousarray(image[y0:y1, x0:x1]), (x0, y0)
