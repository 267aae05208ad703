"""BlazeFace face detection on LiteRT: SSD anchors, box/keypoint decoding, weighted NMS.

The models are MediaPipe's (Apache-2.0), shipped inside the `mediapipe` wheel:
`face_detection_short_range.tflite` (128×128 input, faces that fill a good part of the frame)
and `face_detection_full_range_sparse.tflite` (192×192 input, faces down to ~1/20 of the
frame). Anchor and decoding constants are those of MediaPipe's face_detection graphs.
A frame is letterboxed onto the model input (aspect ratio kept, zero border, values in
[-1, 1]); with `tiles`, the full-range model also runs on overlapping square tiles so that
faces too small for one pass over the whole frame are found.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..runtime import LiteModel, ModelOptions


@dataclass(frozen=True)
class DetectorSpec:
    file: str
    input_size: int
    strides: tuple[int, ...]
    anchors_per_cell: int  # per layer: aspect ratio 1 (+ the interpolated scale when 2)
    min_score: float


NEAR = DetectorSpec("face_detection_short_range.tflite", 128, (8, 16, 16, 16), 2, 0.5)
FAR = DetectorSpec("face_detection_full_range_sparse.tflite", 192, (4,), 1, 0.6)
SPECS = {"near": NEAR, "far": FAR}
NMS_IOU = 0.3
NUM_KEYPOINTS = 6  # right eye, left eye (image left, image right), nose tip, mouth, right ear, left ear


@dataclass
class Detection:
    box: np.ndarray  # xmin, ymin, xmax, ymax in pixels of the frame
    keypoints: np.ndarray  # 6×2 pixels
    score: float


def ssd_anchors(spec: DetectorSpec) -> np.ndarray:
    """(N, 2) anchor centres in [0, 1]; with fixed anchor size every anchor is 1×1."""
    centres = []
    i = 0
    strides = spec.strides
    while i < len(strides):
        # Consecutive layers with the same stride share one feature map (MediaPipe's rule).
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        per_cell = (j - i) * spec.anchors_per_cell
        cells = int(np.ceil(spec.input_size / strides[i]))
        ys, xs = np.meshgrid((np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0))
        i = j
    return np.concatenate(centres).astype(np.float32)


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, spec: DetectorSpec):
    """Model outputs -> (boxes (K, 4) and keypoints (K, 6, 2) in [0, 1] input coordinates, scores (K,))."""
    logits = np.clip(raw_scores.reshape(-1), -80.0, 80.0)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = scores >= spec.min_score
    if not keep.any():
        return np.zeros((0, 4), np.float32), np.zeros((0, NUM_KEYPOINTS, 2), np.float32), np.zeros(0, np.float32)
    raw = raw_boxes.reshape(-1, 16)[keep] / spec.input_size
    a = anchors[keep]
    cx, cy = raw[:, 0] + a[:, 0], raw[:, 1] + a[:, 1]
    w, h = raw[:, 2], raw[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kps = raw[:, 4:].reshape(-1, NUM_KEYPOINTS, 2) + a[:, None, :]
    return boxes, kps, scores[keep]


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou: float = NMS_IOU) -> list[Detection]:
    """MediaPipe's WEIGHTED suppression: each cluster becomes the score-weighted mean of its members."""
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    remaining = np.ones(len(scores), bool)
    out = []
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        members = remaining & (box_iou(boxes[i], boxes) >= iou)
        members[i] = True
        remaining &= ~members
        w = scores[members][:, None]
        out.append(
            Detection(
                (boxes[members] * w).sum(0) / w.sum(),
                (keypoints[members] * w[:, :, None]).sum(0) / w.sum(),
                float(scores[i]),
            )
        )
    return out


def merge_detections(dets: list[Detection], iou: float = NMS_IOU) -> list[Detection]:
    """Detections of two models (or passes) of one frame: the higher score wins an overlap."""
    kept: list[Detection] = []
    for det in sorted(dets, key=lambda d: -d.score):
        if not kept or box_iou(det.box, np.array([k.box for k in kept])).max() < iou:
            kept.append(det)
    return kept


