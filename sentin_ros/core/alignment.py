"""The 48×48 grayscale face crop (the emotion model's input) and the face ROI.

The crop is a similarity warp that levels the eyes and puts the eye mid-point and the mouth
where FER2013 has them. The targets were measured by running this FaceMesh over 400 FER2013
Training faces (median eye mid-point (23.96, 18.93), inter-ocular distance 17.37 px, eye-mouth
distance 18.55 px, in 48×48 pixels; eye centre = mean of its two corners), so live crops look
like the faces the model was trained on.
"""
from __future__ import annotations

import cv2
import numpy as np

from . import landmarks as L

CROP_SIZE = 48
EYE_MID = np.array([23.96, 18.93])
INTEROCULAR = 17.37
EYE_TO_MOUTH = 18.55


def eye_centres(points_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(image-left eye, image-right eye) centres = mean of each eye's corners, pixels."""
    right = (points_px[L.RIGHT_EYE_OUTER, :2] + points_px[L.RIGHT_EYE_INNER, :2]) / 2
    left = (points_px[L.LEFT_EYE_OUTER, :2] + points_px[L.LEFT_EYE_INNER, :2]) / 2
    return right, left


def crop_transform(points_px: np.ndarray) -> np.ndarray:
    """2×3 affine from image pixels to crop pixels."""
    right, left = eye_centres(points_px)
    mouth = (points_px[L.MOUTH_RIGHT, :2] + points_px[L.MOUTH_LEFT, :2]) / 2
    eye_mid = (right + left) / 2
    axis = left - right
    angle = np.arctan2(axis[1], axis[0])
    # Average the two scale cues: the inter-ocular distance shrinks with yaw, eye-mouth with pitch.
    scale = 0.5 * (INTEROCULAR / max(np.linalg.norm(axis), 1e-6) + EYE_TO_MOUTH / max(np.linalg.norm(mouth - eye_mid), 1e-6))
    c, s = np.cos(-angle) * scale, np.sin(-angle) * scale
    m = np.array([[c, -s, 0.0], [s, c, 0.0]])
    m[:, 2] = EYE_MID - m[:, :2] @ eye_mid
    return m


def aligned_crop(gray: np.ndarray, points_px: np.ndarray) -> np.ndarray:
    """48×48 uint8 crop from a grayscale frame; border pixels replicate the edge."""
    m = crop_transform(points_px)
    return cv2.warpAffine(gray, m, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def face_roi(points_px: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the mesh landmarks' bounding box (iris points may be NaN), clipped to the image."""
    mesh = points_px[:L.NUM_MESH, :2]
    x0, y0 = np.floor(mesh.min(axis=0)).astype(int)
    x1, y1 = np.ceil(mesh.max(axis=0)).astype(int)
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(width, x1), min(height, y1)
    return int(x0), int(y0), int(max(0, x1 - x0)), int(max(0, y1 - y0))
