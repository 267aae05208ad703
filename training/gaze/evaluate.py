"""Evaluate gaze .tflite models on held-out generated subjects through the runtime (no TensorFlow).

Protocol (per held-out subject: a new face, eyes, kappa, lids, head-pose bias, screen, camera
and noise level drawn from generator.held_out_config(), whose tails training never saw):
1. calibration session: the subject sits at a "home" pose (|yaw|, |pitch| <= 10 deg,
   0.45-0.8 m) and fixates the 25 points of a 5×5 grid at 0.1 .. 0.9 for CAL_WINDOWS windows of
   15 frames each; the mean over a point's windows of the model output, the calibration
   features and the raw inputs is one calibration sample. Protocols: `cal5` = the 5 default
   points (corners inset 10 %, centre), `cal9` = the 3×3 grid at 0.1/0.5/0.9, `cal25` = all,
   fitted with GazeCalibration() (features, leave-one-out penalties); `affine5` = the version-4
   calibration (affine, ridge 0.3) on the 5 points; baselines on the same samples: `centre`
   (always the screen centre) and `ridge5` / `ridge9` / `ridge25` (ridge from the model's 13 raw
   inputs, gaze_protocols.RidgeBaseline).
2. test sets: "full": 50 random sequences (any pose in the training range, any position,
   fixations, saccades, pursuit, blinks), label = the fixated point at the last frame; "near":
   30 sequences within +-10 deg / 0.1 m of the home pose; "fix": the steady blink-free fixations
   of "full"; "motion": steady fixations of random on-screen points after the head moved from
   the home pose: 13 conditions (home, +-10 cm along x, y, z, +-15 deg of yaw, pitch, roll),
   MOTION_PER condition sequences each.
Angular error: angle between the true visual axis (eye mid-point -> true target) and the ray
from the eye mid-point to the predicted point; screen error: Euclidean distance in normalized
units of the subject's screen.

`full_report` (used by train.py) evaluates INT8 and FP32 on the test subjects (seed 1000) and
INT8 on subjects at the landmark jitter measured for MediaPipe (seed 3000, `measured_noise_config`).

    python -m training.gaze.evaluate --model models/gaze_hybrid_int8.tflite [--model other.tflite] [--noise measured]
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from sentin_ros.inference.gaze import GazeModel, calibration_features, canonical_eye_features
from sentin_ros.inference.gaze_calibration import DEFAULT_POINTS, GazeCalibration
from sentin_ros.inference.gaze_protocols import GRID9, RidgeBaseline, raw_inputs
from sentin_ros.inference.gaze_screen import REFERENCE_SCREEN, angle_deg, convert
from sentin_ros.runtime import ModelOptions

from . import generator as G

GRID25 = tuple((x, y) for y in (0.1, 0.3, 0.5, 0.7, 0.9) for x in (0.1, 0.3, 0.5, 0.7, 0.9))
CAL_WINDOWS = 3
MOTION = {"home": (0, 0, 0, 0, 0, 0), "x-10cm": (-0.1, 0, 0, 0, 0, 0), "x+10cm": (0.1, 0, 0, 0, 0, 0),
          "y-10cm": (0, -0.1, 0, 0, 0, 0), "y+10cm": (0, 0.1, 0, 0, 0, 0), "z-10cm": (0, 0, -0.1, 0, 0, 0),
          "z+10cm": (0, 0, 0.1, 0, 0, 0), "yaw-15": (0, 0, 0, -15, 0, 0), "yaw+15": (0, 0, 0, 15, 0, 0),
          "pitch-15": (0, 0, 0, 0, -15, 0), "pitch+15": (0, 0, 0, 0, 15, 0), "roll-15": (0, 0, 0, 0, 0, -15),
          "roll+15": (0, 0, 0, 0, 0, 15)}  # (dx, dy, dz m; dyaw, dpitch, droll deg) from the home pose
MOTION_PER = 8
PROTOCOLS = ("uncal", "cal5", "cal9", "cal25", "affine5", "centre", "ridge5", "ridge9", "ridge25")


def measured_noise_config() -> G.GeneratorConfig:
    """Held-out subjects (full per-subject variation) at the landmark jitter measured for MediaPipe
    here (per-landmark ~0.15 px at 67 px IOD): inside the training noise range."""
    from dataclasses import replace

    return replace(G.held_out_config(), noise_px=(0.1, 0.2), noise_iris_px=(0.05, 0.15))


def build_eval_set(n_subjects: int = 40, seed: int = 1000, n_full: int = 50, n_near: int = 30, cfg: G.GeneratorConfig | None = None,
                   motion: bool = True):
    cfg = cfg or G.held_out_config()
    rng = np.random.default_rng(seed)
    subjects = []
    for _ in range(n_subjects):
        subject, session = G.sample_subject(rng, cfg), G.sample_session(rng, cfg)
        home = np.array([rng.uniform(-10, 10), rng.uniform(-10, 10), rng.uniform(-5, 5)])
        z = rng.uniform(0.45, 0.8)
        home_pos = np.array([rng.uniform(-0.1, 0.1) * z, rng.uniform(-0.05, 0.15) * z, z])
        cal = []
        for pt in GRID25:
            seqs = [G.generate_sequence(rng, subject, session, cfg, targets_xy=np.array(pt), pose=home + rng.normal(0, 1, 3),
                                        position_m=home_pos + rng.normal(0, 0.01, 3), head_speed_dps=rng.uniform(0, 2), blink=False)
                    for _ in range(CAL_WINDOWS)]
            cal.append((np.array(pt), seqs))
        full = [G.generate_sequence(rng, subject, session, cfg) for _ in range(n_full)]
        near = []
        for _ in range(n_near):
            pose = home + rng.uniform(-10, 10, 3) * np.array([1, 1, 0.5])
            near.append(G.generate_sequence(rng, subject, session, cfg, pose=pose, position_m=home_pos + rng.uniform(-0.1, 0.1, 3) * np.array([1, 0.5, 1])))
        moved = {}
        for name, (dx, dy, dz, dyaw, dpitch, droll) in (MOTION.items() if motion else ()):
            moved[name] = [G.generate_sequence(rng, subject, session, cfg, targets_xy=rng.uniform(0.05, 0.95, 2),
                                               pose=home + np.array([dyaw, dpitch, droll]) + rng.normal(0, 1, 3),
                                               position_m=home_pos + np.array([dx, dy, dz]) + rng.normal(0, 0.01, 3),
                                               head_speed_dps=rng.uniform(0, 2), blink=False, mode="fixation")
                           for _ in range(MOTION_PER)]
        subjects.append(dict(session=session, cal=cal, full=full, near=near, motion=moved))
    return subjects


def _inputs(model: GazeModel, seq: G.Sequence, screen) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model output on `screen`, calibration features, raw inputs of one sequence."""
    canon = canonical_eye_features(seq.eye, seq.width, seq.height)
    pred = convert(model.predict_reference(canon, seq.ypr), REFERENCE_SCREEN, screen)
    return pred, calibration_features(canon, seq.ypr), raw_inputs(canon, seq.ypr)


