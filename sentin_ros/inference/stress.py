"""Stress (visible facial strain) inference: the TCN model and the per-face window tracker. ROS-free.

The model (models/affective_tcn_int8.tflite, card: models/affective_tcn_int8.md) reads 15 steps of
one face; a step is the mean of the face's frames in a 0.25 s slice (`horizon.StepHorizon`), each
frame = the emotion model's 256-d embedding + the 12 geometry metrics
(`sentin_ros.core.features.GEOMETRY_NAMES` order), and returns a level in [0, 1]: a learned index of
visible facial strain sustained over the last ~2-4 s (talking is not strain).
It is NOT a physiological or medical measure and was not
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

Short histories (`StressTracker`): nothing before the face's history spans `min_seconds`; steps
before its first good frame repeat the oldest one (the model was trained with such padded windows),
steps without a good frame (missed, low quality) hold the previous one, and `confidence` is scaled
by the share of the steps that had good frames.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from ..runtime import LiteModel, ModelError, ModelOptions, require_finite
from .horizon import StepHorizon

WINDOW = 15  # steps
WINDOW_SECONDS = 3.75  # default horizon: 15 steps of 0.25 s (the step length the model was trained on)
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
    confidence: float  # [0, 1]: share of the horizon's steps with good frames × mean emotion confidence (1 if not given)
    state: int  # LOW / ELEVATED / HIGH
    window_frames: int  # good frames behind the estimate (within the horizon)
    window_seconds: float  # oldest to newest of those frames (<= the horizon)


class StressTracker:
    """Per-face time horizons over (embedding, geometry) frames -> StressEstimate.

    Each face's last `window_seconds` are summarised into the model's 15 steps
    (`horizon.StepHorizon`: step = mean of the frames in its slice; 0.25 s at the default 3.75 s,
    the step length the model was trained on). push() returns None until the face's history spans
    `min_seconds` (and has a good frame in that many seconds' worth of steps); `confidence` is the
    share of the 15 steps that had good frames (frames skipped as low quality, `skip()`, count as
    missing) × the mean emotion confidence. A face's history starts over when nothing was seen of it
    for `max_gap_s`, on a jump back in time of more than `max_back_s` (small reorders are filed in
    their slice), on reset(face_id) (face lost); forget()/prune() drop faces that are gone.
    `state`: LOW below `elevated`, ELEVATED from `elevated`, HIGH from `high` (plain thresholds).
    `model` may be swapped at any time (hot swap); the histories are kept.
    """

    def __init__(self, model: StressModel | Callable[[np.ndarray], float], window_seconds: float = WINDOW_SECONDS,
                 min_seconds: float = 1.0, elevated: float = 0.4, high: float = 0.7, max_gap_s: float = 0.5,
                 max_back_s: float = 0.25):
        if not 0.0 < window_seconds <= 60.0:
            raise ValueError(f"window_seconds must be in (0, 60], got {window_seconds}")
        if not 0.0 <= min_seconds <= window_seconds:
            raise ValueError(f"min_seconds must be in [0, window_seconds={window_seconds}], got {min_seconds}")
        if not 0.0 <= elevated <= high <= 1.0:
            raise ValueError(f"need 0 <= elevated ({elevated}) <= high ({high}) <= 1")
        self._horizon = StepHorizon(WINDOW, window_seconds, max_gap_s, max_back_s)
        self.model = model
        self.window = WINDOW
        self.window_seconds = float(window_seconds)
        self.step_seconds = self._horizon.step_s
        self.min_seconds = float(min_seconds)
        # good frames needed in at least half the steps of min_seconds (a mostly skipped face stays quiet)
        self.min_steps = max(1, int(np.ceil(0.5 * min_seconds / self.step_seconds - 1e-9)))
        self.elevated = elevated
        self.high = high
        self.max_gap_s = max_gap_s

    def _predict(self, window: np.ndarray) -> float:
        m = self.model
        return float(m.predict(window) if hasattr(m, "predict") else m(window))

    @property
    def face_ids(self) -> list[int]:
        return self._horizon.face_ids

    def frames(self, face_id: int) -> int:
        return self._horizon.count(face_id)

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
        stamp = float(stamp)
        if not (np.all(np.isfinite(emb)) and np.all(np.isfinite(geo))):
            self._horizon.mark_seen(face_id, stamp)  # a broken frame counts as missing...
            require_finite(f"face {face_id}: embedding", emb)  # ...and as bad input (NonFiniteInput)
            require_finite(f"face {face_id}: geometry", geo)
        conf = 1.0 if emotion_confidence is None or not np.isfinite(emotion_confidence) else float(np.clip(emotion_confidence, 0, 1))
        self._horizon.push(face_id, stamp, np.concatenate([emb, geo]), conf)
        return self.estimate(face_id)

    def skip(self, face_id: int, stamp: float) -> None:
        """The face was there but not usable (low quality, not a face): its slice stays empty."""
        self._horizon.mark_seen(face_id, float(stamp))

    def estimate(self, face_id: int) -> StressEstimate | None:
        """The face's estimate over the horizon ending at its newest frame; None until min_seconds."""
        h = self._horizon
        if h.history_s(face_id) + self.step_seconds < self.min_seconds - 1e-6:  # the newest step covers a slice
            return None
        sm = h.summary(face_id)
        if sm is None or int(sm.filled.sum()) < min(self.min_steps, WINDOW):
            return None
        level = self._predict(sm.steps)
        confidence = sm.coverage * sm.mean_weight
        return StressEstimate(
            face_id=face_id, stamp=h.newest(face_id), level=level, confidence=float(np.clip(confidence, 0.0, 1.0)),
            state=self.state_of(level), window_frames=sm.frames, window_seconds=sm.span_s,
        )

    def reset(self, face_id: int) -> None:
        """Start the face's history over (the face was lost)."""
        self._horizon.forget([face_id])

    def forget(self, face_ids: Iterable[int]) -> None:
        self._horizon.forget(face_ids)

    def forget_stale(self, now: float, max_age_s: float | None = None) -> list[int]:
        """Drop faces not seen for more than `max_age_s` (default max_gap_s) before `now`."""
        return self._horizon.forget_stale(now, max_age_s)

    def prune(self, active_ids: Iterable[int]) -> list[int]:
        """Drop every face not in active_ids; returns the dropped IDs."""
        return self._horizon.prune(active_ids)

    def clear(self) -> None:
        self._horizon.clear()


__all__ = [
    "WINDOW", "WINDOW_SECONDS", "FEATURES", "LOW", "ELEVATED", "HIGH", "STATE_NAMES", "ModelError", "StressModel", "StressTracker", "StressEstimate",
    "prepare_window", "GEOMETRY_MEAN", "GEOMETRY_STD", "EMBEDDING_SCALE",
]
