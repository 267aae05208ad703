"""Per-frame geometry metrics (stress model) and eye/iris features (gaze model).

All distances are in image pixels and divided by a length of the same face, so the values do
not depend on image size or distance. "Vertical" means along the face's own up-down axis
(perpendicular to the line through the eye centres), so in-plane head roll cancels out.
The gaze training-data generator (training/gaze) calls `eye_features` on synthetic landmarks:
the model sees the same numbers at run time and in training.
"""
from __future__ import annotations

import numpy as np

from . import landmarks as L

GEOMETRY_NAMES = (
    "ear_left", "ear_right", "blink", "brow_lowering", "brow_knit", "lip_corner_pull",
    "mouth_open", "mouth_width", "lip_press", "head_motion", "head_yaw_norm", "head_pitch_norm",
)
EYE_NAMES = (
    "iris_x_left", "iris_y_left", "iris_x_right", "iris_y_right", "open_left", "open_right",
    "iris_radius", "face_scale", "eye_cx", "eye_cy",
)
BLINK_EAR = 0.18  # mean EAR below this counts as a blink (closed eyes)


# Points are complex numbers x + iy: |a - b| is a distance and 1j * u turns u by +90° in image
# coordinates (down the face for the eye line). A face's dozen points as Python scalars cost a
# fraction of the per-point numpy calls they replace, and these run for every face and frame.
def _points(p: np.ndarray, idx) -> dict[int, complex]:
    idx = list(dict.fromkeys(idx))
    q = p[idx, :2].astype(np.float64)
    return dict(zip(idx, (q[:, 0] + 1j * q[:, 1]).tolist()))


def _dot(a: complex, b: complex) -> float:
    return a.real * b.real + a.imag * b.imag


def _eye_centres(z: dict[int, complex]) -> tuple[complex, complex]:
    """(image-left eye, image-right eye) centres, as alignment.eye_centres."""
    return (z[L.RIGHT_EYE_OUTER] + z[L.RIGHT_EYE_INNER]) / 2, (z[L.LEFT_EYE_OUTER] + z[L.LEFT_EYE_INNER]) / 2


_EYE_CORNERS = (L.RIGHT_EYE_OUTER, L.RIGHT_EYE_INNER, L.LEFT_EYE_OUTER, L.LEFT_EYE_INNER)
_GEOMETRY_POINTS = (*_EYE_CORNERS, *L.LEFT_EYE_EAR, *L.RIGHT_EYE_EAR, L.RIGHT_BROW_INNER, L.LEFT_BROW_INNER,
                    L.MOUTH_RIGHT, L.MOUTH_LEFT, L.LIP_INNER_UPPER, L.LIP_INNER_LOWER, L.LIP_OUTER_UPPER, L.LIP_OUTER_LOWER)
_EYE_POINTS = (*_EYE_CORNERS, L.LEFT_EYE_UPPER_LID, L.LEFT_EYE_LOWER_LID, L.RIGHT_EYE_UPPER_LID,
               L.RIGHT_EYE_LOWER_LID, *L.LEFT_IRIS, *L.RIGHT_IRIS)


def eye_aspect_ratio(z: dict[int, complex], idx: tuple[int, ...]) -> float:
    """EAR = (|p2-p6| + |p3-p5|) / (2 |p1-p4|)  (Soukupova & Cech 2016)."""
    p1, p2, p3, p4, p5, p6 = (z[i] for i in idx)
    return (abs(p2 - p6) + abs(p3 - p5)) / (2 * max(abs(p1 - p4), 1e-6))


