"""Emotion model: 48×48 face crop -> 7 class probabilities + 256-d embedding (INT8 LiteRT)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..runtime import LiteModel, ModelOptions

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
UNCERTAIN = "uncertain"

# (valence, arousal) per class, in [-1, 1]: approximate placements of the corresponding terms
# on Russell's circumplex of affect (Russell 1980, J. Pers. Soc. Psychol. 39(6); "angry",
# "disgusted", "afraid", "happy", "sad", "astonished", and the neutral origin). The published
# numbers are the probability-weighted mean of these points, so they are a coarse 2-D summary
# of the class probabilities, not an independent valence/arousal regression.
CIRCUMPLEX = {
    "angry": (-0.60, 0.70),
    "disgust": (-0.70, 0.30),
    "fear": (-0.60, 0.80),
    "happy": (0.80, 0.40),
    "sad": (-0.70, -0.40),
    "surprise": (0.20, 0.85),
    "neutral": (0.00, 0.00),
}
_VA = np.array([CIRCUMPLEX[c] for c in CLASSES], dtype=np.float32)

INPUT_SHAPE = (1, 48, 48, 1)
PROBS_SHAPE = (1, 7)
EMBEDDING_SHAPE = (1, 256)


@dataclass
class EmotionResult:
    label: str
    confidence: float
    probabilities: np.ndarray  # 7, sums to 1
    valence: float
    arousal: float
    embedding: np.ndarray  # 256


class EmotionModel:
    """models/affective_cnn_int8.tflite on the shared LiteRT runtime (input 1x48x48x1; outputs 1x7, 1x256)."""

    def __init__(self, path: str, options: ModelOptions | None = None):
        self.runtime = LiteModel(path, options, expected_inputs=[INPUT_SHAPE], expected_outputs=[PROBS_SHAPE, EMBEDDING_SHAPE])
        self._in = self.runtime.input_by_shape(INPUT_SHAPE).index
        self._probs = self.runtime.output_by_shape(PROBS_SHAPE).index
        self._emb = self.runtime.output_by_shape(EMBEDDING_SHAPE).index
        self.runtime.warm_up()

    def infer(self, crop: np.ndarray, mirror: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """crop: 48×48 uint8 grayscale -> (probabilities (7,), embedding (256,)).

        mirror: also run the mirror image and average the two views' probabilities (two runs;
        the embedding stays the face's own, the one the stress model was trained on)."""
        if crop.shape != (48, 48):
            raise ValueError(f"crop must be 48×48, got {crop.shape}")
        probs, embedding = self._run(crop)
        if mirror:
            probs = 0.5 * (probs + self._run(np.ascontiguousarray(crop[:, ::-1]))[0])
        return probs.astype(np.float32), embedding

    def _run(self, crop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One view: its probabilities renormalised (the INT8 outputs sum to 1 only to within
        their quantization step), so that the mirror average weighs both views alike."""
        out = self.runtime.run_pixels({self._in: crop.reshape(INPUT_SHAPE)}, 1.0 / 255.0)
        probs = np.clip(out[self._probs].reshape(7), 0.0, None)
        total = probs.sum()
        return (probs / total if total > 0 else np.full(7, 1 / 7, np.float32)), out[self._emb].reshape(256)

    def describe(self) -> str:
        return self.runtime.describe()

    def close(self) -> None:
        self.runtime.close()


def interpret(probs: np.ndarray, embedding: np.ndarray, min_confidence: float) -> EmotionResult:
    top = int(np.argmax(probs))
    confidence = float(probs[top])
    valence, arousal = (probs @ _VA).tolist()
    label = CLASSES[top] if confidence >= min_confidence else UNCERTAIN
    return EmotionResult(label, confidence, probs, float(np.clip(valence, -1, 1)), float(np.clip(arousal, -1, 1)), embedding)


class ProbabilitySmoother:
    """Per-face exponential smoothing of class probabilities: p <- a*p_new + (1-a)*p. alpha=1: off."""

    def __init__(self, alpha: float = 1.0):
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"smoothing alpha must be in (0, 1], got {alpha}")
        self.alpha = alpha
        self._state: dict[int, np.ndarray] = {}

    def update(self, face_id: int, probs: np.ndarray) -> np.ndarray:
        prev = self._state.get(face_id)
        out = probs if prev is None or self.alpha >= 1.0 else self.alpha * probs + (1 - self.alpha) * prev
        self._state[face_id] = out
        return out

    def retain(self, face_ids) -> None:
        keep = set(face_ids)
        for fid in [f for f in self._state if f not in keep]:
            del self._state[fid]
