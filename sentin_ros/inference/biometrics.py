"""Soft-biometrics model: 64×64 UTKFace-aligned colour crop -> apparent age (a distribution over
age bins) and the probability of the annotated gender label "female" (INT8 LiteRT).

What it estimates: how old a face looks and how a UTKFace annotator would have labelled its
gender presentation (the dataset knows only "male" and "female"), from appearance in one crop.
It must not be used to identify anyone, to make decisions about a person, or on people who have
not agreed to it; the errors per age, gender and race group are in models/soft_biometrics_int8.md.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..runtime import LiteModel, ModelOptions

#: Centres of the model's age bins, years (training/biometrics/model.py has the same).
AGE_CENTRES = np.arange(0, 101, 4, dtype=np.float32)
#: (upper bound in years, exclusive; group) for Biometrics.age_group, see msg/Biometrics.msg.
AGE_GROUPS = ((13.0, "child"), (20.0, "teen"), (35.0, "young_adult"), (55.0, "adult"), (float("inf"), "senior"))

#: Apparent age (years) under which the gender probability is withheld: the model gets children's
#: annotated gender right about 3 times in 4 (UTKFace test, ages 0-12: 74.7 %, against 96 % from
#: 20 up), so it would be a guess, and about children a robot should not be guessing.
GENDER_MIN_AGE = 13.0

INPUT_SHAPE = (1, 64, 64, 3)
AGE_SHAPE = (1, len(AGE_CENTRES))
GENDER_SHAPE = (1, 1)


def preprocess(crop_bgr: np.ndarray) -> np.ndarray:
    """64×64×3 uint8 BGR crop (FaceObservation.crop_color, or a utkface64.npz face as cv2
    decodes it) -> the model's float input (1, 64, 64, 3) in [0, 1], BGR order kept."""
    if crop_bgr.shape != INPUT_SHAPE[1:] or crop_bgr.dtype != np.uint8:
        raise ValueError(f"crop must be 64×64×3 uint8, got {crop_bgr.shape} {crop_bgr.dtype}")
    return (crop_bgr.astype(np.float32) / 255.0).reshape(INPUT_SHAPE)


def age_stats(probs: np.ndarray) -> tuple[float, float]:
    """Age-bin probabilities -> (mean, standard deviation), years."""
    p = np.clip(np.asarray(probs, np.float64), 0.0, None)
    total = p.sum()
    p = p / total if total > 0 else np.full(len(AGE_CENTRES), 1.0 / len(AGE_CENTRES))
    mean = float(p @ AGE_CENTRES)
    return mean, float(np.sqrt(max(float(p @ AGE_CENTRES ** 2) - mean * mean, 0.0)))


def age_group(age: float) -> str:
    return next(name for bound, name in AGE_GROUPS if age < bound)


class BiometricsModel:
    """models/soft_biometrics_int8.tflite on the shared LiteRT runtime (input 1x64x64x3; outputs 1x26 age-bin
    probabilities, 1x1 probability of "female")."""

    def __init__(self, path: str, options: ModelOptions | None = None):
        self.runtime = LiteModel(path, options, expected_inputs=[INPUT_SHAPE], expected_outputs=[AGE_SHAPE, GENDER_SHAPE])
        self._in = self.runtime.input_by_shape(INPUT_SHAPE).index
        self._age = self.runtime.output_by_shape(AGE_SHAPE).index
        self._gender = self.runtime.output_by_shape(GENDER_SHAPE).index
        self.runtime.warm_up()

    def infer(self, crop_bgr: np.ndarray) -> tuple[np.ndarray, float]:
        """-> (age-bin probabilities (26,), summing to 1; probability of "female")."""
        out = self.runtime.run({self._in: preprocess(crop_bgr)})
        probs = np.clip(out[self._age].reshape(-1), 0.0, None)
        total = probs.sum()
        probs = probs / total if total > 0 else np.full(len(AGE_CENTRES), 1.0 / len(AGE_CENTRES), np.float32)
        return probs.astype(np.float32), float(np.clip(out[self._gender].reshape(-1)[0], 0.0, 1.0))

    def describe(self) -> str:
        return self.runtime.describe()

    def close(self) -> None:
        self.runtime.close()


@dataclass
class BiometricsEstimate:
    face_id: int
    age: float  # years
    age_uncertainty: float  # years (standard deviation of the averaged age distribution)
    age_group: str
    gender_female_probability: float  # NaN when withheld
    gender_estimated: bool  # False: the face looks younger than the gender_min_age
    confidence: float  # [0, 1]
    frames: int  # frames averaged


class BiometricsSmoother:
    """Per-track average of the model's outputs: a person's apparent age and presentation do not
    change between frames, so each frame's age distribution and gender probability enter a
    running mean over the track (weight 1/n), which becomes an exponential average with a
    horizon of `horizon` frames once the track is that old (lighting and pose still drift)."""

    def __init__(self, horizon: int = 30, gender_min_age: float = GENDER_MIN_AGE):
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1 frame, got {horizon}")
        self.horizon = horizon
        self.gender_min_age = gender_min_age
        self._state: dict[int, tuple[np.ndarray, float, int]] = {}

    def update(self, face_id: int, probs: np.ndarray, p_female: float) -> BiometricsEstimate:
        prev = self._state.get(face_id)
        if prev is None:
            avg, pf, n = np.asarray(probs, np.float64), float(p_female), 1
        else:
            avg, pf, n = prev
            n += 1
            w = max(1.0 / n, 1.0 / self.horizon)
            avg = (1 - w) * avg + w * np.asarray(probs, np.float64)
            pf = (1 - w) * pf + w * float(p_female)
        self._state[face_id] = (avg, pf, n)
        return estimate(face_id, avg, pf, n, self.gender_min_age)

    def retain(self, face_ids) -> None:
        keep = set(face_ids)
        for fid in [f for f in self._state if f not in keep]:
            del self._state[fid]


def estimate(face_id: int, probs: np.ndarray, p_female: float, frames: int = 1, gender_min_age: float = GENDER_MIN_AGE) -> BiometricsEstimate:
    """The published estimate from (averaged) outputs. confidence = gender margin |2p - 1| x
    exp(-spread / 15 years) x frames / (frames + 2): high only for a clear gender probability,
    a narrow age distribution, and a few frames of agreement. Below `gender_min_age` apparent
    years the gender probability is withheld (NaN) and the confidence is the age part's alone."""
    age, spread = age_stats(probs)
    estimated = age >= gender_min_age
    margin = abs(2 * p_female - 1) if estimated else 1.0
    confidence = margin * np.exp(-spread / 15.0) * frames / (frames + 2)
    return BiometricsEstimate(int(face_id), age, spread, age_group(age), float(p_female) if estimated else float("nan"),
                              bool(estimated), float(confidence), int(frames))
