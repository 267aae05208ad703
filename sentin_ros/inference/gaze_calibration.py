"""Per-user gaze calibration: a correction of the model's screen point fitted on features.

The user fixates known screen points (5 by default: the four corners, inset by 10 %, and the
centre; any number >= 3 works). Each sample pairs the model's (averaged, unclipped) prediction
p with the target t and, in the default "features" method, with the calibration feature vector
f of the same frames (gaze.calibration_features: the standardised iris/lid/eye-position features
and the head pose). `fit` solves, for each output coordinate c separately, the ridge regression

    t_c - p_c ≈ b_c + a_c · (p - 0.5) + w_c · f

with the offset b unpenalised and the penalties lam_p |a_c|^2 and lam_f |w_c|^2, i.e. a ridge
toward "the model is right up to an offset". (lam_p, lam_f) is chosen per coordinate from a
grid by the closed-form leave-one-out error on the calibration samples themselves: with 5
samples it usually keeps to an offset plus a gain, with more it can use the features, which
is how a person-specific error that the model's output lost (a clipped or shrunken axis, an
eyelid that sits differently) can be fixed. The residual reported is that leave-one-out RMS
of the Euclidean error (normalized screen units); `fit_residual` is the in-sample one. By
default the penalties are the most regularised within one standard error of the best
leave-one-out error ("1se"), and `apply` clamps each feature to the range the calibration
samples spanned, so that a head that moved after calibrating does not extrapolate the weights.

The "affine" method is the version-1 correction (target ≈ A p + b with a fixed ridge toward
A = I, no features), kept for comparison and for calibration files written before.
A sample's prediction should be the UNcalibrated model output (GazeEstimate.raw_x/raw_y) and
its features GazeEstimate.features, both averaged over the fixation (~1-4 s); the target is the
known point, normalized on the configured screen. Nothing here knows about ROS; the
calibration service wraps it.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

DEFAULT_POINTS = ((0.1, 0.1), (0.9, 0.1), (0.1, 0.9), (0.9, 0.9), (0.5, 0.5))
MIN_SAMPLES = 3
METHODS = ("features", "affine")
# The penalty grids the leave-one-out choice runs over (1e6 = that group effectively off). The
# gain penalty starts at 0.1: smaller ones let 9-25 points fit a gain that trades off against
# the iris features at the calibration pose and fails once the head moves (generated validation
# subjects, any pose: 25 points 7.1 deg with lam_p >= 0.001, 5.3 deg with lam_p >= 0.1; 5 points 5.4 / 5.3).
LAMBDAS_P = (0.1, 1.0, 10.0, 1e6)
LAMBDAS_F = (0.03, 0.3, 3.0, 30.0, 1e6)
RANGE_MARGIN = 0.0
# At apply time each feature is clamped to the calibration samples' range (widened by
# RANGE_MARGIN of it): a head pose or eye position far from the calibration one must not
# extrapolate a weight fitted on a narrow range. On generated validation subjects (seed 2000,
# training/gaze/evaluate.py) margins 0 / 0.25 / 1 gave 6.36 / 6.56 / 6.95 deg (5 points, any
# pose), and the one-SE selection beat the plain minimum with 9 and 25 points (7.1 vs 7.8, 7.7 vs 8.6 deg).
_FORMAT = "sentin_ros.gaze_calibration/2"
_FORMATS = (_FORMAT, "sentin_ros.gaze_calibration/1")


class CalibrationError(ValueError):
    """Too few samples, a malformed sample or an unreadable calibration file."""


def ridge_loo(x: np.ndarray, y: np.ndarray, penalty: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ridge solution of x @ w ≈ y (penalty: one value per column, 0 = free) and the leave-one-out residuals."""
    a = x.T @ x + np.diag(penalty) + 1e-9 * np.eye(x.shape[1])
    w = np.linalg.solve(a, x.T @ y)
    h = np.einsum("ij,ji->i", x, np.linalg.solve(a, x.T))
    e = y - x @ w
    return w, e / np.maximum(1.0 - h, 1e-6)


