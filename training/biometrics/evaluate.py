r"""Age and gender error of a soft-biometrics .tflite on a file in the utkface64.npz format.

    python -m training.biometrics.evaluate --model models/soft_biometrics_int8.tflite \
        --data ../shared/datasets/utkface64.npz [--split test|val|train|all] [--json]

Each face goes through exactly what the biometrics node runs: the 64x64 BGR crop (here the
stored UTKFace-aligned face as cv2.imdecode gives it; on a camera, the face node's
crop_color) -> sentin_ros.inference.biometrics.BiometricsModel.infer (pixel / 255, the
model's own input quantization, one invoke, 1 thread) -> age = mean of the age-bin
distribution, gender "female" when its probability is >= 0.5. Single frames: no smoothing.

--split picks rows by training.biometrics.data.split_indices (the fixed seed, on this file's
row count; the card reports `test`); `all` takes every row (for a file that is not ours).
--recrop (runtime venv: needs the face stage) replaces each stored face by the crop the face
node would publish: the 64x64 face upscaled 4x, padded by edge replication so the detector sees
the whole head, run through sentin_ros.core.face_pipeline.FacePipeline (color_crop on), its
crop_color; faces the stage does not find are left out and counted (`recrop_missed`).
This measures the run-time alignment against UTKFace's own.
--json prints one object: n, age_mae, gender_accuracy, per_race / per_gender / per_age_group
(each key -> n, age_mae, gender_accuracy), the best-worst gaps, and timing.
Runs in the runtime venv (numpy, OpenCV, ai_edge_litert) as well as in the training venv.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from . import data as D

#: Apparent-age groups of the card (and of Biometrics.age_group): (lower bound, name).
AGE_GROUP_BOUNDS = ((0, "0-12"), (13, "13-19"), (20, "20-34"), (35, "35-54"), (55, "55+"))


def age_group_of(age: np.ndarray) -> np.ndarray:
    names = np.array([n for _, n in AGE_GROUP_BOUNDS])
    bounds = np.array([b for b, _ in AGE_GROUP_BOUNDS])
    return names[np.searchsorted(bounds, age, side="right") - 1]


def predict(model_path: str, images: np.ndarray, num_threads: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """-> (age, age spread, P(female), seconds per face) for uint8 (N, 64, 64, 3) BGR faces."""
    from sentin_ros.inference.biometrics import BiometricsModel, age_stats
    from sentin_ros.runtime import ModelOptions

    model = BiometricsModel(model_path, ModelOptions(num_threads=num_threads))
    age, spread, pf = (np.empty(len(images), np.float64) for _ in range(3))
    t0 = time.perf_counter()
    for i, img in enumerate(images):
        probs, pf[i] = model.infer(img)
        age[i], spread[i] = age_stats(probs)
    dt = (time.perf_counter() - t0) / max(1, len(images))
    model.close()
    return age, spread, pf, dt


def group_scores(pred_age, pf, age, gender, mask) -> dict:
    n = int(mask.sum())
    if n == 0:
        return {"n": 0, "age_mae": None, "gender_accuracy": None}
    return {"n": n, "age_mae": float(np.abs(pred_age[mask] - age[mask]).mean()),
            "gender_accuracy": float(((pf[mask] >= 0.5) == gender[mask]).mean())}


def gap(groups: dict, key: str, min_n: int = 30) -> dict:
    """Best and worst group by `key` among groups of at least min_n faces."""
    ok = {k: v[key] for k, v in groups.items() if v["n"] >= min_n and v[key] is not None}
    if not ok:
        return {}
    best_is_high = key == "gender_accuracy"
    best = (max if best_is_high else min)(ok, key=ok.get)
    worst = (min if best_is_high else max)(ok, key=ok.get)
    return {"best": best, "worst": worst, "gap": float(abs(ok[best] - ok[worst])), "min_n": min_n}


def gap_interval(correct: np.ndarray, group: np.ndarray, min_n: int = 30, reps: int = 2000, seed: int = 0) -> dict:
    """Bootstrap (faces resampled within each group) 5th-95th percentile of the best-worst gap in
    the share of `correct`: how far the measured gap could move on another sample of this size."""
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(group == g) for g in sorted(set(group.tolist())) if g >= 0 and (group == g).sum() >= min_n]
    gaps = np.empty(reps)
    for i in range(reps):
        acc = [correct[rng.choice(m, len(m))].mean() for m in members]
        gaps[i] = max(acc) - min(acc)
    return {"p05": float(np.percentile(gaps, 5)), "p95": float(np.percentile(gaps, 95)), "reps": reps}


def report(pred_age, spread, pf, age, gender, race) -> dict:
    out = group_scores(pred_age, pf, age, gender, np.ones(len(age), bool))
    out["age_spread_mean"] = float(spread.mean())
    err = np.abs(pred_age - age)
    out["age_within_spread"] = float((err <= spread).mean())
    out["age_median_ae"] = float(np.median(err))
    out["per_race"] = {str(r): {"name": D.RACES.get(int(r), "?"), **group_scores(pred_age, pf, age, gender, race == r)}
                       for r in sorted(set(race.tolist()))}
    out["per_gender"] = {str(g): {"name": D.GENDERS[int(g)], **group_scores(pred_age, pf, age, gender, gender == g)}
                         for g in sorted(set(gender.tolist()))}
    groups = age_group_of(age)
    out["per_age_group"] = {name: group_scores(pred_age, pf, age, gender, groups == name) for _, name in AGE_GROUP_BOUNDS}
    per_race_gender = {f"{r}/{g}": group_scores(pred_age, pf, age, gender, (race == r) & (gender == g))
                       for r in sorted(set(race.tolist())) if r >= 0 for g in (0, 1)}
    out["per_race_gender"] = per_race_gender
    # The race groups' age mixes differ (ages 0-12: 29 % of the Asian test faces, 3 % of the Black
    # ones) and children's gender is close to a guess, so a raw per-race gap mixes race and age.
    races = [r for r in sorted(set(race.tolist())) if r >= 0]
    out["per_race_age_13_plus"] = {str(r): group_scores(pred_age, pf, age, gender, (race == r) & (age >= 13)) for r in races}
    share = {name: float((groups == name).mean()) for _, name in AGE_GROUP_BOUNDS}
    standardised = {}
    for r in races:
        cells = {name: group_scores(pred_age, pf, age, gender, (race == r) & (groups == name)) for name in share}
        w = {name: share[name] for name, c in cells.items() if c["n"]}
        standardised[str(r)] = {"n": int((race == r).sum()),
                                "gender_accuracy": sum(w[k] * cells[k]["gender_accuracy"] for k in w) / sum(w.values())}
    out["per_race_age_standardised"] = standardised
    out["gaps"] = {
        "race_gender_accuracy_age_13_plus": gap(out["per_race_age_13_plus"], "gender_accuracy"),
        "race_gender_accuracy_age_standardised": gap(standardised, "gender_accuracy"),
        "race_gender_accuracy": gap({k: v for k, v in out["per_race"].items() if k != "-1"}, "gender_accuracy"),
        "race_age_mae": gap({k: v for k, v in out["per_race"].items() if k != "-1"}, "age_mae"),
        "gender_gender_accuracy": gap(out["per_gender"], "gender_accuracy"),
        "gender_age_mae": gap(out["per_gender"], "age_mae"),
        "race_x_gender_gender_accuracy": gap(per_race_gender, "gender_accuracy"),
    }
    out["gaps"]["race_gender_accuracy"]["bootstrap_90"] = gap_interval((pf >= 0.5) == gender, race)
    return out


def published(pred_age, pf, age, gender, race, gender_min_age: float) -> dict:
    """Gender as the node publishes it: withheld for faces the model thinks younger than
    gender_min_age (inference.biometrics.GENDER_MIN_AGE). Accuracy on the faces it speaks for,
    and the share of each group it speaks for (`coverage`), so a group cannot look better by
    being left out more."""
    shown = pred_age >= gender_min_age
    races = [r for r in sorted(set(race.tolist())) if r >= 0]
    per_race = {}
    for r in races:
        cell = group_scores(pred_age, pf, age, gender, (race == r) & shown)
        per_race[str(r)] = {"name": D.RACES.get(int(r), "?"), **cell, "coverage": float(shown[race == r].mean())}
    groups = age_group_of(age)
    per_age = {name: {"n": int((groups == name).sum()), "coverage": float(shown[groups == name].mean()) if (groups == name).any() else None}
               for _, name in AGE_GROUP_BOUNDS}
    g = gap(per_race, "gender_accuracy")
    g["bootstrap_90"] = gap_interval((pf >= 0.5) == gender, np.where(shown, race, -1))
    return {"gender_min_age": gender_min_age, "coverage": float(shown.mean()),
            "gender_accuracy": float(((pf[shown] >= 0.5) == gender[shown]).mean()),
            "per_race": per_race, "per_age_group_coverage": per_age, "race_gender_accuracy_gap": g}


def recrop(images: np.ndarray, upscale: int = 4, pad: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """The face stage's crop_color of each face (see --recrop) -> (crops, found mask)."""
    import cv2

    from sentin_ros.core.face_pipeline import FacePipeline, FacePipelineConfig

    pipe = FacePipeline(FacePipelineConfig(color_crop=True))
    out, found = np.zeros_like(images), np.zeros(len(images), bool)
    for i, img in enumerate(images):
        big = cv2.resize(img, (img.shape[1] * upscale, img.shape[0] * upscale), interpolation=cv2.INTER_CUBIC)
        big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        pipe.reset()
        faces = pipe.process(big, 0.0, "bgr8", still=True).faces
        if faces:
            out[i], found[i] = max(faces, key=lambda f: f.quality.size_px).crop_color, True
    pipe.close()
    return out, found


