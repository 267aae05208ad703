"""Measure the eye features and head poses the face stage produces on real faces (no TensorFlow).

    .venv/bin/python -m training.gaze.measure_real [--shared ../shared] [--out training/gaze/real_landmark_stats.json]

Sources (all under the shared data folder, never copied into the repository): the real clips in
media/ (every --step-th frame), the group photos in media/groups/, --fer FER2013 faces (48x48,
upscaled x4 onto a 320x320 grey canvas) and the astronaut (sentin_ros.media.synthetic). Each
face goes through sentin_ros.core.face_pipeline.FacePipeline, exactly as at run time, and we keep
its 10 eye features (features.EYE_NAMES), its head pose and three landmark positions across
each eye's corner axis (iris centre, upper lid, lower lid relative to the corners' mid-point,
/ eye width, > 0 = down the face), which fix the generator's lid elevations and eyeball height.

The statistics (per source and pooled over faces with open eyes) go to
training/gaze/real_landmark_stats.json; training/gaze/fit_generator.py fits the generator to them.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys

import cv2
import numpy as np

from sentin_ros.core import landmarks as L
from sentin_ros.core.face_pipeline import FacePipeline
from sentin_ros.core.features import EYE_NAMES

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_SHARED = os.path.join(os.path.dirname(ROOT), "shared")
DEFAULT_OUT = os.path.join(ROOT, "training", "gaze", "real_landmark_stats.json")
EXTRA_NAMES = ("iris_v", "upper_v", "lower_v")  # across the corner axis, / eye width, > 0 = down
POSE_NAMES = ("yaw", "pitch", "roll")


def corner_axis_positions(p: np.ndarray) -> np.ndarray:
    """Mean over both eyes of the iris centre, upper-lid and lower-lid positions across the eye's
    corner axis relative to the corners' mid-point, / eye width (> 0 = down the face)."""
    out = []
    for a, b, up, lo, iris in ((L.LEFT_EYE_INNER, L.LEFT_EYE_OUTER, L.LEFT_EYE_UPPER_LID, L.LEFT_EYE_LOWER_LID, L.LEFT_IRIS),
                               (L.RIGHT_EYE_OUTER, L.RIGHT_EYE_INNER, L.RIGHT_EYE_UPPER_LID, L.RIGHT_EYE_LOWER_LID, L.RIGHT_IRIS)):
        pa, pb = p[a, :2], p[b, :2]
        w = max(float(np.linalg.norm(pb - pa)), 1e-6)
        ex = (pb - pa) / w
        ey = np.array([-ex[1], ex[0]])
        mid = (pa + pb) / 2
        out.append([((p[i, :2] - mid) @ ey) / w for i in (iris[0], up, lo)])
    return np.mean(out, axis=0)


def _rows(frames, source: str, pipe: FacePipeline, still: bool):
    rows = []
    for t, bgr in frames:
        ff = pipe.process(bgr, t, "bgr8", still=still)
        for f in ff.faces:
            if not np.all(np.isfinite(f.eye)):
                continue
            px = f.landmarks[:, :2] * np.array([ff.width, ff.height], np.float32)
            rows.append(dict(source=source, eye=f.eye.astype(float).tolist(), pose=[f.yaw, f.pitch, f.roll],
                             extra=corner_axis_positions(px).tolist(), presence=float(f.quality.presence)))
    return rows


def _video(path: str, step: int):
    cap = cv2.VideoCapture(path)
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    i = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if i % step == 0:
            yield i / fps, frame
        i += 1
    cap.release()


