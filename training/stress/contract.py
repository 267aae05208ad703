"""The stress model's behaviour contract, measured on held-out generated sequences (numpy-only).

Used by train.py (numbers in models/affective_tcn.metrics.json and the card) and by
test/test_stress_core.py (assertions on the committed INT8 model). `predict` is any function
(N, 15, 268) raw windows -> (N,) levels, e.g. `StressModel.predict_batch`.

  calm       calm drivers (all <= 0.15) and only neutral/happy faces: every level < 0.3
  strain     15 calm frames, then all drivers on (0.7-1.0, sustained); the streaming level (a window
             sliding one frame at a time) must pass 0.7 within 15 frames of the onset
  monotone   one driver stepped 0 / 0.25 / 0.5 / 0.75 / 1 with the others held (at 0.3), same seeds
             (same person, faces, noise): the mean level must not decrease (per-sequence steps too,
             reported as the fraction that do not drop by more than 0.02)
  steady     60 frames of constant drivers with one face held, no deliberate head turns or talking
             (blinks, micro-motion and camera-like jitter remain, at the drivers' rates): a window
             sliding one frame at a time changes the level little from frame to frame
"""
from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from . import generator as gen

Predict = Callable[[np.ndarray], np.ndarray]
LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
THRESHOLDS = {"calm_max": 0.3, "strain_min": 0.7, "strain_frames": 15, "monotone_tol": 0.01,
              "steady_median_delta": 0.02, "steady_p95_delta": 0.1}


def _calm_params(params: gen.GeneratorParams) -> gen.GeneratorParams:
    p = copy.deepcopy(params)
    for c in ("angry", "disgust", "fear", "sad", "surprise"):
        p.embedding.bias[c] = -30.0  # neutral and happy faces only
    return p


def _steady_params(params: gen.GeneratorParams) -> gen.GeneratorParams:
    p = copy.deepcopy(params)
    p.embedding.run_mean = 1e9  # one face for the whole sequence
    p.embedding.redraw_tv = 2.0
    p.geometry.look_prob = 0.0  # no deliberate head turns
    p.geometry.talk_prob = 0.0  # no talking
    return p


def sliding(x: np.ndarray, window: int = gen.FRAMES) -> np.ndarray:
    """(n, L, F) -> (n, L - window + 1, window, F) windows ending at frames window-1 .. L-1."""
    n, length, f = x.shape
    idx = np.arange(window)[None, :] + np.arange(length - window + 1)[:, None]
    return x[:, idx]


def calm(predict: Predict, bank, stats, params=None, n: int = 200, seed: int = 101) -> dict:
    params = params or gen.GeneratorParams()
    rng = np.random.default_rng(seed)
    drivers, _ = gen.sample_drivers(rng, n, params, scenario="calm")
    x = gen.render(rng, drivers, bank, stats, _calm_params(params)).x
    y = predict(x)
    t = gen.target_from_drivers(drivers, params.target)
    return {"n": n, "max": float(y.max()), "p99": float(np.percentile(y, 99)), "mean": float(y.mean()),
            "target_max": float(t.max()), "frac_below_0.3": float((y < THRESHOLDS["calm_max"]).mean())}


def calm_mixed(predict: Predict, bank, stats, params=None, n: int = 200, seed: int = 102) -> dict:
    """Calm drivers with the generator's natural face mix (a few negative-class faces): reported only."""
    params = params or gen.GeneratorParams()
    rng = np.random.default_rng(seed)
    x, t, _, _ = gen.generate(rng, n, bank, stats, params, scenario="calm")
    y = predict(x)
    return {"n": n, "max": float(y.max()), "p99": float(np.percentile(y, 99)), "mean": float(y.mean())}


