"""The stress model's behaviour contract, measured on held-out generated sequences (numpy-only).

Used by train.py (numbers in models/affective_tcn.metrics.json and the card) and by
test/test_stress_core.py (assertions on the committed INT8 model). `predict` is any function
(N, 15, 268) step windows -> (N,) levels, e.g. `StressModel.predict_batch`. Sequences are rendered
frame by frame at FPS and summarised into 0.25 s steps (training/stress/steps.py); a "stream" is a
window sliding one step (0.25 s) at a time, 4 outputs per second.

  calm       calm drivers (all <= 0.15) and only neutral/happy faces: every level < 0.3
  talking    10 s of calm drivers while talking (mouth aperture at 3-8 Hz, mixed speech
             expressions, nods), at 15 and 30 fps: >= 95 % of the streamed levels < 0.3
  strain     5 s calm, then >= 3 s of all drivers on (0.7-1.0): the stream passes 0.7 within 2 s
             (8 steps) of the onset
  brief      5 s calm, a single 0.5 s expression (a surprise: neg_arousal with surprise faces; a
             grimace: au4 + au12_suppression + neg_arousal), 4 s calm: the stream stays below 0.7
  monotone   one driver stepped 0 / 0.25 / 0.5 / 0.75 / 1 with the others held (at 0.3), same seeds
             (same person, faces, noise): the mean level must not decrease (per-sequence steps too,
             reported as the fraction that do not drop by more than 0.02)
  steady     15 s of constant drivers with one face held, no deliberate head turns or talking
             (blinks, micro-motion and camera-like jitter remain, at the drivers' rates): the
             level's range over any 1 s of the stream (5 consecutive outputs) stays <= 0.1
"""
from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from . import generator as gen
from . import steps as st

Predict = Callable[[np.ndarray], np.ndarray]
LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
FPS = 25.0
STEPS_PER_S = int(round(1.0 / gen.STEP_SECONDS))
THRESHOLDS = {"calm_max": 0.3, "talking_below_0.3": 0.95, "strain_min": 0.7, "strain_within_s": 2.0,
              "brief_max": 0.7, "monotone_tol": 0.01, "steady_range_1s": 0.1}


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
    """(n, L, F) -> (n, L - window + 1, window, F) windows ending at steps window-1 .. L-1."""
    n, length, f = x.shape
    idx = np.arange(window)[None, :] + np.arange(length - window + 1)[:, None]
    return x[:, idx]


def stream(predict: Predict, x: np.ndarray) -> np.ndarray:
    """(n, L, F) step sequences -> (n, L - 14) levels of the window sliding one step at a time."""
    w = sliding(x)
    return predict(w.reshape(-1, gen.FRAMES, gen.FEATURES)).reshape(len(x), -1)


def _render(rng, drivers, bank, stats, params, fps=FPS, nuisance=None, kinds=None) -> np.ndarray:
    return st.render_steps(rng, drivers, bank, stats, params, fps, nuisance, kinds)[0]


def calm(predict: Predict, bank, stats, params=None, n: int = 200, seed: int = 101) -> dict:
    params = params or gen.GeneratorParams()
    rng = np.random.default_rng(seed)
    drivers, _ = gen.sample_drivers(rng, n, params, scenario="calm")
    x = _render(rng, drivers, bank, stats, _calm_params(params))
    y = predict(x)
    t = gen.target_from_drivers(drivers, params.target)
    return {"n": n, "max": float(y.max()), "p99": float(np.percentile(y, 99)), "mean": float(y.mean()),
            "target_max": float(t.max()), "frac_below_0.3": float((y < THRESHOLDS["calm_max"]).mean())}


def calm_mixed(predict: Predict, bank, stats, params=None, n: int = 200, seed: int = 102) -> dict:
    """Calm drivers with the generator's natural face mix (a few negative-class faces): reported only."""
    params = params or gen.GeneratorParams()
    rng = np.random.default_rng(seed)
    x, t, _, _ = st.generate_steps(rng, n, bank, stats, params, scenario="calm", fps=FPS)
    y = predict(x)
    return {"n": n, "max": float(y.max()), "p99": float(np.percentile(y, 99)), "mean": float(y.mean())}


def talking(predict: Predict, bank, stats, params=None, n: int = 120, seconds: float = 10.0, seed: int = 106) -> dict:
    params = params or gen.GeneratorParams()
    length = int(seconds * STEPS_PER_S)
    out, ys = {}, []
    for fps in (15.0, 30.0):
        rng = np.random.default_rng(seed + int(fps))
        lv = rng.uniform(0.0, 0.15, (n, 1, len(gen.DRIVERS)))
        drivers = np.repeat(lv, length, 1) + gen._ar_noise(rng, n * len(gen.DRIVERS), length, 0.03, 0.8).reshape(
            n, len(gen.DRIVERS), length).transpose(0, 2, 1)
        x = _render(rng, np.clip(drivers, 0, 0.15), bank, stats, params, fps, kinds=["talking"] * n)
        y = stream(predict, x)
        ys.append(y)
        out[f"{int(fps)}fps_frac_below_0.3"] = float((y < THRESHOLDS["calm_max"]).mean())
    y = np.concatenate(ys)
    out.update({"n": 2 * n, "seconds": seconds, "outputs": int(y.size), "frac_below_0.3": float((y < THRESHOLDS["calm_max"]).mean()),
                "p95": float(np.percentile(y, 95)), "max": float(y.max()), "mean": float(y.mean())})
    return out