def collect(shared: str, step: int = 2, n_fer: int = 400, seed: int = 0) -> list[dict]:
    rows = []
    for path in sorted(glob.glob(os.path.join(shared, "media", "*.mp4")) + glob.glob(os.path.join(shared, "media", "*.mov"))):
        pipe = FacePipeline()
        rows += _rows(_video(path, step), os.path.basename(path), pipe, still=False)
        pipe.close()
        print(f"{os.path.basename(path)}: {len(rows)} faces so far", file=sys.stderr, flush=True)
    pipe = FacePipeline()
    for path in sorted(glob.glob(os.path.join(shared, "media", "groups", "*.jpg"))):
        pipe.reset()
        rows += _rows([(0.0, cv2.imread(path))], "groups", pipe, still=True)
    fer_path = os.path.join(shared, "datasets", "fer2013.npz")
    if n_fer and os.path.exists(fer_path):
        px = np.load(fer_path)["pixels"]
        idx = np.random.default_rng(seed).choice(len(px), n_fer, replace=False)
        for k, i in enumerate(idx):
            canvas = np.full((320, 320), 128, np.uint8)
            canvas[64:256, 64:256] = cv2.resize(px[i], (192, 192), interpolation=cv2.INTER_CUBIC)
            pipe.reset()
            rows += _rows([(float(k), cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR))], "fer2013", pipe, still=True)
    try:
        from sentin_ros.media.synthetic import astronaut_rgb, place_face

        pipe.reset()
        rows += _rows([(0.0, place_face(astronaut_rgb()))], "astronaut", pipe, still=True)
    except ImportError:
        pass
    pipe.close()
    return rows


def _stats(x: np.ndarray) -> dict:
    return {"n": int(len(x)), "mean": round(float(np.mean(x)), 5), "sd": round(float(np.std(x)), 5),
            "p5": round(float(np.percentile(x, 5)), 5), "p50": round(float(np.median(x)), 5), "p95": round(float(np.percentile(x, 95)), 5)}


def summarise(rows: list[dict], min_open: float = 0.15) -> dict:
    """Per-source and pooled statistics of every feature, over faces with open eyes (mean opening
    >= min_open eye widths; closed eyes are blinks, which the generator makes separately)."""
    names = list(EYE_NAMES) + list(POSE_NAMES) + list(EXTRA_NAMES) + ["iris_x_mean", "iris_y_mean", "open_mean", "iris_x_diff"]

    def table(sel):
        if not sel:
            return {}
        e = np.array([r["eye"] for r in sel])
        cols = np.hstack([e, np.array([r["pose"] for r in sel]), np.array([r["extra"] for r in sel]),
                          np.stack([(e[:, 0] + e[:, 2]) / 2, (e[:, 1] + e[:, 3]) / 2, (e[:, 4] + e[:, 5]) / 2, e[:, 0] - e[:, 2]], 1)])
        return {n: _stats(cols[:, j]) for j, n in enumerate(names)}

    is_open = [r for r in rows if (r["eye"][4] + r["eye"][5]) / 2 >= min_open]
    sources = sorted({r["source"] for r in rows})
    return {
        "what": "eye features (sentin_ros.core.features.EYE_NAMES, raw, before canonical_eye_features), head pose (deg) "
                "and corner-axis positions (iris_v, upper_v, lower_v: / eye width, > 0 = down) from FacePipeline on real faces",
        "min_open": min_open,
        "faces": {s: sum(r["source"] == s for r in rows) for s in sources},
        "closed_fraction": round(1 - len(is_open) / max(len(rows), 1), 4),
        "pooled": table(is_open),
        "frontal": table([r for r in is_open if abs(r["pose"][0]) < 15 and abs(r["pose"][1]) < 15]),
        "by_source": {s: table([r for r in is_open if r["source"] == s]) for s in sources},
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=DEFAULT_SHARED)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--step", type=int, default=2, help="every n-th video frame")
    ap.add_argument("--fer", type=int, default=400, help="FER2013 faces to sample")
    ap.add_argument("--rows", help="also write the per-face rows (JSON) here")
    args = ap.parse_args(argv)
    if not os.path.isdir(args.shared):
        print(f"no shared data at {args.shared}", file=sys.stderr)
        return 2
    rows = collect(args.shared, args.step, args.fer)
    if args.rows:
        with open(args.rows, "w") as f:
            json.dump(rows, f)
    stats = summarise(rows)
    with open(args.out, "w") as f:
        json.dump(stats, f, indent=1)
        f.write("\n")
    p = stats["pooled"]
    for k in ("iris_x_mean", "iris_y_mean", "open_mean", "iris_radius", "iris_v", "upper_v", "lower_v", "yaw", "pitch", "roll"):
        print(f"{k:12s} mean {p[k]['mean']:+.4f} sd {p[k]['sd']:.4f}  (p5 {p[k]['p5']:+.4f}, p95 {p[k]['p95']:+.4f})")
    print(f"faces: {stats['faces']}, closed {stats['closed_fraction']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
