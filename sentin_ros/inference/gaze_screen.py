"""Screen geometry for gaze: normalized screen points <-> the camera optical frame.

The camera sits near the top centre of the screen, its optical axis perpendicular to the screen
and pointing at the user, so the screen lies in the camera's z = 0 plane. The optical frame is
x toward the image's right (the user's LEFT, since the user faces the camera), y down, z toward
the user, in millimetres here (metres where a name says so).

Normalized screen point: (0, 0) = the top-left corner of the screen AS THE USER SEES IT,
(1, 1) = the bottom-right one; values outside [0, 1] are off the screen.

Camera offset: where the camera's optical centre is relative to the middle of the screen's top
edge, in the screen plane, as the user sees it: `camera_offset_x_mm` > 0 = to the user's right,
`camera_offset_y_mm` > 0 = above the top edge (a webcam on a bezel: about 5-15 mm).

The gaze model predicts a point in the camera plane; it expresses it as a normalized point on
REFERENCE_SCREEN (a 24-inch 16:9 monitor). `convert` maps it to any other screen, exactly,
because every screen with the camera at its top lies in the same plane.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Eye mid-point (between the two eyeball centres) in the head frame of sentin_ros.core.head_pose
# (origin at the nose tip, mm): the mean of the four eye corners of MODEL_POINTS_MM, 5 mm deeper.
EYE_MID_HEAD_MM = np.array([0.075, -41.05, 41.75])


@dataclass(frozen=True)
class ScreenGeometry:
    width_mm: float = 530.0
    height_mm: float = 300.0
    camera_offset_x_mm: float = 0.0
    camera_offset_y_mm: float = 10.0

    def __post_init__(self):
        if not (self.width_mm > 0 and self.height_mm > 0):
            raise ValueError(f"screen size must be positive, got {self.width_mm} x {self.height_mm} mm")

    def to_camera_mm(self, xy) -> np.ndarray:
        """Normalized screen point(s) (..., 2) -> points (..., 3) in the optical frame, mm (z = 0)."""
        xy = np.asarray(xy, dtype=np.float64)
        x_cam = self.width_mm / 2 + self.camera_offset_x_mm - xy[..., 0] * self.width_mm
        y_cam = xy[..., 1] * self.height_mm + self.camera_offset_y_mm  # the top edge lies offset_y below the camera
        return np.stack([x_cam, y_cam, np.zeros_like(x_cam)], axis=-1)

    def from_camera_mm(self, p) -> np.ndarray:
        """Points (..., >=2) in the camera plane, optical frame mm -> normalized screen points (..., 2)."""
        p = np.asarray(p, dtype=np.float64)
        x = (self.width_mm / 2 + self.camera_offset_x_mm - p[..., 0]) / self.width_mm
        y = (p[..., 1] - self.camera_offset_y_mm) / self.height_mm
        return np.stack([x, y], axis=-1)

    def on_screen(self, x: float, y: float, margin: float = 0.0) -> bool:
        """True when the normalized point lies on the screen (margin: normalized, > 0 widens it)."""
        return bool(-margin <= x <= 1.0 + margin and -margin <= y <= 1.0 + margin)


REFERENCE_SCREEN = ScreenGeometry(530.0, 300.0, 0.0, 10.0)


def convert(xy, source: ScreenGeometry, target: ScreenGeometry) -> np.ndarray:
    """Normalized point(s) on `source` -> the same physical point(s) normalized on `target`."""
    return target.from_camera_mm(source.to_camera_mm(xy))


def eye_position_m(head_position_m, rotation: np.ndarray | None) -> np.ndarray:
    """Eye mid-point in the optical frame, metres, from the face core's head pose.

    head_position_m: nose tip (HeadPose.translation_m); rotation: head frame -> optical frame
    (HeadPose.rotation, or head_pose.rotation_from_angles(yaw, pitch, roll)); None = identity.
    """
    r = np.eye(3) if rotation is None else np.asarray(rotation, dtype=np.float64)
    return np.asarray(head_position_m, dtype=np.float64) + r @ EYE_MID_HEAD_MM / 1000.0


def gaze_direction(eye_m, xy, screen: ScreenGeometry) -> np.ndarray:
    """Unit vector in the optical frame from the eye position (metres) to the normalized screen point."""
    target = screen.to_camera_mm(xy) / 1000.0
    d = target - np.asarray(eye_m, dtype=np.float64)
    n = float(np.linalg.norm(d))
    if n < 1e-9:
        return np.array([0.0, 0.0, -1.0])
    return d / n


def angle_deg(a, b) -> np.ndarray:
    """Angle between vectors (..., 3), degrees."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    cos = np.sum(a * b, axis=-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
