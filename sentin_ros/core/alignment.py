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

import math
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


# warpAffine samples (with INTER_AREA it falls back to bilinear), and a real face reaches its
# crop 2-6× downscaled, so a sampled crop aliases and flickers as the face moves by fractions of
# a pixel. The crop is warped at k× its resolution and each k×k block averaged (k: the downscale
# rounded up, at most MAX_SUPERSAMPLE). On the shared clips the emotion probabilities' change from
# one frame to the next fell from 0.118 to 0.093 (L1) with k ≤ 2, and to 0.087 with k ≤ 4 (a
# reference, k ≤ 8 and bicubic: 0.089) at three times the cost (benchmarks/crop_aliasing.py).
MAX_SUPERSAMPLE = 2


def warp_crop(image: np.ndarray, m: np.ndarray, size: int, max_supersample: int = MAX_SUPERSAMPLE,
              interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """The size×size crop that the 2×3 affine `m` (image pixels -> crop pixels) cuts from `image`
    (any channel count), averaged over up to max_supersample² samples a pixel when it downscales;
    pixels outside the frame repeat its edge. max_supersample 1: plain sampling."""
    scale = float(np.hypot(m[0, 0], m[1, 0]))
    k = min(max_supersample, math.ceil(1.0 / scale - 1e-6)) if 0 < scale < math.inf else 1  # (NaN: not > 0)
    if k <= 1:
        return cv2.warpAffine(image, m, (size, size), flags=interpolation, borderMode=cv2.BORDER_REPLICATE)
    fine = m * k
    fine[:, 2] += (k - 1) / 2  # the centre of crop pixel i is the mean of fine pixels ik .. ik+k-1
    big = cv2.warpAffine(image, fine, (size * k, size * k), flags=interpolation, borderMode=cv2.BORDER_REPLICATE)
    return cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)


def aligned_crop(gray: np.ndarray, points_px: np.ndarray) -> np.ndarray:
    """48×48 uint8 FER2013-aligned crop from a grayscale frame."""
    return warp_crop(gray, crop_transform(points_px), CROP_SIZE)


def aligned_color_crop(image: np.ndarray, points_px: np.ndarray) -> np.ndarray:
    """64×64×3 uint8 UTKFace-aligned crop of a colour frame (channel order kept). UTKFace's
    64×64 faces were area-downscaled from 200×200, as this crop is from a larger face."""
    return warp_crop(image, crop_transform(points_px, UTK_CROP), COLOR_CROP_SIZE)


def face_roi(points_px: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the mesh landmarks' bounding box (iris points may be NaN), clipped to the image."""
    box = L.mesh_box(points_px)
    x0, y0 = np.floor(box[:2]).astype(int)
    x1, y1 = np.ceil(box[2:]).astype(int)
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(width, x1), min(height, y1)
    return int(x0), int(y0), int(max(0, x1 - x0)), int(max(0, y1 - y0))
