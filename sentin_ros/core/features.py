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
from .alignment import eye_centres

GEOMETRY_NAMES = (
    "ear_left", "ear_right", "blink", "brow_lowering", "brow_knit", "lip_corner_pull",
    "mouth_open", "mouth_width", "lip_press", "head_motion", "head_yaw_norm", "head_pitch_norm",
)
EYE_NAMES = (
    "iris_x_left", "iris_y_left", "iris_x_right", "iris_y_right", "open_left", "open_right",
    "iris_radius", "face_scale", "eye_cx", "eye_cy",
)
BLINK_EAR = 0.18  # mean EAR below this counts as a blink (closed eyes)


def _face_axes(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Unit vectors along the eye line (toward the image right) and down the face; inter-ocular distance."""
    right, left = eye_centres(p)
    u = left - right
    iod = float(np.linalg.norm(u))
    u = u / max(iod, 1e-6)
    v = np.array([-u[1], u[0]])  # u rotated +90° in image coordinates: points down the face
    return u, v, max(iod, 1e-6)


def eye_aspect_ratio(p: np.ndarray, idx: tuple[int, ...]) -> float:
    """EAR = (|p2-p6| + |p3-p5|) / (2 |p1-p4|)  (Soukupova & Cech 2016)."""
    p1, p2, p3, p4, p5, p6 = (p[i, :2] for i in idx)
    return float((np.linalg.norm(p2 - p6) + np.linalg.norm(p3 - p5)) / (2 * max(np.linalg.norm(p1 - p4), 1e-6)))


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
    u, v, iod = _face_axes(p)
    right_eye, left_eye = eye_centres(p)
    eye_line = (right_eye + left_eye) / 2
    ear_l = eye_aspect_ratio(p, L.LEFT_EYE_EAR)
    ear_r = eye_aspect_ratio(p, L.RIGHT_EYE_EAR)
    brow_height = np.mean([(eye_line - p[i, :2]) @ v for i in (L.RIGHT_BROW_INNER, L.LEFT_BROW_INNER)])
    brow_gap = np.linalg.norm(p[L.LEFT_BROW_INNER, :2] - p[L.RIGHT_BROW_INNER, :2])
    corners = (p[L.MOUTH_RIGHT, :2] + p[L.MOUTH_LEFT, :2]) / 2
    lip_centre = (p[L.LIP_INNER_UPPER, :2] + p[L.LIP_INNER_LOWER, :2]) / 2
    mouth_w = max(float(np.linalg.norm(p[L.MOUTH_LEFT, :2] - p[L.MOUTH_RIGHT, :2])), 1e-6)
    return np.array(
        [
            ear_l,
            ear_r,
            1.0 if (ear_l + ear_r) / 2 < BLINK_EAR else 0.0,
            -brow_height / iod,
            -brow_gap / iod,
            ((lip_centre - corners) @ v) / iod,
            abs((p[L.LIP_INNER_LOWER, :2] - p[L.LIP_INNER_UPPER, :2]) @ v) / mouth_w,
            mouth_w / iod,
            abs((p[L.LIP_OUTER_LOWER, :2] - p[L.LIP_OUTER_UPPER, :2]) @ v) / mouth_w,
            head_motion_dps,
            yaw / 90.0,
            pitch / 90.0,
        ],
        dtype=np.float32,
    )


def _eye(p: np.ndarray, img_left_corner: int, img_right_corner: int, upper: int, lower: int, iris: tuple[int, ...]):
    a, b = p[img_left_corner, :2], p[img_right_corner, :2]
    width = max(float(np.linalg.norm(b - a)), 1e-6)
    ex = (b - a) / width
    ey = np.array([-ex[1], ex[0]])
    centre = p[iris[0], :2]
    lid_mid = (p[upper, :2] + p[lower, :2]) / 2
    x = ((centre - (a + b) / 2) @ ex) / (width / 2)
    y = ((centre - lid_mid) @ ey) / width
    opening = abs((p[lower, :2] - p[upper, :2]) @ ey) / width
    radius = np.mean([np.linalg.norm(p[i, :2] - centre) for i in iris[1:]]) / width
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
    xl, yl, ol, rl = _eye(p, L.LEFT_EYE_INNER, L.LEFT_EYE_OUTER, L.LEFT_EYE_UPPER_LID, L.LEFT_EYE_LOWER_LID, L.LEFT_IRIS)
    xr, yr, orr, rr = _eye(p, L.RIGHT_EYE_OUTER, L.RIGHT_EYE_INNER, L.RIGHT_EYE_UPPER_LID, L.RIGHT_EYE_LOWER_LID, L.RIGHT_IRIS)
    right_eye, left_eye = eye_centres(p)
    mid = (right_eye + left_eye) / 2
    return np.array(
        [
            xl, yl, xr, yr, ol, orr,
            (rl + rr) / 2,
            np.linalg.norm(left_eye - right_eye) / max(width, 1),
            2 * mid[0] / max(width, 1) - 1,
            2 * mid[1] / max(height, 1) - 1,
        ],
        dtype=np.float32,
    )
