"""Calibration protocols and baselines for evaluating gaze on samples with known targets (ROS-free).

Used by `sentin-ros gaze eval` (sentin_ros/tools/gaze_eval.py) on a user's frames and by
training/gaze/evaluate.py on generated subjects, so both report the same numbers.

A sample is (model output p, calibration features f, baseline inputs r, target t), all points
normalized on the screen. A protocol picks the calibration samples among them:

* `uncalibrated`: none (the model output as it is);
* `corners5`: the samples nearest the 5 default points (corners inset 10 %, centre);
* `corners9`: the samples nearest the 3×3 grid at 0.1 / 0.5 / 0.9;
* `randomK` (e.g. `random5`, `random25`) or a bare number K: K random samples, repeated
  `repeats` times with a fixed seed (the figures are the mean over the repeats).

The error is measured on the samples not used for calibration. Each protocol's result holds the
model (+ calibration) error and, on the same samples, two baselines: `baseline_centre` (always
predict the screen centre) and `baseline_ridge` (a ridge regression from the model's own raw
inputs, `raw_inputs`, fitted on the same calibration samples, its penalty chosen by
leave-one-out: what a straight line through the inputs gives without the model).
"""
from __future__ import annotations

import re

import numpy as np

from .gaze import head_input, standardize
from .gaze_calibration import DEFAULT_POINTS, GazeCalibration, ridge_loo

GRID9 = tuple((x, y) for y in (0.1, 0.5, 0.9) for x in (0.1, 0.5, 0.9))
RIDGE_LAMBDAS = (0.01, 0.1, 1.0, 10.0, 100.0, 1e6)
DEFAULT_PROTOCOLS = ("uncalibrated", "corners5", "corners9", "random5", "random25")


def raw_inputs(canonical_seq: np.ndarray, yaw_pitch_roll) -> np.ndarray:
    """The ridge baseline's inputs: the model's 13 inputs of the newest frame (10 standardised
    canonical eye features, head pose / 90)."""
    last = standardize(np.asarray(canonical_seq, np.float32).reshape(-1, 10)[-1:])[0]
    return np.concatenate([last, head_input(yaw_pitch_roll)[0]]).astype(np.float64)


class RidgeBaseline:
    """target ≈ b + W r per coordinate, W penalised, the penalty chosen by leave-one-out."""

    def fit(self, r: np.ndarray, t: np.ndarray) -> RidgeBaseline:
        x = np.hstack([np.ones((len(r), 1)), np.asarray(r, np.float64)])
        self.coef = np.zeros((x.shape[1], 2))
        for c in range(2):
            best = None
            for lam in RIDGE_LAMBDAS:
                w, e = ridge_loo(x, np.asarray(t, np.float64)[:, c], np.concatenate([[0.0], np.full(x.shape[1] - 1, lam)]))
                if best is None or np.mean(e * e) < best[0]:
                    best = (float(np.mean(e * e)), w)
            self.coef[:, c] = best[1]
        return self

    def predict(self, r: np.ndarray) -> np.ndarray:
        r = np.asarray(r, np.float64)
        return np.hstack([np.ones((len(r), 1)), r]) @ self.coef


def parse_protocol(name: str) -> tuple[str, int]:
    """'corners5' -> ('corners', 5); 'random25' / 'random-25' / '25' -> ('random', 25); 'uncalibrated' -> ('none', 0)."""
    name = name.strip().lower()
    if name in ("uncalibrated", "none"):
        return "none", 0
    if name in ("corners5", "corners9"):
        return "corners", int(name[-1])
    m = re.fullmatch(r"(?:random-?)?(\d+)", name)
    if m and int(m.group(1)) >= 3:
        return "random", int(m.group(1))
    raise ValueError(f"unknown calibration protocol {name!r} (uncalibrated, corners5, corners9, randomK or K >= 3)")


def nearest_indices(targets: np.ndarray, points) -> list[int]:
    """For each point, the index of the nearest target not taken yet."""
    targets = np.asarray(targets, np.float64)
    taken: list[int] = []
    for p in points:
        d = np.linalg.norm(targets - np.asarray(p), axis=1)
        d[taken] = np.inf
        taken.append(int(np.argmin(d)))
    return taken


