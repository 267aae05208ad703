"""Annotated frames (ROS-free): face boxes, IDs, landmarks, emotion, stress bar, gaze ray and point.

Used by the debug view node (`debug_image`) and by the demo (annotated video, contact sheet).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# MediaPipe FaceMesh with refined iris: 468 = one iris centre, 473 = the other.
IRIS_CENTRES = (468, 473)
STRESS_COLOURS = ((80, 200, 80), (0, 170, 255), (40, 40, 230))  # BGR: LOW, ELEVATED, HIGH
_PALETTE = ((255, 180, 60), (60, 220, 255), (200, 120, 255), (120, 255, 120), (255, 120, 120), (120, 160, 255))


@dataclass
class FaceOverlay:
    face_id: int
    roi: tuple[int, int, int, int]  # x, y, width, height (pixels)
    landmarks: np.ndarray | None = None  # (N, 3), x/y normalized by image width/height
    emotion: str | None = None
    emotion_confidence: float = 0.0
    stress: float | None = None  # [0, 1]
    stress_state: int | None = None  # 0 LOW, 1 ELEVATED, 2 HIGH
    gaze: tuple[float, float] | None = None  # normalized screen point
    gaze_direction: tuple[float, float, float] | None = None  # unit vector, camera optical frame
    on_screen: bool | None = None


def face_colour(face_id: int) -> tuple[int, int, int]:
    return _PALETTE[int(face_id) % len(_PALETTE)]


def _text(img, text, org, colour, scale=0.5, thickness=1):
    x, y = int(org[0]), int(org[1])
    cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)


def _eye_centre(face: FaceOverlay, w: int, h: int) -> tuple[float, float]:
    lm = face.landmarks
    if lm is not None and len(lm) > max(IRIS_CENTRES):
        pts = lm[list(IRIS_CENTRES), :2] * (w, h)
        return float(pts[:, 0].mean()), float(pts[:, 1].mean())
    x, y, bw, bh = face.roi
    return x + bw / 2.0, y + bh * 0.4


def draw_face(img: np.ndarray, face: FaceOverlay, draw_landmarks: bool = True) -> None:
    h, w = img.shape[:2]
    colour = face_colour(face.face_id)
    x, y, bw, bh = (int(v) for v in face.roi)
    cv2.rectangle(img, (x, y), (x + bw, y + bh), colour, 2, cv2.LINE_AA)
    if draw_landmarks and face.landmarks is not None and len(face.landmarks):
        pts = np.round(face.landmarks[:, :2] * (w, h)).astype(np.int32)
        inside = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
        pts = pts[inside]
        img[pts[:, 1], pts[:, 0]] = colour
    label = f"#{face.face_id}"
    if face.emotion is not None:
        label += f" {face.emotion} {face.emotion_confidence:.2f}"
    _text(img, label, (x, max(14, y - 6)), colour)
    if face.stress is not None:  # vertical bar right of the box, filled from the bottom
        level = float(np.clip(face.stress, 0.0, 1.0))
        state = int(face.stress_state) if face.stress_state is not None else min(2, int(level * 3))
        bx0, bx1 = x + bw + 4, x + bw + 12
        cv2.rectangle(img, (bx0, y), (bx1, y + bh), (60, 60, 60), -1)
        cv2.rectangle(img, (bx0, int(y + bh * (1.0 - level))), (bx1, y + bh), STRESS_COLOURS[state], -1)
        cv2.rectangle(img, (bx0, y), (bx1, y + bh), (220, 220, 220), 1)
        _text(img, f"stress {level:.2f}", (x, y + bh + 16), STRESS_COLOURS[state], 0.45)
    if face.gaze_direction is not None:  # the ray's projection on the image plane
        cx, cy = _eye_centre(face, w, h)
        dx, dy, _ = face.gaze_direction
        length = 1.2 * bw
        end = (int(cx + dx * length), int(cy + dy * length))
        cv2.arrowedLine(img, (int(cx), int(cy)), end, (0, 255, 255), 2, cv2.LINE_AA, tipLength=0.15)


def draw_gaze_inset(img: np.ndarray, faces: list[FaceOverlay], size=(120, 72), margin=8) -> None:
    """A miniature screen (top-right) with each face's gaze point; off-screen points are clamped to the border."""
    h, w = img.shape[:2]
    sw, sh = size
    x0, y0 = w - sw - margin, margin
    if x0 < 0 or not any(f.gaze is not None for f in faces):
        return
    roi = img[y0:y0 + sh, x0:x0 + sw]
    roi[:] = (roi * 0.4).astype(np.uint8)
    cv2.rectangle(img, (x0, y0), (x0 + sw, y0 + sh), (220, 220, 220), 1)
    _text(img, "screen", (x0 + 4, y0 + sh + 14), (220, 220, 220), 0.4)
    for f in faces:
        if f.gaze is None:
            continue
        gx = float(np.clip(f.gaze[0], -0.05, 1.05))
        gy = float(np.clip(f.gaze[1], -0.05, 1.05))
        p = (int(x0 + gx * sw), int(y0 + gy * sh))
        cv2.circle(img, p, 5, face_colour(f.face_id), -1 if f.on_screen is not False else 1, cv2.LINE_AA)


def draw_overlay(image_bgr: np.ndarray, faces: list[FaceOverlay], caption: str | None = None, draw_landmarks: bool = True) -> np.ndarray:
    """A copy of `image_bgr` with every face drawn; `caption` goes top-left."""
    img = np.ascontiguousarray(image_bgr).copy()
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    for face in faces:
        draw_face(img, face, draw_landmarks)
    draw_gaze_inset(img, faces)
    if caption:
        _text(img, caption, (8, 20), (255, 255, 255), 0.55)
    return img


def contact_sheet(images: list[np.ndarray], cols: int = 4, tile_width: int = 320, labels: list[str] | None = None) -> np.ndarray:
    """Tiles (resized to `tile_width`, aspect kept) in a grid, with an optional label per tile."""
    if not images:
        raise ValueError("no images for the contact sheet")
    h0, w0 = images[0].shape[:2]
    tw, th = tile_width, max(1, round(tile_width * h0 / w0))
    cols = max(1, min(cols, len(images)))
    rows = (len(images) + cols - 1) // cols
    sheet = np.full((rows * th, cols * tw, 3), 30, np.uint8)
    for i, im in enumerate(images):
        tile = cv2.resize(im if im.ndim == 3 else cv2.cvtColor(im, cv2.COLOR_GRAY2BGR), (tw, th), interpolation=cv2.INTER_AREA)
        if labels is not None and i < len(labels):
            _text(tile, labels[i], (6, th - 8), (255, 255, 255), 0.45)
        r, c = divmod(i, cols)
        sheet[r * th:(r + 1) * th, c * tw:(c + 1) * tw] = tile
    return sheet