@dataclass
class GazeCalibration:
    """method "features" (default): ridge on the model output and the features, penalties by
    leave-one-out; "affine": A p + b with the fixed `ridge` toward A = I (version 1)."""

    ridge: float = 0.3  # the affine method's ridge (0 = plain affine)
    method: str = "features"
    selection: str = "1se"  # "min": the penalties with the least leave-one-out error; "1se": the most regularised within one SE of it
    matrix: np.ndarray = field(default_factory=lambda: np.eye(2))  # affine part (both methods)
    offset: np.ndarray = field(default_factory=lambda: np.zeros(2))
    weights: np.ndarray = field(default_factory=lambda: np.zeros((2, 0)))  # 2×F feature weights ("features")
    lambdas: list = field(default_factory=list)  # chosen (lam_p, lam_f) per coordinate ("features")
    feature_range: np.ndarray = field(default_factory=lambda: np.zeros((2, 0)))  # 2×F: the clamp of apply (lo, hi)
    calibrated: bool = False
    residual: float = float("nan")  # "features": leave-one-out RMS; "affine": in-sample RMS
    fit_residual: float = float("nan")  # in-sample RMS
    _pred: list = field(default_factory=list)
    _target: list = field(default_factory=list)
    _feat: list = field(default_factory=list)

    def __post_init__(self):
        if not self.ridge >= 0:
            raise CalibrationError(f"ridge must be >= 0, got {self.ridge}")
        if self.selection not in ("min", "1se"):
            raise CalibrationError(f"selection must be 'min' or '1se', got {self.selection!r}")
        if self.method not in METHODS:
            raise CalibrationError(f"method must be one of {METHODS}, got {self.method!r}")

    @property
    def num_samples(self) -> int:
        return len(self._pred)

    def add_sample(self, pred_xy, target_xy, features=None) -> int:
        """One (model prediction, known target[, feature vector]) sample of normalized screen points; returns the count."""
        p = np.asarray(pred_xy, dtype=np.float64).reshape(-1)
        t = np.asarray(target_xy, dtype=np.float64).reshape(-1)
        if p.shape != (2,) or t.shape != (2,) or not (np.all(np.isfinite(p)) and np.all(np.isfinite(t))):
            raise CalibrationError(f"a sample is two finite (x, y) points, got {pred_xy!r} -> {target_xy!r}")
        f = None if features is None else np.asarray(features, dtype=np.float64).reshape(-1)
        if f is not None and (not np.all(np.isfinite(f)) or (self._feat and self._feat[0] is not None and len(self._feat[0]) != len(f))):
            raise CalibrationError(f"features must be finite and of the same length in every sample, got {features!r}")
        self._pred.append(p)
        self._target.append(t)
        self._feat.append(f)
        return self.num_samples

    def clear_samples(self) -> None:
        self._pred.clear()
        self._target.clear()
        self._feat.clear()

    def _feature_matrix(self) -> np.ndarray:
        if self.method != "features" or any(f is None for f in self._feat):
            return np.zeros((self.num_samples, 0))
        return np.stack(self._feat)

    def fit(self) -> float:
        """Fit the correction to the samples; returns (and stores) `residual`."""
        n = self.num_samples
        if n < MIN_SAMPLES:
            raise CalibrationError(f"calibration needs at least {MIN_SAMPLES} samples, got {n}")
        p = np.stack(self._pred)
        t = np.stack(self._target)
        if self.method == "affine":
            self._fit_affine(p, t)
            self.residual = self.fit_residual
            return self.residual
        f = self._feature_matrix()
        x = np.hstack([np.ones((n, 1)), p - 0.5, f])
        r = t - p
        coef, loo, self.lambdas = np.zeros((x.shape[1], 2)), np.zeros((n, 2)), []
        for c in range(2):
            fits = []
            for lf in (LAMBDAS_F if f.shape[1] else LAMBDAS_F[-1:]):
                for lp in LAMBDAS_P:
                    pen = np.concatenate([[0.0], [lp, lp], np.full(f.shape[1], lf)])
                    w, e = ridge_loo(x, r[:, c], pen)
                    fits.append((float(np.mean(e * e)), w, e, (lp, lf)))
            best = min(fits, key=lambda v: v[0])
            if self.selection == "1se":  # the most regularised fit within one standard error of the best
                limit = best[0] + float(np.std(best[2] ** 2)) / np.sqrt(n)
                best = max((v for v in fits if v[0] <= limit), key=lambda v: (v[3][1], v[3][0]))
            coef[:, c], loo[:, c] = best[1], best[2]
            self.lambdas.append([float(v) for v in best[3]])
        self.offset = coef[0].copy()
        self.matrix = np.eye(2) + coef[1:3].T
        self.weights = coef[3:].T.copy()
        if f.shape[1]:  # apply() clamps features to the calibration range + RANGE_MARGIN of it: no wild extrapolation
            lo, hi = f.min(axis=0), f.max(axis=0)
            pad = RANGE_MARGIN * (hi - lo) + 1e-6
            self.feature_range = np.stack([lo - pad, hi + pad])
        else:
            self.feature_range = np.zeros((2, 0))
        self.calibrated = True
        self.fit_residual = float(np.sqrt(np.mean(np.sum((self.apply(p, f if f.shape[1] else None) - t) ** 2, axis=1))))
        self.residual = float(np.sqrt(np.mean(np.sum(loo ** 2, axis=1))))
        return self.residual

    def _fit_affine(self, p: np.ndarray, t: np.ndarray) -> None:
        # Solve for W (3×2) in [p, 1] @ W ≈ t with the penalty ridge * n * |W[:2] - I|^2:
        # substitute W = W0 + D with W0 = [I; 0], then ordinary ridge on D (bias unpenalised).
        n = len(p)
        x = np.hstack([p, np.ones((n, 1))])
        reg = np.diag([self.ridge, self.ridge, 0.0]) * n
        d = np.linalg.solve(x.T @ x + reg + 1e-12 * np.eye(3), x.T @ (t - p))
        self.matrix = np.eye(2) + d[:2].T
        self.offset = d[2].copy()
        self.weights = np.zeros((2, 0))
        self.calibrated = True
        self.fit_residual = float(np.sqrt(np.mean(np.sum((self.apply(p) - t) ** 2, axis=1))))

    def apply(self, xy, features=None) -> np.ndarray:
        """Corrected point(s) (..., 2) from model point(s) and their feature vector(s) (..., F);
        the input unchanged while not calibrated. Features are needed when the fit used them."""
        xy = np.asarray(xy, dtype=np.float64)
        if not self.calibrated:
            return xy.copy()
        if self.method == "affine":
            return xy @ self.matrix.T + self.offset
        out = xy + (xy - 0.5) @ (self.matrix - np.eye(2)).T + self.offset
        if self.weights.shape[1]:
            if features is None:
                raise CalibrationError("this calibration was fitted on features: apply(xy, features)")
            f = np.asarray(features, dtype=np.float64)
            if self.feature_range.shape[1] == f.shape[-1]:
                f = np.clip(f, self.feature_range[0], self.feature_range[1])
            out = out + f @ self.weights.T
        return out

    def reset(self) -> None:
        """Drop the samples and the correction."""
        self.clear_samples()
        self.matrix = np.eye(2)
        self.offset = np.zeros(2)
        self.weights = np.zeros((2, 0))
        self.feature_range = np.zeros((2, 0))
        self.lambdas = []
        self.calibrated = False
        self.residual = self.fit_residual = float("nan")

    def describe(self) -> str:
        """One line for the service's message."""
        if not self.calibrated:
            return "not calibrated"
        if self.method == "affine":
            return f"affine correction (ridge {self.ridge:g}) on {self.num_samples} samples, RMS residual {self.residual:.4f}"
        lam = ", ".join(f"{axis}: lam_p {lp:g}, lam_f {lf:g}" for axis, (lp, lf) in zip("xy", self.lambdas))
        return (f"feature correction on {self.num_samples} samples ({self.weights.shape[1]} features): leave-one-out RMS residual "
                f"{self.residual:.4f}, in-sample {self.fit_residual:.4f} (penalties chosen by leave-one-out, {lam})")

    def to_dict(self) -> dict:
        def num(v):
            return None if not np.isfinite(v) else float(v)

        return {
            "format": _FORMAT,
            "method": self.method,
            "model": "ridge on the model output and features, penalties by leave-one-out" if self.method == "features"
            else "affine, ridge toward identity",
            "ridge": self.ridge,
            "calibrated": self.calibrated,
            "matrix": self.matrix.tolist(),
            "offset": self.offset.tolist(),
            "weights": self.weights.tolist(),
            "lambdas": self.lambdas,
            "selection": self.selection,
            "feature_range": self.feature_range.tolist(),
            "residual": num(self.residual),
            "fit_residual": num(self.fit_residual),
            "samples": [{"pred": p.tolist(), "target": t.tolist(), "features": None if f is None else f.tolist()}
                        for p, t, f in zip(self._pred, self._target, self._feat)],
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
        """Read a file written by `save` (format 2) or by version 1 (affine)."""
        try:
            with open(path) as f:
                data = json.load(f)
            if data.get("format") not in _FORMATS:
                raise CalibrationError(f"{path}: not a gaze calibration file (format {data.get('format')!r})")
            cal = cls(ridge=float(data["ridge"]), method=data.get("method", "affine"), selection=data.get("selection", "1se"))
            for s in data.get("samples", []):
                cal.add_sample(s["pred"], s["target"], s.get("features"))
            cal.matrix = np.asarray(data["matrix"], dtype=np.float64).reshape(2, 2)
            cal.offset = np.asarray(data["offset"], dtype=np.float64).reshape(2)
            cal.weights = np.asarray(data.get("weights") or np.zeros((2, 0)), dtype=np.float64).reshape(2, -1)
            cal.lambdas = list(data.get("lambdas") or [])
            cal.feature_range = np.asarray(data.get("feature_range") or np.zeros((2, 0)), dtype=np.float64).reshape(2, -1)
            cal.calibrated = bool(data["calibrated"])
            cal.residual = float("nan") if data.get("residual") is None else float(data["residual"])
            cal.fit_residual = float("nan") if data.get("fit_residual") is None else float(data["fit_residual"])
        except CalibrationError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CalibrationError(f"cannot load gaze calibration {path!r}: {exc}") from exc
        return cal
