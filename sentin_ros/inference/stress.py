"""Stress (visible facial strain) inference: the TCN model and the per-face window tracker. ROS-free.

The model (models/affective_tcn_int8.tflite, card: models/affective_tcn_int8.md) reads the last 15
frames of one face, each frame = the emotion model's 256-d embedding + the 12 geometry metrics
(`sentin_ros.core.features.GEOMETRY_NAMES` order), and returns a level in [0, 1]: a learned index of
visible facial strain over ~0.5-1 s. It is NOT a physiological or medical measure and was not
validated against real stress labels.

Input preparation (`prepare_window`, used identically by training and at run time):
  * embedding [0:256]   multiplied by EMBEDDING_SCALE (the emotion model's embedding spans ~0-1.1,
                        the standardised geometry ~-4..+6: one int8 input scale has to fit both);
                        its per-dimension standardisation is folded into the model's first layer;
  * geometry [256:268]  head_motion -> log1p(head_motion in deg/s), then every metric is
                        standardised with the fixed GEOMETRY_MEAN / GEOMETRY_STD below and clipped
                        to +-GEOMETRY_CLIP. Done here, not in the model, because the model's int8
                        input has one scale for all 268 features: raw head_motion (tens of deg/s)
                        next to brow ratios (~0.01 changes) would leave the brows no resolution.

Short histories (`StressTracker`): a face needs `min_frames` frames before the first estimate;
until it has `window` frames the window is left-padded by repeating its oldest frame (the model was
trained with such padded windows), and `confidence` is scaled by the filled fraction.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from ..runtime import LiteModel, ModelError, ModelOptions, require_finite
from .windows import FaceWindows

WINDOW = 15
EMBED_DIM = 256
GEOMETRY_DIM = 12
FEATURES = EMBED_DIM + GEOMETRY_DIM
HEAD_MOTION_INDEX = 9  # GEOMETRY_NAMES.index("head_motion")

# Fixed geometry standardisation (GEOMETRY_NAMES order; head_motion after log1p): the typical values
# on the generator's sequences, which are grounded in FER2013 / clip measurements
# (training/stress/geometry_stats.json); train.py logs how well they still fit the generated data.
GEOMETRY_MEAN = (0.27, 0.27, 0.16, -0.19, -0.41, 0.02, 0.12, 0.81, 0.36, 2.5, 0.0, 0.02)
GEOMETRY_STD = (0.09, 0.09, 0.37, 0.045, 0.02, 0.05, 0.09, 0.09, 0.09, 0.77, 0.09, 0.065)
GEOMETRY_CLIP = 6.0
EMBEDDING_SCALE = 4.0

LOW, ELEVATED, HIGH = 0, 1, 2
STATE_NAMES = ("low", "elevated", "high")  # by state value (Stress.msg LOW / ELEVATED / HIGH)


def prepare_window(x: np.ndarray) -> np.ndarray:
    """(..., T, 268) raw features -> the model's float input (same shape, float32)."""
    x = np.asarray(x, dtype=np.float32)
    if x.shape[-1] != FEATURES:
        raise ValueError(f"expected {FEATURES} features per frame, got {x.shape[-1]}")
    out = x.copy()
    out[..., :EMBED_DIM] *= EMBEDDING_SCALE
    g = out[..., EMBED_DIM:]
    g[..., HEAD_MOTION_INDEX] = np.log1p(np.maximum(g[..., HEAD_MOTION_INDEX], 0.0))
    g -= np.asarray(GEOMETRY_MEAN, np.float32)
    g /= np.asarray(GEOMETRY_STD, np.float32)
    np.clip(g, -GEOMETRY_CLIP, GEOMETRY_CLIP, out=g)
    return out


class StressModel:
    """models/affective_tcn_int8.tflite on the shared LiteRT runtime (input 1x15x268, output 1x1)."""

    def __init__(self, path: str, options: ModelOptions | None = None):
        self.runtime = LiteModel(path, options, expected_inputs=[(1, WINDOW, FEATURES)], expected_outputs=[(1, 1)])
        self._in = self.runtime.inputs[0].index
        self._out = self.runtime.outputs[0].index
        self.runtime.warm_up()

    def predict(self, window: np.ndarray) -> float:
        """(15, 268) raw features (oldest first) -> level in [0, 1]."""
        window = np.asarray(window, np.float32)
        if window.shape != (WINDOW, FEATURES):
            raise ValueError(f"window must be ({WINDOW}, {FEATURES}), got {window.shape}")
        out = self.runtime.run({self._in: prepare_window(window)[None]})
        return float(np.clip(out[self._out].reshape(()), 0.0, 1.0))

    def predict_batch(self, windows: np.ndarray) -> np.ndarray:
        """(N, 15, 268) -> (N,) levels (one invoke per window; for evaluation)."""
        return np.array([self.predict(w) for w in np.asarray(windows, np.float32)], np.float32)

    def describe(self) -> str:
        return self.runtime.describe()

    def close(self) -> None:
        self.runtime.close()