def strain_onset(predict: Predict, bank, stats, params=None, n: int = 100, seed: int = 103) -> dict:
    params = params or gen.GeneratorParams()
    rng = np.random.default_rng(seed)
    pre, on = 20, 16  # 5 s calm, 4 s strain
    levels = rng.uniform(0.7, 1.0, (n, len(gen.DRIVERS)))
    calm_lv = rng.uniform(0.0, 0.15, (n, len(gen.DRIVERS)))
    drivers = np.concatenate([np.repeat(calm_lv[:, None], pre, 1), np.repeat(levels[:, None], on, 1)], axis=1)
    y = stream(predict, _render(rng, drivers, bank, stats, params))  # windows ending at steps 14 .. 35
    after = y[:, pre - gen.FRAMES + 1:]  # windows ending at onset+0 .. (k-th: k+1 strain steps)
    crossed = after > THRESHOLDS["strain_min"]
    steps_to = np.where(crossed.any(1), crossed.argmax(1) + 1, 10**6)
    within = int(THRESHOLDS["strain_within_s"] * STEPS_PER_S)
    return {"n": n, "frac_above_0.7_within_2s": float((steps_to <= within).mean()),
            "seconds_to_0.7_median": float(np.median(steps_to)) * gen.STEP_SECONDS,
            "seconds_to_0.7_max": float(steps_to.max()) * gen.STEP_SECONDS,
            "level_at_3s_min": float(after[:, 3 * STEPS_PER_S - 1].min()), "level_at_3s_mean": float(after[:, 3 * STEPS_PER_S - 1].mean()),
            "level_before_onset_max": float(y[:, : pre - gen.FRAMES + 1].max()),
            "mean_trace": [round(float(v), 4) for v in after.mean(0)]}


def brief(predict: Predict, bank, stats, params=None, n: int = 100, seed: int = 107) -> dict:
    params = params or gen.GeneratorParams()
    out = {}
    for label, on in (("surprise", ("neg_arousal",)), ("grimace", ("au4", "au12_suppression", "neg_arousal"))):
        p = copy.deepcopy(params)
        if label == "surprise":  # the surprise faces, not anger / fear
            p.embedding.drive = {**p.embedding.drive, "surprise": {"neg_arousal": 8.0}}
        rng = np.random.default_rng(seed)
        pre, dur, post = 20, 2, 16  # 5 s calm, 0.5 s expression, 4 s calm
        d = np.repeat(rng.uniform(0.0, 0.15, (n, 1, len(gen.DRIVERS))), pre + dur + post, 1)
        for name in on:
            d[:, pre: pre + dur, gen.D[name]] = 1.0
        y = stream(predict, _render(rng, d, bank, stats, p))
        out[label] = {"n": n, "max": float(y.max()), "p99_of_peaks": float(np.percentile(y.max(1), 99)),
                      "mean_peak": float(y.max(1).mean()), "frac_crossing_0.7": float((y.max(1) >= THRESHOLDS["brief_max"]).mean()),
                      "target_peak_max": float(max(gen.target_from_drivers(sliding(d)[i], p.target).max() for i in range(n)))}
    out["max"] = max(v["max"] for v in out.values() if isinstance(v, dict))
    return out


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
            y = predict(_render(rng, d, bank, stats, params, nuisance=nz))
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


def steady(predict: Predict, bank, stats, params=None, n: int = 8, seconds: float = 15.0, seed: int = 105) -> dict:
    params = params or gen.GeneratorParams()
    length = int(seconds * STEPS_PER_S)
    out = {}
    for label, lv in (("calm", 0.05), ("mid", 0.45), ("strain", 0.85)):
        rng = np.random.default_rng(seed)
        d = np.full((n, length, len(gen.DRIVERS)), lv)
        y = stream(predict, _render(rng, d, bank, stats, _steady_params(params)))
        rng_1s = sliding(y[..., None], STEPS_PER_S + 1)[..., 0]  # (n, m, 5): 1 s of outputs
        r = rng_1s.max(-1) - rng_1s.min(-1)
        dy = np.abs(np.diff(y, axis=1))
        out[label] = {"range_1s_median": float(np.median(r)), "range_1s_p95": float(np.percentile(r, 95)),
                      "range_1s_max": float(r.max()), "frac_1s_within_0.1": float((r <= THRESHOLDS["steady_range_1s"]).mean()),
                      "step_delta_median": float(np.median(dy)), "mean_level": float(y.mean()), "std_level": float(y.std(1).mean())}
    vals = [v for v in out.values() if isinstance(v, dict)]
    out["range_1s_max"] = max(v["range_1s_max"] for v in vals)
    out["range_1s_p95"] = max(v["range_1s_p95"] for v in vals)
    out["frac_1s_within_0.1"] = min(v["frac_1s_within_0.1"] for v in vals)
    return out


def run_all(predict: Predict, bank, stats, params=None, quick: bool = False) -> dict:
    s = 0.5 if quick else 1.0
    return {
        "calm": calm(predict, bank, stats, params, n=int(200 * s)),
        "calm_mixed_faces": calm_mixed(predict, bank, stats, params, n=int(200 * s)),
        "talking": talking(predict, bank, stats, params, n=int(120 * s)),
        "strain_onset": strain_onset(predict, bank, stats, params, n=int(100 * s)),
        "brief": brief(predict, bank, stats, params, n=int(100 * s)),
        "monotone": monotone(predict, bank, stats, params, n=int(48 * s)),
        "steady": steady(predict, bank, stats, params, n=int(8 * s)),
        "thresholds": THRESHOLDS,
    }
