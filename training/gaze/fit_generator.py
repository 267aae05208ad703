"""Fit the generator's eye geometry and head-pose bias to the statistics of real faces (no TensorFlow).

    .venv/bin/python -m training.gaze.fit_generator [--stats training/gaze/real_landmark_stats.json] [--n 400]

The real statistics come from training/gaze/measure_real.py ("frontal" table: faces with open
eyes and |yaw|, |pitch| < 15 deg from the real clips, group photos, FER2013 and the astronaut;
people in photos mostly look at the camera). The generator simulates the same situation: its
subjects look at the camera (+- 3 deg) with the head within +- 12 deg. Gauss-Newton (finite
differences, common random numbers) then moves four generator parameters until the simulated
means match the measured ones:

    eyeball_dy_mm      eyeball centre below the corner mid-point   <- iris_v (iris across the corner axis)
    upper_lid_deg[0]   open upper-lid elevation                    <- upper_v
    lower_lid_deg[0]   open lower-lid depression                   <- lower_v
    iris_radius_mm[0]  iris radius                                 <- iris_radius (/ eye width)

and sets the per-subject head-pitch bias to the measured mean pitch of the frontal faces (the
generator's own solvePnP pitch is unbiased: its landmarks come from the model face). The result
(fitted values, measured and simulated statistics before and after) goes to
training/gaze/generator_fit.json; GeneratorConfig's defaults carry the fitted values.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace

import numpy as np

from sentin_ros.inference.gaze_screen import REFERENCE_SCREEN

from . import generator as G
from .measure_real import corner_axis_positions

HERE = os.path.dirname(os.path.abspath(__file__))
OBSERVED = ("iris_v", "upper_v", "lower_v", "iris_radius")
PARAMS = ("eyeball_dy_mm", "upper_lid_deg", "lower_lid_deg", "iris_radius_mm")
REPORTED = ("iris_v", "upper_v", "lower_v", "iris_radius", "iris_y_mean", "open_mean", "iris_x_mean", "pitch", "yaw")


def _with(cfg: G.GeneratorConfig, theta) -> G.GeneratorConfig:
    dy, up, lo, ir = (float(v) for v in theta)
    return replace(cfg, eyeball_dy_mm=dy, upper_lid_deg=(up, cfg.upper_lid_deg[1]), lower_lid_deg=(lo, cfg.lower_lid_deg[1]),
                   iris_radius_mm=(ir, cfg.iris_radius_mm[1]))


def simulate_frontal(cfg: G.GeneratorConfig, n: int = 400, seed: int = 7) -> dict[str, np.ndarray]:
    """Per-sequence last-frame statistics of generated subjects looking at the camera."""
    rng = np.random.default_rng(seed)
    cam_xy = REFERENCE_SCREEN.from_camera_mm(np.zeros(3))
    rows = {k: [] for k in REPORTED}
    for _ in range(n):
        subject, session = G.sample_subject(rng, cfg), G.sample_session(rng, cfg, screen=REFERENCE_SCREEN)
        target = cam_xy + rng.normal(0, 3 * np.pi / 180 * 600, 2) / np.array([REFERENCE_SCREEN.width_mm, REFERENCE_SCREEN.height_mm])
        pose = (rng.uniform(-12, 12), rng.uniform(-12, 12), rng.uniform(-8, 8))
        s = G.generate_sequence(rng, subject, session, cfg, targets_xy=target, pose=pose, head_speed_dps=0.5, blink=False,
                                keep_points=True)
        e = s.eye[-1]
        iv, uv, lv = corner_axis_positions(s.points_px[-1])
        vals = dict(iris_v=iv, upper_v=uv, lower_v=lv, iris_radius=e[6], iris_y_mean=(e[1] + e[3]) / 2,
                    open_mean=(e[4] + e[5]) / 2, iris_x_mean=(e[0] + e[2]) / 2, pitch=s.pyr[0], yaw=s.pyr[1])
        for k, v in vals.items():
            rows[k].append(float(v))
    return {k: np.array(v) for k, v in rows.items()}


def fit(measured: dict, cfg: G.GeneratorConfig, n: int, iterations: int = 4) -> tuple[np.ndarray, list]:
    theta = np.array([cfg.eyeball_dy_mm, cfg.upper_lid_deg[0], cfg.lower_lid_deg[0], cfg.iris_radius_mm[0]], float)
    target = np.array([measured[k]["mean"] for k in OBSERVED])
    steps = np.array([0.3, 1.0, 1.0, 0.2])
    log = []

    def means(th):
        sim = simulate_frontal(_with(cfg, th), n)
        return np.array([sim[k].mean() for k in OBSERVED])

    for it in range(iterations):
        m0 = means(theta)
        jac = np.stack([(means(theta + steps * np.eye(4)[j]) - m0) / steps[j] for j in range(4)], axis=1)
        delta = np.linalg.lstsq(jac, target - m0, rcond=None)[0]
        log.append({"iteration": it, "theta": theta.round(4).tolist(), "simulated": m0.round(5).tolist(), "target": target.round(5).tolist()})
        print(f"iteration {it}: theta {np.round(theta, 3)}, simulated {np.round(m0, 4)}, target {np.round(target, 4)}", file=sys.stderr)
        theta = theta + np.clip(delta, -3 * steps, 3 * steps)
    return theta, log


def _table(sim: dict) -> dict:
    return {k: {"mean": round(float(v.mean()), 5), "sd": round(float(v.std()), 5)} for k, v in sim.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stats", default=os.path.join(HERE, "real_landmark_stats.json"))
    ap.add_argument("--out", default=os.path.join(HERE, "generator_fit.json"))
    ap.add_argument("--n", type=int, default=400, help="generated sequences per evaluation")
    ap.add_argument("--iterations", type=int, default=4)
    args = ap.parse_args(argv)
    real = json.load(open(args.stats))
    measured = real["frontal"]
    start = replace(G.GeneratorConfig(), eyeball_dy_mm=0.3, upper_lid_deg=(19.0, 1.5), lower_lid_deg=(15.0, 1.0),
                    iris_radius_mm=(5.75, 0.35), pitch_bias_deg=(0.0, 0.0))  # the version-4 generator
    before = simulate_frontal(start, args.n)
    theta, log = fit(measured, start, args.n, args.iterations)
    fitted = _with(start, theta)
    after = simulate_frontal(fitted, args.n)
    pitch_bias = measured["pitch"]["mean"] - float(after["pitch"].mean())
    result = {
        "what": "generator parameters fitted to the real-face statistics (training/gaze/real_landmark_stats.json, 'frontal')",
        "fitted": {"eyeball_dy_mm": round(float(theta[0]), 3), "upper_lid_deg": round(float(theta[1]), 2),
                   "lower_lid_deg": round(float(theta[2]), 2), "iris_radius_mm": round(float(theta[3]), 3),
                   "pitch_bias_deg": round(pitch_bias, 2)},
        "measured_frontal": {k: measured[k] for k in REPORTED},
        "simulated_version4": _table(before),
        "simulated_fitted": _table(after),
        "iterations": log,
        "n_per_evaluation": args.n,
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(json.dumps(result["fitted"]))
    for k in REPORTED:
        print(f"{k:12s} real {measured[k]['mean']:+.4f} ± {measured[k]['sd']:.4f}   v4 {before[k].mean():+.4f} ± {before[k].std():.4f}"
              f"   fitted {after[k].mean():+.4f} ± {after[k].std():.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
