"""The aligned face crops (the models' inputs) and the face ROI.

Each crop is a similarity warp that levels the eyes and puts the eye mid-point and the mouth
where the model's training faces have them (`CropSpec`); the targets were measured by running
this FaceMesh over the training images (eye centre = mean of its two corners):

* FER_CROP, 48×48 grayscale (emotion): 400 FER2013 Training faces, median eye mid-point
  (23.96, 18.93), inter-ocular distance 17.37 px, eye-mouth distance 18.55 px.
* UTK_CROP, 64×64 colour (soft biometrics): 590 of 600 UTKFace "Aligned & Cropped" faces of
  our training split (utkface64.npz, upscaled 4× and padded by replication so the detector
  sees the whole head; 10 not found), median eye mid-point (31.54, 19.15), inter-ocular
  distance 24.83 px, eye-mouth distance 25.02 px (interquartile ranges 31.10-31.93,
  18.70-19.59, 23.76-25.74, 24.13-25.99; roll -0.7..1.4°), so live crops look like the
  faces the model was trained on.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from . import landmarks as L


@dataclass(frozen=True)
class CropSpec:
    size: int  # side, pixels
    eye_mid: tuple[float, float]  # where the eye mid-point goes, crop pixels
    interocular: float  # eye-centre distance, crop pixels
    eye_to_mouth: float  # eye mid-point to mouth-centre distance, crop pixels


FER_CROP = CropSpec(48, (23.96, 18.93), 17.37, 18.55)
UTK_CROP = CropSpec(64, (31.54, 19.15), 24.83, 25.02)
CROP_SIZE = FER_CROP.size
COLOR_CROP_SIZE = UTK_CROP.size


def eye_centres(points_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(image-left eye, image-right eye) centres = mean of each eye's corners, pixels."""
    right = (points_px[L.RIGHT_EYE_OUTER, :2] + points_px[L.RIGHT_EYE_INNER, :2]) / 2
    left = (points_px[L.LEFT_EYE_OUTER, :2] + points_px[L.LEFT_EYE_INNER, :2]) / 2
    return right, left


def crop_transform(points_px: np.ndarray, spec: CropSpec = FER_CROP) -> np.ndarray:
    """2×3 affine from image pixels to crop pixels."""
    right, left = eye_centres(points_px)
    mouth = (points_px[L.MOUTH_RIGHT, :2] + points_px[L.MOUTH_LEFT, :2]) / 2
    eye_mid = (right + left) / 2
    axis = left - right
    angle = np.arctan2(axis[1], axis[0])
    # Average the two scale cues: the inter-ocular distance shrinks with yaw, eye-mouth with pitch.
    scale = 0.5 * (spec.interocular / max(np.linalg.norm(axis), 1e-6) + spec.eye_to_mouth / max(np.linalg.norm(mouth - eye_mid), 1e-6))
    c, s = np.cos(-angle) * scale, np.sin(-angle) * scale
    m = np.array([[c, -s, 0.0], [s, c, 0.0]])
    m[:, 2] = np.asarray(spec.eye_mid) - m[:, :2] @ eye_mid
    return m


def aligned_crop(gray: np.ndarray, points_px: np.ndarray) -> np.ndarray:
    """48×48 uint8 crop from a grayscale frame; border pixels replicate the edge."""
    m = crop_transform(points_px)
    return cv2.warpAffine(gray, m, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def aligned_color_crop(image: np.ndarray, points_px: np.ndarray) -> np.ndarray:
    """64×64×3 uint8 UTKFace-aligned crop of a colour frame (channel order kept); edges replicated.

    UTKFace's 64×64 faces were area-downscaled from 200×200, and warpAffine interpolates
    without averaging, so a face more than ~1.3× the crop's size is first area-resized to the
    crop's scale (only the region the crop covers), then rotated into place."""
    m = crop_transform(points_px, UTK_CROP)
    scale = float(np.hypot(m[0, 0], m[1, 0]))
    size = (COLOR_CROP_SIZE, COLOR_CROP_SIZE)
    if scale >= 0.75:
        return cv2.warpAffine(image, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    h, w = image.shape[:2]
    inv = cv2.invertAffineTransform(m)
    corners = inv @ np.array([[0, 0, 1], [size[0], 0, 1], [0, size[1], 1], [size[0], size[1], 1]], np.float64).T
    x0, y0 = np.maximum(np.floor(corners.min(axis=1)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(corners.max(axis=1)).astype(int) + 2, (w, h))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return cv2.warpAffine(image, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    region = image[y0:y1, x0:x1]
    small = cv2.resize(region, (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))), interpolation=cv2.INTER_AREA)
    fx, fy = small.shape[1] / (x1 - x0), small.shape[0] / (y1 - y0)
    # small = S (image - (x0, y0)); crop = m image = m S^-1 small + m (x0, y0)
    s_inv = np.array([[1 / fx, 0, x0], [0, 1 / fy, y0], [0, 0, 1]])
    m_small = np.vstack([m, [0, 0, 1]]) @ s_inv
    return cv2.warpAffine(small, m_small[:2], size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def face_roi(points_px: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the mesh landmarks' bounding box (iris points may be NaN), clipped to the image."""
    box = L.mesh_box(points_px)
    x0, y0 = np.floor(box[:2]).astype(int)
    x1, y1 = np.ceil(box[2:]).astype(int)
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(width, x1), min(height, y1)
    return int(x0), int(y0), int(max(0, x1 - x0)), int(max(0, y1 - y0))
