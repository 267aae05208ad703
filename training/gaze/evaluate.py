"""Evaluate gaze .tflite models on held-out generated subjects through the runtime (no TensorFlow).

Protocol (per held-out subject: a new face, eyes, kappa, screen, camera and noise level drawn
from generator.held_out_config(), whose kappa tails and noise levels training never saw):
1. calibration: the subject sits at a "home" pose (|yaw|, |pitch| <= 10 deg, 0.45-0.8 m) and
   fixates each of the 5 default points (corners inset 10 %, centre) for 8 windows of 15 frames;
   the mean prediction per point is one calibration sample; GazeCalibration.fit (affine, ridge).
2. test "full": 50 random sequences (any pose in the training range, any position, fixations,
   saccades, pursuit, blinks), label = the fixated point at the last frame.
   test "near": 30 sequences within +-10 deg / 0.1 m of the home pose.
Angular error: angle between the true visual axis (eye mid-point -> true target) and the ray
from the eye mid-point to the predicted point; screen error: Euclidean distance in normalized
units of the subject's screen.

`full_report` (used by train.py) first picks the calibration ridge on validation subjects
(seed 2000), then evaluates INT8 and FP32 on the test subjects (seed 1000) and INT8 on subjects
at the landmark jitter measured for MediaPipe (seed 3000, `measured_noise_config`).

    python -m training.gaze.evaluate --model models/gaze_hybrid_int8.tflite [--model other.tflite] [--noise measured]
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from sentin_ros.inference.calibration import DEFAULT_POINTS, GazeCalibration
from sentin_ros.inference.gaze import GazeModel, canonical_eye_features
from sentin_ros.inference.screen import REFERENCE_SCREEN, angle_deg, convert
from sentin_ros.runtime import ModelOptions

from . import generator as G


def measured_noise_config() -> G.GeneratorConfig:
    """Held-out subjects (full per-subject variation) at the landmark jitter measured for MediaPipe
    here (per-landmark ~0.15 px at 67 px IOD): inside the training noise range."""
    from dataclasses import replace

    return replace(G.held_out_config(), noise_px=(0.1, 0.2), noise_iris_px=(0.05, 0.15))


def build_eval_set(n_subjects: int = 40, seed: int = 1000, n_full: int = 50, n_near: int = 30, cal_windows: int = 8,
                   cfg: G.GeneratorConfig | None = None):
    cfg = cfg or G.held_out_config()
    rng = np.random.default_rng(seed)
    subjects = []
    for _ in range(n_subjects):
        subject, session = G.sample_subject(rng, cfg), G.sample_session(rng, cfg)
        home = np.array([rng.uniform(-10, 10), rng.uniform(-10, 10), rng.uniform(-5, 5)])
        z = rng.uniform(0.45, 0.8)
        home_pos = np.array([rng.uniform(-0.1, 0.1) * z, rng.uniform(-0.05, 0.15) * z, z])
        cal = []
        for pt in DEFAULT_POINTS:
            seqs = [G.generate_sequence(rng, subject, session, cfg, targets_xy=np.array(pt), pose=home + rng.normal(0, 1, 3),
                                        position_m=home_pos + rng.normal(0, 0.01, 3), head_speed_dps=rng.uniform(0, 2), blink=False)
                    for _ in range(cal_windows)]
            cal.append((np.array(pt), seqs))
        full = [G.generate_sequence(rng, subject, session, cfg) for _ in range(n_full)]
        near = []
        for _ in range(n_near):
            pose = home + rng.uniform(-10, 10, 3) * np.array([1, 1, 0.5])
            near.append(G.generate_sequence(rng, subject, session, cfg, pose=pose, position_m=home_pos + rng.uniform(-0.1, 0.1, 3) * np.array([1, 0.5, 1])))
        subjects.append(dict(session=session, cal=cal, full=full, near=near))
    return subjects


def _predict(model: GazeModel, seq: G.Sequence, screen) -> np.ndarray:
    canon = canonical_eye_features(seq.eye, seq.width, seq.height)
    return convert(model.predict_reference(canon, seq.ypr), REFERENCE_SCREEN, screen)


def _errors(seqs, preds, screen):
    truth_xy = np.array([screen.from_camera_mm(s.target_mm) for s in seqs])
    eye = np.array([s.eye_mid_mm for s in seqs])
    tgt = np.array([s.target_mm for s in seqs])
    pred_mm = screen.to_camera_mm(preds)
    ang = angle_deg(tgt - eye, pred_mm - eye)
    scr = np.linalg.norm(preds - truth_xy, axis=1)
    return ang, scr


def _summary(values: np.ndarray) -> dict:
    return {"mean": round(float(np.mean(values)), 4), "p95": round(float(np.percentile(values, 95)), 4),
            "median": round(float(np.median(values)), 4)}


def clean_config() -> G.GeneratorConfig:
    """Diagnostic: the mean subject, no landmark noise, true focal length, fixations only."""
    from dataclasses import replace

    return replace(G.GeneratorConfig(), kappa_h_deg=(5.0, 0.0), kappa_v_deg=(1.5, 0.0), iod_scale_sd=0.0, eye_size_sd=0.0,
                   face_shape_sd_mm=0.0, corner_bias_sd_mm=0.0, eyeball_radius_mm=(12.0, 0.0), iris_radius_mm=(5.75, 0.0),
                   eyeball_depth_mm=(5.0, 0.0), eyeball_offset_sd_mm=(0.0, 0.0), focal_scale=(1.0, 1.0),
                   noise_common_px=(0.0, 0.0), noise_px=(0.0, 0.0), noise_iris_px=(0.0, 0.0), blink_prob=0.0,
                   modes={"fixation": 1.0}, image_sizes=((640, 480),))


def build_clean_set(n: int = 300, seed: int = 5):
    cfg = clean_config()
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        subject, session = G.sample_subject(rng, cfg), G.sample_session(rng, cfg, screen=REFERENCE_SCREEN)
        out.append(G.generate_sequence(rng, subject, session, cfg))
    return out


RIDGES = (1e-3, 0.03, 0.3, 1e6)  # 1e6 = offset only


def evaluate(model_path: str, subjects, num_threads: int = 1, ridges=RIDGES, clean=None) -> dict:
    model = GazeModel(model_path, ModelOptions(num_threads=num_threads))
    sets = ("full", "near", "fix")
    acc = {f"{k}_uncal": {"angle": [], "screen": []} for k in sets}
    for r in ridges:
        acc.update({f"{k}_cal_ridge{r:g}": {"angle": [], "screen": []} for k in sets})
    residuals = {r: [] for r in ridges}
    t_inf = []
    for sub in subjects:
        screen = sub["session"].screen
        cal_pred = [(target, np.array([_predict(model, s, screen) for s in seqs]).mean(0)) for target, seqs in sub["cal"]]
        cals = {}
        for r in ridges:
            cal = GazeCalibration(ridge=r)
            for target, p in cal_pred:
                cal.add_sample(p, target)
            residuals[r].append(cal.fit())
            cals[r] = cal
        for name in ("full", "near"):
            seqs = sub[name]
            t0 = time.perf_counter()
            preds = np.array([_predict(model, s, screen) for s in seqs])
            t_inf.append((time.perf_counter() - t0) / len(seqs))
            keep = np.array([q.mode == "fixation" and q.blink == 0 for q in seqs])
            for tag, p in [("uncal", preds)] + [(f"cal_ridge{r:g}", cals[r].apply(preds)) for r in ridges]:
                a, s_ = _errors(seqs, p, screen)
                acc[f"{name}_{tag}"]["angle"].append(a)
                acc[f"{name}_{tag}"]["screen"].append(s_)
                if name == "full":  # steady fixations without blink: the best case
                    acc[f"fix_{tag}"]["angle"].append(a[keep])
                    acc[f"fix_{tag}"]["screen"].append(s_[keep])
    out = {}
    for k, v in acc.items():
        out[k] = {"angle_deg": _summary(np.concatenate(v["angle"])), "screen_norm": _summary(np.concatenate(v["screen"])),
                  "n": int(sum(len(a) for a in v["angle"]))}
    out["calibration_residual_norm"] = {f"ridge{r:g}": _summary(np.array(v)) for r, v in residuals.items()}
    out["python_predict_ms"] = round(1000 * float(np.median(t_inf)), 4)
    if clean:
        preds = np.array([_predict(model, s, REFERENCE_SCREEN) for s in clean])
        a, s_ = _errors(clean, preds, REFERENCE_SCREEN)
        truth = np.array([s.target_ref for s in clean])
        out["clean_mean_subject"] = {"angle_deg": _summary(a), "screen_norm": _summary(s_), "n": len(clean),
                                     "slope_pred_vs_true": [round(float(np.polyfit(truth[:, j], preds[:, j], 1)[0]), 3) for j in (0, 1)]}
    model.close()
    return out


def _table(res: dict, ridge: float) -> dict:
    """The headline numbers of one evaluate() result for one calibration ridge."""
    out = {}
    for name in ("full", "near", "fix"):
        for tag, key in (("uncalibrated", f"{name}_uncal"), ("calibrated", f"{name}_cal_ridge{ridge:g}")):
            v = res[key]
            out[f"{name}_{tag}"] = {"angle_mean_deg": v["angle_deg"]["mean"], "angle_p95_deg": v["angle_deg"]["p95"],
                                    "screen_mean": v["screen_norm"]["mean"], "screen_p95": v["screen_norm"]["p95"], "n": v["n"]}
    return out


def full_report(int8_path: str, fp32_path: str, n_subjects: int = 40) -> dict:
    """Ridge chosen on validation subjects (seed 2000), then held-out test subjects (seed 1000,
    held_out_config noise) for INT8 and FP32, and seed 3000 at the measured MediaPipe jitter (INT8)."""
    t0 = time.time()
    val = evaluate(int8_path, build_eval_set(max(10, n_subjects // 2), seed=2000))
    ridge = min(RIDGES, key=lambda r: val[f"full_cal_ridge{r:g}"]["angle_deg"]["mean"])
    clean = build_clean_set()
    test = build_eval_set(n_subjects, seed=1000)
    res_int8 = evaluate(int8_path, test, clean=clean)
    res_fp32 = evaluate(fp32_path, test, clean=clean)
    measured = evaluate(int8_path, build_eval_set(n_subjects, seed=3000, cfg=measured_noise_config()))
    print(f"evaluation took {time.time() - t0:.0f} s", file=sys.stderr)
    return {
        "calibration_ridge": ridge,
        "ridge_selection_on_validation_subjects": {f"ridge{r:g}": val[f"full_cal_ridge{r:g}"]["angle_deg"]["mean"] for r in RIDGES},
        "summary": {
            "int8_heldout": _table(res_int8, ridge),
            "fp32_heldout": _table(res_fp32, ridge),
            "int8_measured_noise": _table(measured, ridge),
            "int8_clean_mean_subject": res_int8["clean_mean_subject"],
        },
        "int8": res_int8,
        "fp32": res_fp32,
        "int8_measured_noise": measured,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, action="append", help="a .tflite to evaluate (repeatable)")
    ap.add_argument("--subjects", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--out", help="write the results as JSON here")
    ap.add_argument("--noise", choices=("heldout", "measured"), default="heldout",
                    help="held-out landmark noise (0.25-0.5 px) or the jitter measured for MediaPipe (0.1-0.2 px)")
    args = ap.parse_args(argv)
    t0 = time.time()
    subjects = build_eval_set(args.subjects, args.seed, cfg=measured_noise_config() if args.noise == "measured" else None)
    print(f"eval set: {args.subjects} subjects in {time.time() - t0:.0f} s", file=sys.stderr)
    clean = build_clean_set()
    res = {m: evaluate(m, subjects, clean=clean) for m in args.model}
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