def evaluate(model_path: str, data_path: str, split: str = "test", images: np.ndarray | None = None, num_threads: int = 1,
             recropped: bool = False, limit: int = 0, gender_min_age: float | None = None) -> dict:
    from sentin_ros.inference.biometrics import GENDER_MIN_AGE

    labels = D.load_labels(data_path)
    n_all = len(labels["age"])
    rows = np.arange(n_all) if split == "all" else D.split_indices(n_all)[split]
    if limit:
        rows = rows[:limit]
    imgs = (images if images is not None else D.decode_all(data_path))[rows]
    missed = 0
    if recropped:
        imgs, found = recrop(imgs)
        missed, rows, imgs = int((~found).sum()), rows[found], imgs[found]
    pred_age, spread, pf, dt = predict(model_path, imgs, num_threads)
    out = {"model": model_path, "data": data_path, "split": split, "split_seed": D.SPLIT_SEED,
           **report(pred_age, spread, pf, labels["age"][rows], labels["gender"][rows], labels["race"][rows])}
    out["published"] = published(pred_age, pf, labels["age"][rows], labels["gender"][rows], labels["race"][rows],
                                 GENDER_MIN_AGE if gender_min_age is None else gender_min_age)
    out["seconds_per_face"] = dt
    if recropped:
        out["recrop_missed"] = missed
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", default=D.DEFAULT_DATA)
    ap.add_argument("--split", default="test", choices=("test", "val", "train", "all"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--recrop", action="store_true", help="evaluate on the face stage's own crop of each face (see above)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N rows of the split")
    ap.add_argument("--gender-min-age", type=float, default=None,
                    help="the node's gender_min_age for the `published` section (default: the node's default, 13)")
    ap.add_argument("--json", action="store_true", help="print the whole report as JSON")
    a = ap.parse_args(argv)
    r = evaluate(a.model, a.data, a.split, num_threads=a.threads, recropped=a.recrop, limit=a.limit, gender_min_age=a.gender_min_age)
    if a.json:
        print(json.dumps(r, indent=1))
        return 0
    extra = f" (re-cropped by the face stage; {r['recrop_missed']} not found)" if a.recrop else ""
    print(f"{a.model} on {a.data} [{a.split}]{extra}, n={r['n']}: age MAE {r['age_mae']:.2f} y, gender accuracy {100 * r['gender_accuracy']:.2f} %")
    for title, key in (("race", "per_race"), ("gender", "per_gender"), ("age group", "per_age_group")):
        for k, v in r[key].items():
            if v["n"]:
                print(f"  {title} {k} {v.get('name', '')}: n={v['n']} age MAE {v['age_mae']:.2f} y, gender {100 * v['gender_accuracy']:.2f} %")
    p = r["published"]
    print(f"gender as published (withheld below {p['gender_min_age']:g} apparent years): given for {100 * p['coverage']:.1f} % of the faces, "
          f"{100 * p['gender_accuracy']:.2f} % right; race gap {100 * p['race_gender_accuracy_gap']['gap']:.2f} points")
    for k, v in p["per_race"].items():
        print(f"  race {k} {v['name']}: gender given for {100 * v['coverage']:.1f} %, {100 * v['gender_accuracy']:.2f} % right (n={v['n']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