def calibration_sets(protocol: str, targets: np.ndarray, repeats: int = 10, seed: int = 0) -> list[list[int]]:
    """The calibration index sets of a protocol (one for uncalibrated / corners, `repeats` for random)."""
    kind, k = parse_protocol(protocol)
    n = len(targets)
    if kind == "none":
        return [[]]
    if n < k + 1:
        raise ValueError(f"protocol {protocol} needs more than {k} samples, got {n}")
    if kind == "corners":
        return [nearest_indices(targets, DEFAULT_POINTS if k == 5 else GRID9)]
    rng = np.random.default_rng(seed)
    return [sorted(rng.choice(n, k, replace=False).tolist()) for _ in range(repeats)]


def evaluate_protocol(protocol: str, pred: np.ndarray, feats: np.ndarray, raw: np.ndarray, targets: np.ndarray,
                      repeats: int = 10, seed: int = 0, cal_pred=None, cal_feats=None, cal_raw=None, cal_targets=None,
                      px: tuple[float, float] | None = None) -> dict:
    """Errors (normalized screen units) of one protocol; each array has one row per sample.

    By default the calibration samples are drawn from the evaluated samples themselves (and left
    out of the error). With cal_* arrays the protocol draws them from those instead (a separate
    calibration session, as in training/gaze/evaluate.py) and every evaluated sample counts.
    px: the screen's (width, height) in pixels: the result gets a "px" object, the same errors in pixels.
    """
    pred, feats, raw, targets = (np.asarray(a, np.float64) for a in (pred, feats, raw, targets))
    separate = cal_targets is not None
    pool_t = np.asarray(cal_targets, np.float64) if separate else targets
    pool = (np.asarray(cal_pred, np.float64), np.asarray(cal_feats, np.float64), np.asarray(cal_raw, np.float64)) if separate \
        else (pred, feats, raw)
    diffs = {"model": [], "centre": [], "ridge": []}  # per repeat: (n_test, 2) prediction - target
    loo = []
    sets = calibration_sets(protocol, pool_t, repeats, seed)
    for idx in sets:
        test = np.ones(len(targets), bool)
        if idx and not separate:
            test[idx] = False
        t = targets[test]
        out = pred[test]
        if idx:
            cal = GazeCalibration()
            for i in idx:
                cal.add_sample(pool[0][i], pool_t[i], pool[1][i])
            loo.append(cal.fit())
            out = cal.apply(out, feats[test])
            diffs["ridge"].append(RidgeBaseline().fit(pool[2][idx], pool_t[idx]).predict(raw[test]) - t)
        diffs["model"].append(out - t)
        diffs["centre"].append(0.5 - t)

    def summary(scale) -> dict:
        def stat(key, fn):
            vals = diffs[key]
            if not vals:
                return None
            return round(float(np.mean([fn(d * scale) for d in vals])), 4 if scale[0] == 1 else 1)

        def eu(d):
            return np.linalg.norm(d, axis=1)

        return {
            "mean": stat("model", lambda d: eu(d).mean()),
            "median": stat("model", lambda d: np.median(eu(d))),
            "mean_x": stat("model", lambda d: np.abs(d[:, 0]).mean()),
            "mean_y": stat("model", lambda d: np.abs(d[:, 1]).mean()),
            "baseline_centre": stat("centre", lambda d: eu(d).mean()),
            "baseline_ridge": stat("ridge", lambda d: eu(d).mean()),
            "baseline_ridge_median": stat("ridge", lambda d: np.median(eu(d))),
        }

    result = summary(np.ones(2))
    result.update({
        "calibration_samples": len(sets[0]),
        "repeats": len(sets),
        "evaluated_samples": int(len(diffs["model"][0])),
        "loo_residual": round(float(np.mean(loo)), 4) if loo else None,
    })
    if px is not None:
        result["px"] = summary(np.asarray(px, np.float64))
    return result