def tile_windows(width: int, height: int, tile: int, overlap: float = 0.25) -> list[tuple[int, int, int]]:
    """Square windows (x, y, side) of `tile` pixels covering the frame with the given overlap."""
    def starts(length: int) -> list[int]:
        if length <= tile:
            return [0]
        n = int(np.ceil((length - tile) / (tile * (1 - overlap)))) + 1
        return [round(k * (length - tile) / (n - 1)) for k in range(n)]

    side = min(tile, max(width, height))
    return [(x, y, side) for y in starts(height) for x in starts(width)]


class FaceDetector:
    """One BlazeFace model; `detect(rgb)` -> detections in frame pixels, after NMS.

    tile_size > 0 adds passes over square tiles of that many pixels (full-range model only
    makes sense there: a tile is resized to its input), merged with the whole-frame pass.
    """

    def __init__(self, model_path: str, spec: DetectorSpec, options: ModelOptions, min_score: float | None = None, tile_size: int = 0):
        self.spec = spec if min_score is None else DetectorSpec(spec.file, spec.input_size, spec.strides, spec.anchors_per_cell, min_score)
        size = spec.input_size
        self.runtime = LiteModel(
            model_path, options,
            expected_inputs=[(1, size, size, 3)],
            expected_outputs=[(1, len(ssd_anchors(spec)), 16), (1, len(ssd_anchors(spec)), 1)],
        )
        self.anchors = ssd_anchors(spec)
        self._in = self.runtime.inputs[0].index
        self._boxes = self.runtime.output_by_shape((1, len(self.anchors), 16)).index
        self._scores = self.runtime.output_by_shape((1, len(self.anchors), 1)).index
        self.tile_size = int(tile_size)
        self._windows: tuple[tuple[int, int], list[tuple[int, int, int, int]]] = ((0, 0), [])
        self.runtime.warm_up(1)

    def _run(self, rgb: np.ndarray, x0: int, y0: int, w: int, h: int):
        """Detect in the window (x0, y0, w, h) of the frame; returns frame-pixel boxes, keypoints, scores."""
        size = self.spec.input_size
        scale = size / max(w, h)
        # Letterbox: the window keeps its aspect ratio and sits centred on a zero (-1 after
        # normalisation) square, as MediaPipe's ImageToTensor with keep_aspect_ratio does.
        m = np.array([[scale, 0, (size - w * scale) / 2 - x0 * scale], [0, scale, (size - h * scale) / 2 - y0 * scale]], np.float32)
        tensor = cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        out = self.runtime.run_pixels({self._in: tensor}, 2.0 / 255.0, -1.0)
        boxes, kps, scores = decode(out[self._boxes], out[self._scores], self.anchors, self.spec)
        inv_scale = 1.0 / scale
        off = np.array([m[0, 2], m[1, 2]], np.float32)
        boxes = (boxes * size - np.tile(off, 2)) * inv_scale
        kps = (kps * size - off) * inv_scale
        return boxes, kps, scores

    def windows(self, width: int, height: int) -> list[tuple[int, int, int, int]]:
        """The whole frame, then the tiles; a copy of the list kept for the frame size."""
        size, wins = self._windows  # one tuple: a background pass may read it meanwhile
        if size != (width, height):
            wins = [(0, 0, width, height)]
            if self.tile_size > 0 and max(width, height) > self.tile_size * 1.25:
                wins += [(x, y, s, s) for x, y, s in tile_windows(width, height, self.tile_size)]
            self._windows = ((width, height), wins)
        return list(wins)

    def detect(self, rgb: np.ndarray, windows: list[tuple[int, int, int, int]] | None = None) -> list[Detection]:
        """Detections in the given windows (x, y, w, h) of the frame, default all; merged by NMS."""
        h, w = rgb.shape[:2]
        parts = [self._run(rgb, *win) for win in (windows or self.windows(w, h))]
        boxes = np.concatenate([p[0] for p in parts])
        kps = np.concatenate([p[1] for p in parts])
        scores = np.concatenate([p[2] for p in parts])
        if len(scores) == 0:
            return []
        return weighted_nms(boxes, kps, scores)

    def close(self) -> None:
        self.runtime.close()