@dataclass
class StressEstimate:
    face_id: int
    stamp: float  # seconds, of the newest frame
    level: float  # [0, 1]
    confidence: float  # [0, 1]: filled fraction of the window × mean emotion confidence (1 if not given)
    state: int  # LOW / ELEVATED / HIGH
    window_frames: int  # real frames behind the estimate (<= window; the rest is padding)
    window_seconds: float  # oldest to newest real frame


class StressTracker:
    """Per-face sliding windows over (embedding, geometry) frames -> StressEstimate.

    push() returns None until the face has `min_frames` frames; shorter-than-`window` histories are
    left-padded by repeating the oldest frame. A face's window starts over when the time since its
    previous frame exceeds `max_gap_s` (or time jumps back by more than that; smaller jitter keeps
    it), on reset(face_id) (face lost), and
    forget()/prune() drop faces that are gone. `state`: LOW below `elevated`, ELEVATED from
    `elevated`, HIGH from `high` (plain thresholds on the level, no hysteresis).
    `model` may be swapped at any time (hot swap); the windows are kept.
    """

    def __init__(self, model: StressModel | Callable[[np.ndarray], float], window: int = WINDOW, min_frames: int = 8,
                 elevated: float = 0.4, high: float = 0.7, max_gap_s: float = 0.5):
        if window != WINDOW:
            raise ValueError(f"the model reads {WINDOW}-frame windows, got window={window}")
        if not 1 <= min_frames <= window:
            raise ValueError(f"min_frames must be in [1, window={window}], got {min_frames}")
        if not 0.0 <= elevated <= high <= 1.0:
            raise ValueError(f"need 0 <= elevated ({elevated}) <= high ({high}) <= 1")
        self._windows = FaceWindows(window, max_gap_s)  # items: (268-d frame, emotion confidence)
        self.model = model
        self.window = window
        self.min_frames = min_frames
        self.elevated = elevated
        self.high = high
        self.max_gap_s = max_gap_s

    def _predict(self, window: np.ndarray) -> float:
        m = self.model
        return float(m.predict(window) if hasattr(m, "predict") else m(window))

    @property
    def face_ids(self) -> list[int]:
        return self._windows.face_ids

    def frames(self, face_id: int) -> int:
        return self._windows.count(face_id)

    def state_of(self, level: float) -> int:
        if level >= self.high:
            return HIGH
        if level >= self.elevated:
            return ELEVATED
        return LOW

    def push(self, face_id: int, stamp: float, embedding256: np.ndarray, geometry12: np.ndarray,
             emotion_confidence: float | None = None) -> StressEstimate | None:
        emb = np.asarray(embedding256, np.float32).reshape(-1)
        geo = np.asarray(geometry12, np.float32).reshape(-1)
        if emb.shape != (EMBED_DIM,) or geo.shape != (GEOMETRY_DIM,):
            raise ValueError(f"need a {EMBED_DIM}-d embedding and {GEOMETRY_DIM} geometry metrics, got {emb.shape} {geo.shape}")
        # a broken frame: skipped (NonFiniteInput), the window kept as it was
        require_finite(f"face {face_id}: embedding", emb)
        require_finite(f"face {face_id}: geometry", geo)
        stamp = float(stamp)
        conf = 1.0 if emotion_confidence is None or not np.isfinite(emotion_confidence) else float(np.clip(emotion_confidence, 0, 1))
        self._windows.push(face_id, stamp, (np.concatenate([emb, geo]), conf))
        items = self._windows.items(face_id)
        n = len(items)
        if n < self.min_frames:
            return None
        frames = [f for f, _ in items]
        if n < self.window:
            frames = [frames[0]] * (self.window - n) + frames
        level = self._predict(np.stack(frames))
        confidence = (n / self.window) * float(np.mean([c for _, c in items]))
        stamps = self._windows.stamps(face_id)
        return StressEstimate(
            face_id=face_id, stamp=stamp, level=level, confidence=float(np.clip(confidence, 0.0, 1.0)),
            state=self.state_of(level), window_frames=n, window_seconds=float(stamps[-1] - stamps[0]),
        )

    def reset(self, face_id: int) -> None:
        """Start the face's window over (the face was lost)."""
        self._windows.forget([face_id])

    def forget(self, face_ids: Iterable[int]) -> None:
        self._windows.forget(face_ids)

    def forget_stale(self, now: float, max_age_s: float | None = None) -> list[int]:
        """Drop faces not seen for more than `max_age_s` (default max_gap_s) before `now`."""
        return self._windows.forget_stale(now, max_age_s)

    def prune(self, active_ids: Iterable[int]) -> list[int]:
        """Drop every face not in active_ids; returns the dropped IDs."""
        return self._windows.prune(active_ids)

    def clear(self) -> None:
        self._windows.clear()


__all__ = [
    "WINDOW", "FEATURES", "LOW", "ELEVATED", "HIGH", "STATE_NAMES", "ModelError", "StressModel", "StressTracker", "StressEstimate",
    "prepare_window", "GEOMETRY_MEAN", "GEOMETRY_STD", "EMBEDDING_SCALE",
]
