"""Head pose from landmarks: solvePnP against a mean 3D face in MediaPipe's own topology.

The model points are the median shape (Procrustes-aligned, MediaPipe x/y/z) of 1,485 FER2013
Training faces run through this FaceMesh, expressed in the camera optical frame of a face
looking straight into the camera (x toward the image's right, y down, z away from the camera),
origin at the nose tip, scaled to a 63 mm inter-ocular distance (adult mean). Averaging many
roughly frontal faces gives a model whose zero pose is "facing the camera".

Angles, degrees, relative to a face looking straight into the camera:
  yaw   > 0: the face turns toward the image's right edge (the subject's left)
  pitch > 0: the face tilts up (chin forward)
  roll  > 0: the face rotates clockwise as seen in the image
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..media.camera import default_camera_matrix

MODEL_LANDMARKS = (1, 4, 6, 168, 10, 152, 33, 133, 263, 362, 61, 291, 0, 17, 98, 327, 105, 334)
MODEL_POINTS_MM = np.array(
    [
        (0.0, 0.0, 0.0), (0.0, -6.2, -2.3), (0.0, -35.9, 14.1), (0.0, -44.3, 18.0), (0.0, -91.1, 19.6),
        (0.1, 66.5, 43.2), (-44.7, -42.0, 39.5), (-18.1, -40.1, 34.0), (45.1, -42.0, 39.5), (18.0, -40.1, 34.0),
        (-24.9, 26.9, 36.7), (25.0, 26.9, 36.8), (0.1, 19.2, 17.1), (0.2, 39.7, 24.7), (-17.3, 2.2, 23.2),
        (17.4, 2.2, 23.3), (-40.9, -64.4, 24.7), (41.3, -64.6, 24.7),
    ],
    dtype=np.float64,
)


@dataclass
class HeadPose:
    yaw: float
    pitch: float
    roll: float
    translation_m: tuple[float, float, float]  # nose tip in the camera optical frame, metres
    rotation: np.ndarray  # 3x3, head frame -> optical frame (identity = facing the camera)


def angles_from_rotation(r_rel: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from a head rotation in the optical frame.

    Decomposes r_rel = Ry(a) Rx(b) Rz(c) about the optical axes (x right, y down, z forward).
    The face's forward vector (0, 0, -1) becomes (-sin a, 0, -cos a) under Ry(a): a > 0 turns it
    toward the image's left, so yaw = -a. Under Rx(b) it becomes (0, sin b, -cos b), which points
    down for b > 0, so pitch = -b. Rz(c) turns x toward +y (down): clockwise in the image, roll = c.
    """
    a = np.arctan2(r_rel[0, 2], r_rel[2, 2])
    b = np.arcsin(np.clip(-r_rel[1, 2], -1.0, 1.0))
    c = np.arctan2(r_rel[1, 0], r_rel[1, 1])
    return float(-np.degrees(a)), float(-np.degrees(b)), float(np.degrees(c))


def rotation_from_angles(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Inverse of angles_from_rotation (used by tests and the gaze data generator)."""
    a, b, c = np.radians([-yaw, -pitch, roll])
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return ry @ rx @ rz


class HeadPoseEstimator:
    def __init__(self, camera_matrix: np.ndarray | None = None, dist_coeffs: np.ndarray | None = None):
        self.camera_matrix = camera_matrix
        self.dist_coeffs = dist_coeffs if dist_coeffs is not None else np.zeros(5)

    def estimate(self, points_px: np.ndarray, width: int, height: int, previous: HeadPose | None = None) -> HeadPose | None:
        """points_px: 478×2 (or ×3) landmark pixel coordinates.

        previous: the same face's pose one frame earlier. The iterative solve then starts from
        it instead of from EPnP: from EPnP it takes ~0.3 ms to converge, from last frame's
        pose a tenth of that, to the same minimum."""
        k = self.camera_matrix if self.camera_matrix is not None else default_camera_matrix(width, height)
        image_points = points_px[list(MODEL_LANDMARKS), :2].astype(np.float64)
        model = MODEL_POINTS_MM
        if previous is not None:
            rvec, _ = cv2.Rodrigues(previous.rotation)
            tvec = np.array(previous.translation_m, np.float64).reshape(3, 1) * 1000.0
        else:
            ok, rvec, tvec = cv2.solvePnP(model, image_points, k, self.dist_coeffs, flags=cv2.SOLVEPNP_EPNP)
            if not ok:
                return None
        ok, rvec, tvec = cv2.solvePnP(
            model, image_points, k, self.dist_coeffs, rvec, tvec, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE
        )
        if not ok or tvec[2, 0] <= 0:
            return None if previous is None else self.estimate(points_px, width, height)
        r, _ = cv2.Rodrigues(rvec)
        yaw, pitch, roll = angles_from_rotation(r)
        t = tuple(float(v) / 1000.0 for v in tvec.ravel())
        return HeadPose(yaw, pitch, roll, t, r)