def _predict(model: GazeModel, seq: G.Sequence, screen) -> np.ndarray:
    return _inputs(model, seq, screen)[0]


def _errors(arr: dict, preds: np.ndarray, screen):
    pred_mm = screen.to_camera_mm(preds)
    ang = angle_deg(arr["target_mm"] - arr["eye_mm"], pred_mm - arr["eye_mm"])
    return ang, np.linalg.norm(preds - arr["truth_xy"], axis=1)


def _arrays(model: GazeModel, seqs, screen) -> dict:
    rows = [_inputs(model, s, screen) for s in seqs]
    return {"p": np.array([r[0] for r in rows]), "f": np.array([r[1] for r in rows]), "r": np.array([r[2] for r in rows]),
            "target_mm": np.array([s.target_mm for s in seqs]), "eye_mm": np.array([s.eye_mid_mm for s in seqs]),
            "truth_xy": np.array([screen.from_camera_mm(s.target_mm) for s in seqs]),
            "keep": np.array([q.mode == "fixation" and q.blink == 0 for q in seqs])}


def _correctors(cal_samples, calibration=GazeCalibration) -> tuple[dict, dict]:
    """The per-protocol corrections fitted on one subject's calibration samples, and their leave-one-out residuals."""
    targets = np.array([t for t, _, _, _ in cal_samples])
    pick = {5: [GRID25.index(p) for p in DEFAULT_POINTS], 9: [GRID25.index(p) for p in GRID9], 25: list(range(len(GRID25)))}
    out, loo = {"uncal": lambda p, f, r: p, "centre": lambda p, f, r: np.full_like(p, 0.5)}, {}
    for k, idx in pick.items():
        cal = calibration()
        for i in idx:
            t, p, f, _ = cal_samples[i]
            cal.add_sample(p, t, f)
        loo[f"cal{k}"] = cal.fit()
        out[f"cal{k}"] = lambda p, f, r, cal=cal: cal.apply(p, f)
        ridge = RidgeBaseline().fit(np.array([cal_samples[i][3] for i in idx]), targets[idx])
        out[f"ridge{k}"] = lambda p, f, r, ridge=ridge: ridge.predict(r)
    affine = GazeCalibration(method="affine")
    for i in pick[5]:
        affine.add_sample(cal_samples[i][1], cal_samples[i][0])
    affine.fit()
    out["affine5"] = lambda p, f, r: affine.apply(p)
    return out, loo


