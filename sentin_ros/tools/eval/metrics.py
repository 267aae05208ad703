"""Accuracy, per-class precision/recall/F1, confusion matrix, per-face traces and the raw-crop
reference, computed from the per-frame records both evaluation modes produce.
"""
from __future__ import annotations

import math

import numpy as np

from ...inference.emotion import CLASSES


# -- analysis shared by both modes ------------------------------------------------------------
def classification_metrics(y_true, y_pred, n: int = len(CLASSES)) -> dict:
    cm = np.zeros((n, n), dtype=int)
    for t, p in zip(y_true, y_pred):
        cm[int(t), int(p)] += 1
    per_class = {}
    for k in range(n):
        tp = cm[k, k]
        prec = tp / cm[:, k].sum() if cm[:, k].sum() else 0.0
        rec = tp / cm[k, :].sum() if cm[k, :].sum() else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per_class[CLASSES[k]] = {"precision": prec, "recall": rec, "f1": f1, "support": int(cm[k, :].sum())}
    total = int(cm.sum())
    return {
        "accuracy": float(np.trace(cm) / total) if total else None, "n": total,
        "macro_f1": float(np.mean([c["f1"] for c in per_class.values()])), "per_class": per_class,
        "confusion_matrix": cm.tolist(), "classes": list(CLASSES),
    }


def main_face(faces: list[dict]) -> dict | None:
    """The labelled subject: the largest face of the frame."""
    return max(faces, key=lambda f: f["roi"][2] * f["roi"][3]) if faces else None


def analyse(frames: list[dict]) -> dict:
    faces_per_frame = [len(f["faces"]) for f in frames]
    out = {
        "faces_per_frame": faces_per_frame,
        "faces_per_frame_summary": {
            "frames": len(frames), "with_face": int(sum(1 for n in faces_per_frame if n)),
            "mean": float(np.mean(faces_per_frame)) if frames else 0.0, "max": max(faces_per_frame, default=0),
        },
        "traces": traces(frames),
    }
    labelled = [f for f in frames if f.get("label") is not None]
    if labelled:
        y_true, y_pred, missed, no_emotion, uncertain = [], [], [], 0, 0
        for f in labelled:
            face = main_face(f["faces"])
            if face is None:
                missed.append(f["label"])
                continue
            if "emotion" not in face:
                no_emotion += 1
                continue
            y_true.append(int(f["label"]["label"]))
            y_pred.append(int(np.argmax(face["emotion"]["probabilities"])))
            uncertain += face["emotion"]["label"] == "uncertain"
        acc = {"labelled_frames": len(labelled), "detector_missed": len(missed),
               "detector_miss_rate": len(missed) / len(labelled),
               "missed_per_class": {c: sum(1 for m in missed if int(m["label"]) == k) for k, c in enumerate(CLASSES)},
               "uncertain": uncertain}
        if y_true:
            m = classification_metrics(y_true, y_pred)
            acc.update({"detected": m, "accuracy_detected": m["accuracy"],
                        "accuracy_all": float(np.sum(np.array(y_true) == np.array(y_pred)) / (len(labelled) - no_emotion))})
        else:
            acc["note"] = "no emotion outputs (emotion stage " + ("skipped" if no_emotion else "found no faces") + ")"
        out["accuracy"] = acc
    return out


def traces(frames: list[dict]) -> dict:
    """Per face id: time (s from the first frame), stress level and confidence, gaze x/y, emotion label."""
    if not frames:
        return {}
    t0 = frames[0]["stamp_ns"]
    per: dict[str, dict] = {}
    for f in frames:
        t = (f["stamp_ns"] - t0) * 1e-9
        for face in f["faces"]:
            d = per.setdefault(str(face["face_id"]), {"t": [], "stress": [], "stress_confidence": [], "gaze_x": [], "gaze_y": [],
                                                        "emotion": [], "valence": []})
            d["t"].append(t)
            s, g, e = face.get("stress"), face.get("gaze"), face.get("emotion")
            d["stress"].append(_num(s, "level"))
            d["stress_confidence"].append(_num(s, "confidence"))
            d["gaze_x"].append(_num(g, "x"))
            d["gaze_y"].append(_num(g, "y"))
            d["emotion"].append(e["label"] if e else None)
            d["valence"].append(e["valence"] if e else None)
    return per


def _num(d, key):
    if not isinstance(d, dict):
        return None
    v = d.get(key)
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# -- raw-crop reference -----------------------------------------------------------------------
def raw_crop_reference(npz: str, rows: list[int], model_path: str | None = None, num_threads: int = 1) -> dict:
    """The emotion model alone on the original 48×48 crops of the given FER2013 rows."""
    from ...inference.emotion import EmotionModel
    from ...inference.model_paths import default_model_path
    from ...runtime import ModelOptions

    data = np.load(npz, allow_pickle=False)
    pixels, labels = data["pixels"], data["label"].astype(int)
    model = EmotionModel(model_path or default_model_path("emotion"), ModelOptions(num_threads=num_threads))
    try:
        preds = {int(r): int(np.argmax(model.infer(pixels[r])[0])) for r in rows}
    finally:
        model.close()
    y_true = [int(labels[r]) for r in rows]
    m = classification_metrics(y_true, [preds[int(r)] for r in rows])
    m["predictions"] = preds
    return m


def compare_with_raw(result: dict, npz: str, model_path: str | None = None) -> dict | None:
    """Pipeline vs model-on-raw-crops on the same FER2013 rows (labels carry the row `index`)."""
    labelled = [f for f in result["frames"] if f.get("label") and "index" in f["label"]]
    if not labelled or "accuracy" not in result or "detected" not in result["accuracy"]:
        return None
    rows = [int(f["label"]["index"]) for f in labelled]
    ref = raw_crop_reference(npz, rows, model_path or result.get("model_paths", {}).get("emotion"))
    detected_rows, detected_ok = [], 0
    for f in labelled:
        face = main_face(f["faces"])
        if face is not None and "emotion" in face:
            detected_rows.append(int(f["label"]["index"]))
            detected_ok += int(np.argmax(face["emotion"]["probabilities"])) == int(f["label"]["label"])
    labels = {int(f["label"]["index"]): int(f["label"]["label"]) for f in labelled}
    raw_on_detected = np.mean([ref["predictions"][r] == labels[r] for r in detected_rows]) if detected_rows else float("nan")
    acc = result["accuracy"]
    return {
        "rows": len(rows),
        "raw_crop_accuracy": ref["accuracy"],
        "raw_crop_metrics": {k: v for k, v in ref.items() if k != "predictions"},
        "pipeline_accuracy_all": acc["accuracy_all"],
        "pipeline_accuracy_detected": acc["accuracy_detected"],
        "raw_crop_accuracy_on_detected": float(raw_on_detected),
        "loss_points_all": 100 * (ref["accuracy"] - acc["accuracy_all"]),
        "loss_points_detected": 100 * (float(raw_on_detected) - acc["accuracy_detected"]),
        "detector_missed": acc["detector_missed"],
        "note": "all: a missed face counts as wrong; detected: only frames where the detector found the face, "
                "compared with the model on the raw crops of exactly those rows",
    }