def strain_onset(predict: Predict, bank, stats, params=None, n: int = 100, seed: int = 103) -> dict:
    params = params or gen.GeneratorParams()
    rng = np.random.default_rng(seed)
    T = gen.FRAMES
    levels = rng.uniform(0.7, 1.0, (n, len(gen.DRIVERS)))
    calm_lv = rng.uniform(0.0, 0.15, (n, len(gen.DRIVERS)))
    drivers = np.concatenate([np.repeat(calm_lv[:, None], T, 1), np.repeat(levels[:, None], T, 1)], axis=1)
    x = gen.render(rng, drivers, bank, stats, params).x  # (n, 30, 268)
    w = sliding(x)  # windows ending at frames 14 .. 29; onset at frame 15
    y = predict(w.reshape(-1, T, gen.FEATURES)).reshape(n, -1)
    after = y[:, 1:]  # windows ending at onset+0 .. onset+14 (k-th = k+1 strain frames)
    crossed = after > THRESHOLDS["strain_min"]
    frames_to = np.where(crossed.any(1), crossed.argmax(1) + 1, 10**6)
    return {"n": n, "frac_above_0.7_within_15": float(crossed.any(1).mean()),
            "frac_above_0.7_at_15": float((after[:, -1] > THRESHOLDS["strain_min"]).mean()),
            "frames_to_0.7_median": float(np.median(frames_to)), "frames_to_0.7_max": int(frames_to.max()),
            "level_at_15_min": float(after[:, -1].min()), "level_at_15_mean": float(after[:, -1].mean()),
            "level_before_onset_max": float(y[:, 0].max()),
            "mean_trace": [round(float(v), 4) for v in y.mean(0)]}


def monotone(predict: Predict, bank, stats, params=None, n: int = 48, others: float = 0.3, seed: int = 104) -> dict:
    params = params or gen.GeneratorParams()
    out = {}
    for k, name in enumerate(gen.DRIVERS):
        means, per_seq = [], []
        for lv in LEVELS:
            rng = np.random.default_rng(seed)  # the same seed at every level: coupled sequences
            d = np.full((n, gen.FRAMES, len(gen.DRIVERS)), others)
            d[..., k] = lv
            nz = gen.Nuisance.sample(np.random.default_rng(seed + 1), n, params.geometry)
            y = predict(gen.render(rng, d, bank, stats, params, nz).x)
            means.append(float(y.mean()))
            per_seq.append(y)
        per_seq = np.array(per_seq)  # (levels, n)
        dt = np.full((len(LEVELS), gen.FRAMES, len(gen.DRIVERS)), others)
        dt[..., k] = np.array(LEVELS)[:, None]
        steps = np.diff(per_seq, axis=0)
        out[name] = {"mean_levels": [round(m, 4) for m in means],
                     "mean_monotone": bool(np.all(np.diff(means) >= -THRESHOLDS["monotone_tol"])),
                     "seq_steps_not_dropping": float((steps >= -0.02).mean()),
                     "target": [round(float(v), 4) for v in gen.target_from_drivers(dt, params.target)]}
    out["all_mean_monotone"] = all(v["mean_monotone"] for v in out.values() if isinstance(v, dict))
    return out


def steady(predict: Predict, bank, stats, params=None, n: int = 8, length: int = 60, seed: int = 105) -> dict:
    params = params or gen.GeneratorParams()
    out = {}
    for label, lv in (("calm", 0.05), ("mid", 0.45), ("strain", 0.85)):
        rng = np.random.default_rng(seed)
        d = np.full((n, length, len(gen.DRIVERS)), lv)
        x = gen.render(rng, d, bank, stats, _steady_params(params)).x
        y = predict(sliding(x).reshape(-1, gen.FRAMES, gen.FEATURES)).reshape(n, -1)
        dy = np.abs(np.diff(y, axis=1))
        out[label] = {"median_abs_delta": float(np.median(dy)), "p95_abs_delta": float(np.percentile(dy, 95)),
                      "max_abs_delta": float(dy.max()), "mean_level": float(y.mean()), "std_level": float(y.std(1).mean())}
    out["median_abs_delta"] = max(v["median_abs_delta"] for v in out.values())
    out["p95_abs_delta"] = max(v["p95_abs_delta"] for v in out.values() if isinstance(v, dict))
    return out


def run_all(predict: Predict, bank, stats, params=None, quick: bool = False) -> dict:
    s = 0.5 if quick else 1.0
    return {
        "calm": calm(predict, bank, stats, params, n=int(200 * s)),
        "calm_mixed_faces": calm_mixed(predict, bank, stats, params, n=int(200 * s)),
        "strain_onset": strain_onset(predict, bank, stats, params, n=int(100 * s)),
        "monotone": monotone(predict, bank, stats, params, n=int(48 * s)),
        "steady": steady(predict, bank, stats, params, n=int(8 * s)),
        "thresholds": THRESHOLDS,
    }