def collect(model_path: str, subjects, num_threads: int = 1) -> list[dict]:
    """Model outputs, calibration features and raw inputs of every sequence (the slow part, done once)."""
    model = GazeModel(model_path, ModelOptions(num_threads=num_threads))
    out = []
    t0 = time.perf_counter()
    count = 0
    for sub in subjects:
        screen = sub["session"].screen
        cal_samples = []
        for target, seqs in sub["cal"]:
            rows = [_inputs(model, s, screen) for s in seqs]
            cal_samples.append((target, *(np.mean([r[j] for r in rows], axis=0) for j in range(3))))
        groups = {"full": sub["full"], "near": sub["near"], **{"motion_" + m: v for m, v in sub["motion"].items()}}
        out.append({"screen": screen, "cal": cal_samples, "sets": {k: _arrays(model, v, screen) for k, v in groups.items()}})
        count += sum(len(v) for v in groups.values()) + sum(len(v) for _, v in sub["cal"])
    model.close()
    if out:
        out[0]["predict_ms"] = 1000 * (time.perf_counter() - t0) / max(count, 1)
    return out


def evaluate(model_path: str, subjects, num_threads: int = 1, clean=None, collected=None, calibration=GazeCalibration) -> dict:
    collected = collected if collected is not None else collect(model_path, subjects, num_threads)
    names = list(collected[0]["sets"]) if collected else []
    sets = ["full", "near", "fix"] + [n for n in names if n.startswith("motion_")]
    acc = {f"{k}_{tag}": {"angle": [], "screen": []} for k in sets for tag in PROTOCOLS}
    residuals = {f"cal{k}": [] for k in (5, 9, 25)}
    for sub in collected:
        fix, loo = _correctors(sub["cal"], calibration)
        for k, v in loo.items():
            residuals[k].append(v)
        for name, arr in sub["sets"].items():
            for tag in PROTOCOLS:
                a, s_ = _errors(arr, fix[tag](arr["p"], arr["f"], arr["r"]), sub["screen"])
                acc[f"{name}_{tag}"]["angle"].append(a)
                acc[f"{name}_{tag}"]["screen"].append(s_)
                if name == "full":  # steady fixations without blink: the best case
                    acc[f"fix_{tag}"]["angle"].append(a[arr["keep"]])
                    acc[f"fix_{tag}"]["screen"].append(s_[arr["keep"]])
    out = {}
    for k, v in acc.items():
        out[k] = {"angle_deg": _summary(np.concatenate(v["angle"])), "screen_norm": _summary(np.concatenate(v["screen"])),
                  "n": int(sum(len(a) for a in v["angle"]))}
    out["calibration_loo_residual_norm"] = {k: _summary(np.array(v)) for k, v in residuals.items()}
    out["python_predict_ms"] = round(float(collected[0].get("predict_ms", float("nan"))), 4) if collected else None
    if clean:
        model = GazeModel(model_path, ModelOptions(num_threads=num_threads))
        preds = np.array([_predict(model, s, REFERENCE_SCREEN) for s in clean])
        model.close()
        a, s_ = _errors(_arrays_clean(clean), preds, REFERENCE_SCREEN)
        truth = np.array([s.target_ref for s in clean])
        out["clean_mean_subject"] = {"angle_deg": _summary(a), "screen_norm": _summary(s_), "n": len(clean),
                                     "slope_pred_vs_true": [round(float(np.polyfit(truth[:, j], preds[:, j], 1)[0]), 3) for j in (0, 1)]}
    return out


