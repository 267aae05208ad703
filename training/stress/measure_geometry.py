"""Measure the 12 geometry metrics on real faces: the numbers the stress generator is grounded in.

Runs in the runtime venv (needs mediapipe), not the TensorFlow one:

    .venv/bin/python training/stress/measure_geometry.py            # writes training/stress/geometry_stats.json

1. FER2013 Training faces (../shared/datasets/fer2013.npz), up to --per-class per expression class:
   each 48x48 face is upscaled to 192x192 (bicubic) and padded to 384x384 with grey (128), then run
   through MediaPipe FaceMesh (static images, refine_landmarks=True, the same model the face core
   uses); head pose from the core's HeadPoseEstimator; the metrics from
   `sentin_ros.core.features.geometry_metrics` (head_motion = 0: a still image has no motion).
   Gives per-class mean / std / median of every metric: the neutral baseline, the between-person
   spread, and the class differences (angry vs neutral brows, happy vs neutral lip corners, ...).
2. The shared real clips (../shared/media) through the whole `FacePipeline` (tracking, pose,
   head_motion in deg/s): per-clip level and frame-to-frame jitter of every metric, so the
   generator's measurement noise and head_motion baseline come from live video, not guesses.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import cv2
import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, ROOT)

from sentin_ros.core.face_pipeline import FacePipeline  # noqa: E402
from sentin_ros.core.features import GEOMETRY_NAMES, geometry_metrics  # noqa: E402
from sentin_ros.core.head_pose import HeadPoseEstimator  # noqa: E402

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared"))
CLIPS = ("single_face_640x360.mp4", "pexels_wolfgang_langer_640x360.mp4", "face_then_noface_960x540.mov")


def fer_canvas(face48: np.ndarray) -> np.ndarray:
    big = cv2.resize(face48, (192, 192), interpolation=cv2.INTER_CUBIC)
    canvas = np.full((384, 384), 128, np.uint8)
    canvas[96:288, 96:288] = big
    return cv2.cvtColor(canvas, cv2.COLOR_GRAY2RGB)


def measure_fer(path: str, per_class: int, seed: int) -> dict:
    import mediapipe as mp

    with np.load(path, allow_pickle=False) as z:
        data = {k: z[k] for k in ("pixels", "label", "usage")}  # NpzFile re-reads a key on every access
    train = np.flatnonzero(data["usage"] == 0)
    labels = data["label"][train]
    rng = np.random.default_rng(seed)
    mesh = mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.3
    )
    pose = HeadPoseEstimator()
    out = {}
    for c, name in enumerate(CLASSES):
        rows = train[labels == c]
        rows = rng.choice(rows, size=min(per_class, len(rows)), replace=False)
        values = []
        for r in rows:
            rgb = fer_canvas(data["pixels"][r])
            res = mesh.process(rgb)
            if not res.multi_face_landmarks:
                continue
            pts = np.array([(p.x, p.y) for p in res.multi_face_landmarks[0].landmark], np.float64) * 384
            hp = pose.estimate(pts, 384, 384)
            if hp is None:
                continue
            values.append(geometry_metrics(pts, hp.yaw, hp.pitch, 0.0))
        v = np.array(values, np.float64)
        out[name] = {
            "n_faces": int(len(rows)),
            "n_found": int(len(v)),
            "mean": v.mean(0).round(5).tolist(),
            "std": v.std(0).round(5).tolist(),
            "median": np.median(v, 0).round(5).tolist(),
        }
        print(f"{name:9s} found {len(v)}/{len(rows)}", flush=True)
    mesh.close()
    return out


def measure_clip(path: str) -> dict:
    cap = cv2.VideoCapture(path)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    pipe = FacePipeline()
    per_face: dict[int, list[np.ndarray]] = {}
    i = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        faces = pipe.process(frame, i / fps, encoding="bgr8")
        for f in faces.faces:
            per_face.setdefault(f.face_id, []).append(f.geometry)
        i += 1
    pipe.close()
    faces = {}
    for fid, rows in per_face.items():
        g = np.array(rows, np.float64)
        if len(g) < 10:
            continue
        d = np.diff(g[1:], axis=0)  # skip the track's first frame (head_motion = 0 there)
        faces[str(fid)] = {
            "frames": int(len(g)),
            "mean": g[1:].mean(0).round(5).tolist(),
            "std": g[1:].std(0).round(5).tolist(),
            "median": np.median(g[1:], 0).round(5).tolist(),
            "p90": np.percentile(g[1:], 90, axis=0).round(5).tolist(),
            "diff_median_abs": np.median(np.abs(d), 0).round(5).tolist(),
            "diff_std": d.std(0).round(5).tolist(),
        }
    return {"fps": round(float(fps), 3), "frames": i, "faces": faces}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fer", default=os.path.join(SHARED, "datasets", "fer2013.npz"))
    ap.add_argument("--media", default=os.path.join(SHARED, "media"))
    ap.add_argument("--per-class", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "geometry_stats.json"))
    args = ap.parse_args()
    t0 = time.time()
    result = {
        "names": list(GEOMETRY_NAMES),
        "method": "FER2013 Training faces 48->192 px bicubic, padded to 384x384 grey, MediaPipe FaceMesh "
        "(static, refine_landmarks), HeadPoseEstimator, features.geometry_metrics(head_motion=0); "
        "clips through sentin_ros.core.face_pipeline.FacePipeline",
        "fer": measure_fer(args.fer, args.per_class, args.seed),
        "clips": {},
    }
    for clip in CLIPS:
        p = os.path.join(args.media, clip)
        if os.path.isfile(p):
            result["clips"][clip] = measure_clip(p)
            print(f"{clip}: {len(result['clips'][clip]['faces'])} face track(s)", flush=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {args.out} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
