"""Per-user gaze calibration: a ridge-regularised affine correction of the model's screen point.

The user fixates known screen points (5 by default: the four corners, inset by 10 %, and the
centre; any number >= 3 works); each sample pairs the model's (averaged) prediction with the
target. `fit` solves, for each output coordinate separately,

    target ≈ A @ pred + b            (A: 2×2, b: 2; 6 parameters)

minimising sum |A p_i + b - t_i|^2 + ridge * n * |A - I|_F^2 (the offset b is not penalised),
i.e. ridge regression toward the identity map: with few, noisy or nearly collinear samples the
correction stays close to a pure offset instead of blowing up. The default ridge (0.3) was the
best of {0.001, 0.03, 0.3, offset only} on generated validation subjects; ridge=0 is a plain
least-squares affine fit. The residual is the RMS,
over the samples, of the Euclidean distance between the corrected prediction and the target,
in normalized screen units (1.0 = one screen width/height).
A sample's prediction should be the UNcalibrated model output (GazeEstimate.raw_x/raw_y) averaged
over the fixation (~1-4 s; the evaluation in training/gaze/evaluate.py averages 8 windows of 15
frames); the target is the known point, both normalized on the configured screen.
Nothing here knows about ROS; the calibration service wraps it.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

DEFAULT_POINTS = ((0.1, 0.1), (0.9, 0.1), (0.1, 0.9), (0.9, 0.9), (0.5, 0.5))
MIN_SAMPLES = 3
_FORMAT = "sentin_ros.gaze_calibration/1"


class CalibrationError(ValueError):
    """Too few samples, a malformed sample or an unreadable calibration file."""


@dataclass
class GazeCalibration:
    ridge: float = 0.3  # chosen on validation subjects (training/gaze/evaluate.py full_report); 0 = plain affine
    matrix: np.ndarray = field(default_factory=lambda: np.eye(2))
    offset: np.ndarray = field(default_factory=lambda: np.zeros(2))
    calibrated: bool = False
    residual: float = float("nan")
    _pred: list = field(default_factory=list)
    _target: list = field(default_factory=list)

    def __post_init__(self):
        if not self.ridge >= 0:
            raise CalibrationError(f"ridge must be >= 0, got {self.ridge}")

    @property
    def num_samples(self) -> int:
        return len(self._pred)

    def add_sample(self, pred_xy, target_xy) -> int:
        """One (model prediction, known target) pair of normalized screen points; returns the count."""
        p = np.asarray(pred_xy, dtype=np.float64).reshape(-1)
        t = np.asarray(target_xy, dtype=np.float64).reshape(-1)
        if p.shape != (2,) or t.shape != (2,) or not (np.all(np.isfinite(p)) and np.all(np.isfinite(t))):
            raise CalibrationError(f"a sample is two finite (x, y) points, got {pred_xy!r} -> {target_xy!r}")
        self._pred.append(p)
        self._target.append(t)
        return self.num_samples

    def clear_samples(self) -> None:
        self._pred.clear()
        self._target.clear()

    def fit(self) -> float:
        """Fit the affine correction to the samples; returns (and stores) the RMS residual."""
        n = self.num_samples
        if n < MIN_SAMPLES:
            raise CalibrationError(f"calibration needs at least {MIN_SAMPLES} samples, got {n}")
        p = np.stack(self._pred)
        t = np.stack(self._target)
        # Solve for W (3×2) in [p, 1] @ W ≈ t with the penalty ridge * |W[:2] - I|^2:
        # substitute W = W0 + D with W0 = [I; 0], then ordinary ridge on D (bias unpenalised).
        x = np.hstack([p, np.ones((n, 1))])
        r = t - p
        reg = np.diag([self.ridge, self.ridge, 0.0]) * n
        d = np.linalg.solve(x.T @ x + reg + 1e-12 * np.eye(3), x.T @ r)
        self.matrix = np.eye(2) + d[:2].T
        self.offset = d[2].copy()
        self.calibrated = True
        self.residual = float(np.sqrt(np.mean(np.sum((self.apply(p) - t) ** 2, axis=1))))
        return self.residual

    def apply(self, xy) -> np.ndarray:
        """Corrected point(s) (..., 2); the input unchanged while not calibrated."""
        xy = np.asarray(xy, dtype=np.float64)
        if not self.calibrated:
            return xy.copy()
        return xy @ self.matrix.T + self.offset

    def reset(self) -> None:
        """Drop the samples and the correction."""
        self.clear_samples()
        self.matrix = np.eye(2)
        self.offset = np.zeros(2)
        self.calibrated = False
        self.residual = float("nan")

    def to_dict(self) -> dict:
        return {
            "format": _FORMAT,
            "model": "affine, ridge toward identity",
            "ridge": self.ridge,
            "calibrated": self.calibrated,
            "matrix": self.matrix.tolist(),
            "offset": self.offset.tolist(),
            "residual": None if not np.isfinite(self.residual) else self.residual,
            "samples": [{"pred": p.tolist(), "target": t.tolist()} for p, t in zip(self._pred, self._target)],
        }

    def save(self, path: str) -> None:
        """Write the correction and its samples as JSON (atomically: temp file + rename)."""
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.to_dict(), f, indent=2)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str) -> GazeCalibration:
        try:
            with open(path) as f:
                data = json.load(f)
            if data.get("format") != _FORMAT:
                raise CalibrationError(f"{path}: not a gaze calibration file (format {data.get('format')!r})")
            cal = cls(ridge=float(data["ridge"]))
            for s in data.get("samples", []):
                cal.add_sample(s["pred"], s["target"])
            cal.matrix = np.asarray(data["matrix"], dtype=np.float64).reshape(2, 2)
            cal.offset = np.asarray(data["offset"], dtype=np.float64).reshape(2)
            cal.calibrated = bool(data["calibrated"])
            cal.residual = float("nan") if data.get("residual") is None else float(data["residual"])
        except CalibrationError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CalibrationError(f"cannot load gaze calibration {path!r}: {exc}") from exc
        return cal