def _arrays_clean(seqs) -> dict:
    return {"target_mm": np.array([s.target_mm for s in seqs]), "eye_mm": np.array([s.eye_mid_mm for s in seqs]),
            "truth_xy": np.array([REFERENCE_SCREEN.from_camera_mm(s.target_mm) for s in seqs])}


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
                   upper_lid_deg=(G.GeneratorConfig().upper_lid_deg[0], 0.0), lower_lid_deg=(G.GeneratorConfig().lower_lid_deg[0], 0.0),
                   pitch_bias_deg=(G.GeneratorConfig().pitch_bias_deg[0], 0.0), yaw_roll_bias_sd_deg=0.0,
                   modes={"fixation": 1.0}, image_sizes=((640, 480),))


def build_clean_set(n: int = 300, seed: int = 5):
    cfg = clean_config()
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        subject, session = G.sample_subject(rng, cfg), G.sample_session(rng, cfg, screen=REFERENCE_SCREEN)
        out.append(G.generate_sequence(rng, subject, session, cfg))
    return out


def _table(res: dict) -> dict:
    """The headline numbers of one evaluate() result: per test set and protocol, mean / p95 angle and screen error."""
    out = {}
    for key, v in res.items():
        if isinstance(v, dict) and "angle_deg" in v and "_" in key and not key.startswith("clean"):
            out[key] = {"angle_mean_deg": v["angle_deg"]["mean"], "angle_p95_deg": v["angle_deg"]["p95"],
                        "screen_mean": v["screen_norm"]["mean"], "screen_median": v["screen_norm"]["median"],
                        "screen_p95": v["screen_norm"]["p95"], "n": v["n"]}
    return out


def motion_growth(res: dict, protocols=("cal5", "cal9", "ridge5", "uncal")) -> dict:
    """Per motion condition and protocol: mean angle / screen error and the growth over the home condition."""
    out = {}
    for tag in protocols:
        home = res.get(f"motion_home_{tag}")
        if home is None:
            continue
        rows = {}
        for m in MOTION:
            v = res[f"motion_{m}_{tag}"]
            rows[m] = {"angle_mean_deg": v["angle_deg"]["mean"], "screen_mean": v["screen_norm"]["mean"],
                       "angle_growth_deg": round(v["angle_deg"]["mean"] - home["angle_deg"]["mean"], 3),
                       "screen_growth": round(v["screen_norm"]["mean"] - home["screen_norm"]["mean"], 4)}
        out[tag] = rows
    return out


def cached_eval_set(cache_dir: str | None, n_subjects: int, seed: int, measured: bool = False, motion: bool = True):
    """build_eval_set, pickled under cache_dir (the sets do not depend on the model; generating them is the slow part)."""
    import os
    import pickle

    path = os.path.join(cache_dir, f"evalset_s{seed}_n{n_subjects}{'_measured' if measured else ''}{'' if motion else '_nomotion'}.pkl") \
        if cache_dir else None
    if path and os.path.exists(path):
        with open(path, "rb") as f:
            return pickle.load(f)
    subjects = build_eval_set(n_subjects, seed=seed, cfg=measured_noise_config() if measured else None, motion=motion)
    if path:
        os.makedirs(cache_dir, exist_ok=True)
        with open(path + ".tmp", "wb") as f:
            pickle.dump(subjects, f)
        os.replace(path + ".tmp", path)
    return subjects


def full_report(int8_path: str, fp32_path: str, n_subjects: int = 40, cache_dir: str | None = None) -> dict:
    """Held-out test subjects (seed 1000, held_out_config noise) for INT8 and FP32, and seed 3000
    at the measured MediaPipe jitter (INT8)."""
    t0 = time.time()
    clean = build_clean_set()
    test = cached_eval_set(cache_dir, n_subjects, 1000)
    res_int8 = evaluate(int8_path, test, clean=clean)
    res_fp32 = evaluate(fp32_path, test, clean=clean)
    measured = evaluate(int8_path, cached_eval_set(cache_dir, n_subjects, 3000, measured=True, motion=False))
    print(f"evaluation took {time.time() - t0:.0f} s", file=sys.stderr)
    return {
        "calibration": "GazeCalibration() (features, leave-one-out penalties); affine5 = version 4 (affine, ridge 0.3)",
        "summary": {
            "int8_heldout": _table(res_int8),
            "fp32_heldout": {k: v for k, v in _table(res_fp32).items() if not k.startswith("motion")},
            "int8_measured_noise": _table(measured),
            "int8_head_motion": motion_growth(res_int8),
            "int8_clean_mean_subject": res_int8["clean_mean_subject"],
            "int8_calibration_loo_residual": res_int8["calibration_loo_residual_norm"],
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
    print(json.dumps({m: {"summary": _table(r), "head_motion": motion_growth(r)} for m, r in res.items()}, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            f.write(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