def geometry_metrics(p: np.ndarray, yaw: float, pitch: float, head_motion_dps: float) -> np.ndarray:
    """The 12 geometry metrics (order: GEOMETRY_NAMES) from 478 landmark pixel coordinates.

    ear_left/right   eye aspect ratio (about 0.25-0.35 open, below 0.15 closed)
    blink            1.0 if the mean EAR < BLINK_EAR else 0.0
    brow_lowering    AU4 proxy: -(vertical distance from inner-brow ends to the eye line) / IOD;
                     higher (less negative) = brows lowered
    brow_knit        AU4 proxy: -(distance between the inner-brow ends) / IOD; higher = pulled together
    lip_corner_pull  AU12 proxy: (vertical position of the lip centre - that of the mouth corners) / IOD;
                     > 0 when the corners are raised (smile), < 0 when pulled down
    mouth_open       inner-lip gap / mouth width
    mouth_width      mouth-corner distance / IOD
    lip_press        outer-lip height / mouth width (lower = lips pressed together)
    head_motion      head rotation speed, degrees per second (0 on a track's first frame)
    head_yaw_norm    yaw / 90;  head_pitch_norm  pitch / 90
    """
    z = _points(p, _GEOMETRY_POINTS)
    right_eye, left_eye = _eye_centres(z)
    iod = max(abs(left_eye - right_eye), 1e-6)
    v = 1j * (left_eye - right_eye) / iod  # down the face
    eye_line = (right_eye + left_eye) / 2
    ear_l = eye_aspect_ratio(z, L.LEFT_EYE_EAR)
    ear_r = eye_aspect_ratio(z, L.RIGHT_EYE_EAR)
    brow_height = (_dot(eye_line - z[L.RIGHT_BROW_INNER], v) + _dot(eye_line - z[L.LEFT_BROW_INNER], v)) / 2
    brow_gap = abs(z[L.LEFT_BROW_INNER] - z[L.RIGHT_BROW_INNER])
    corners = (z[L.MOUTH_RIGHT] + z[L.MOUTH_LEFT]) / 2
    lip_centre = (z[L.LIP_INNER_UPPER] + z[L.LIP_INNER_LOWER]) / 2
    mouth_w = max(abs(z[L.MOUTH_LEFT] - z[L.MOUTH_RIGHT]), 1e-6)
    return np.array(
        [
            ear_l,
            ear_r,
            1.0 if (ear_l + ear_r) / 2 < BLINK_EAR else 0.0,
            -brow_height / iod,
            -brow_gap / iod,
            _dot(lip_centre - corners, v) / iod,
            abs(_dot(z[L.LIP_INNER_LOWER] - z[L.LIP_INNER_UPPER], v)) / mouth_w,
            mouth_w / iod,
            abs(_dot(z[L.LIP_OUTER_LOWER] - z[L.LIP_OUTER_UPPER], v)) / mouth_w,
            head_motion_dps,
            yaw / 90.0,
            pitch / 90.0,
        ],
        dtype=np.float32,
    )


def _eye(z: dict[int, complex], img_left_corner: int, img_right_corner: int, upper: int, lower: int, iris: tuple[int, ...]):
    a, b = z[img_left_corner], z[img_right_corner]
    width = max(abs(b - a), 1e-6)
    ey = 1j * (b - a) / width
    centre = z[iris[0]]
    x = _dot(centre - (a + b) / 2, (b - a) / width) / (width / 2)
    y = _dot(centre - (z[upper] + z[lower]) / 2, ey) / width
    opening = abs(_dot(z[lower] - z[upper], ey)) / width
    radius = sum(abs(z[i] - centre) for i in iris[1:]) / (len(iris) - 1) / width
    return x, y, opening, radius


def eye_features(p: np.ndarray, width: int, height: int) -> np.ndarray:
    """The 10 eye/iris features (order: EYE_NAMES) from 478 landmark pixel coordinates.

    iris_x_*   iris centre along the eye's corner-to-corner axis, relative to the corners' mid-point,
               / half the eye width: -1 at the image-left corner, +1 at the image-right corner
    iris_y_*   iris centre across that axis relative to the mid-point of the upper and lower lid,
               / eye width; > 0 = below (toward the image's bottom for an upright face)
    open_*     lid opening (upper to lower lid, across the axis) / eye width
    iris_radius  mean iris radius (centre to its 4 contour points) / eye width, both eyes
    face_scale   inter-ocular distance / image width (grows as the face comes closer)
    eye_cx, eye_cy  eye mid-point in the image, mapped to [-1, 1] (0 = image centre)
    "left"/"right" are the subject's eyes (the left eye appears on the image's right).
    """
    z = _points(p, _EYE_POINTS)
    xl, yl, ol, rl = _eye(z, L.LEFT_EYE_INNER, L.LEFT_EYE_OUTER, L.LEFT_EYE_UPPER_LID, L.LEFT_EYE_LOWER_LID, L.LEFT_IRIS)
    xr, yr, orr, rr = _eye(z, L.RIGHT_EYE_OUTER, L.RIGHT_EYE_INNER, L.RIGHT_EYE_UPPER_LID, L.RIGHT_EYE_LOWER_LID, L.RIGHT_IRIS)
    right_eye, left_eye = _eye_centres(z)
    mid = (right_eye + left_eye) / 2
    return np.array(
        [
            xl, yl, xr, yr, ol, orr,
            (rl + rr) / 2,
            abs(left_eye - right_eye) / max(width, 1),
            2 * mid.real / max(width, 1) - 1,
            2 * mid.imag / max(height, 1) - 1,
        ],
        dtype=np.float32,
    )
