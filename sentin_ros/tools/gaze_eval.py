"""`sentin-ros gaze eval`: how well gaze works on your own frames with known on-screen targets.

    sentin-ros gaze eval --images FOLDER --targets targets.csv [--calib corners5,corners9,random5,random25]
                         [--screen-mm W H] [--camera-offset-mm X Y] [--screen-px W H] [--sequential [--fps F]]
                         [--repeats R] [--seed S] [--model PATH] [--json]

targets.csv: one row per image, `file,x,y` (a header row is allowed): the on-screen point the
person looked at, in pixels of the screen (`--screen-px`, default 1920 1080) or in fractions
(0..1; taken as fractions when every value is <= 1.5). Each image goes through the face stage
(sentin_ros.core.face_pipeline.FacePipeline; the largest face) and the gaze model. By default
every image is a still: the model sees a one-frame window. With `--sequential` the images are
the frames of one recording (file-name order, `--fps`) and the model sees the face's history,
as in the running node.

Then each calibration protocol (sentin_ros.inference.gaze_protocols: `uncalibrated`,
`corners5`, `corners9`, `randomK` or a bare K: K random frames, repeated `--repeats` times with
a fixed seed) picks the calibration frames, fits the per-user calibration on them
(GazeCalibration, on features) and measures the error on the other frames: mean / median
Euclidean error and mean per axis, in screen fractions and in screen pixels, beside two
baselines on the same frames: predicting the screen centre, and a ridge regression from the
model's raw inputs fitted on the same calibration frames. `--json` prints one JSON object whose
`results` maps each protocol to {mean, median, mean_x, mean_y, baseline_centre, baseline_ridge,
...} (screen fractions) with `px`: the same errors in screen pixels.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from ..core.face_pipeline import FacePipeline
from ..inference.gaze import GazeModel, GazeTracker, calibration_features, canonical_eye_features
from ..inference.gaze_protocols import DEFAULT_PROTOCOLS, evaluate_protocol, parse_protocol, raw_inputs
from ..inference.gaze_screen import REFERENCE_SCREEN, ScreenGeometry
from ..inference.model_paths import default_model_path
from ..runtime import ModelOptions


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="sentin-ros gaze", description="gaze tools")
    sub = ap.add_subparsers(dest="command", required=True, metavar="{eval}")
    p = sub.add_parser("eval", help="evaluate gaze (+ calibration protocols) on frames with known targets")
    p.add_argument("--images", required=True, metavar="FOLDER", help="folder of face images / frames")
    p.add_argument("--targets", required=True, metavar="CSV", help="file,x,y per image (pixels or fractions)")
    p.add_argument("--calib", default=",".join(DEFAULT_PROTOCOLS),
                   help="comma-separated protocols: uncalibrated, corners5, corners9, randomK, K (default %(default)s)")
    p.add_argument("--screen-mm", nargs=2, type=float, metavar=("W", "H"), help="screen size, mm (default 530 300)")
    p.add_argument("--camera-offset-mm", nargs=2, type=float, default=(0.0, 10.0), metavar=("X", "Y"),
                   help="camera centre relative to the screen's top-edge middle, mm (x > 0 user's right, y > 0 above)")
    p.add_argument("--screen-px", nargs=2, type=float, default=(1920.0, 1080.0), metavar=("W", "H"),
                   help="screen resolution, for targets in pixels and errors in pixels (default 1920 1080)")
    p.add_argument("--sequential", action="store_true", help="the images are consecutive frames of one recording")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate with --sequential")
    p.add_argument("--repeats", type=int, default=10, help="repeats of each random protocol")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", default=None, help="gaze .tflite (default: the package's model)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return ap


def read_targets(path: str, screen_px) -> dict[str, np.ndarray]:
    rows = []
    with open(path, newline="") as f:
        for row in csv.reader(f):
            if len(row) < 3 or not row[0].strip() or row[0].strip().startswith("#"):
                continue
            try:
                rows.append((row[0].strip(), float(row[1]), float(row[2])))
            except ValueError:
                continue  # a header row
    if not rows:
        raise SystemExit(f"no targets in {path}")
    xy = np.array([[x, y] for _, x, y in rows])
    if np.max(np.abs(xy)) > 1.5:  # pixels
        xy = xy / np.asarray(screen_px, float)
    return {name: t for (name, _, _), t in zip(rows, xy)}


def collect(folder: str, targets: dict, model: GazeModel, sequential: bool = False, fps: float = 30.0) -> dict:
    """Per image with a face: model output, calibration features, raw inputs, target."""
    pipe = FacePipeline()
    tracker = GazeTracker(model, min_frames=1, smoothing=False) if sequential else None
    out = {k: [] for k in ("name", "pred", "feats", "raw", "target")}
    missing = 0
    files = sorted(p for p in Path(folder).iterdir() if p.name in targets)
    for i, path in enumerate(files):
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            missing += 1
            continue
        if not sequential:
            pipe.reset()
        frame = pipe.process(img, i / fps, "bgr8", still=not sequential)
        faces = [f for f in frame.faces if np.all(np.isfinite(f.eye))]
        if not faces:
            missing += 1
            continue
        face = max(faces, key=lambda f: f.roi[2] * f.roi[3])
        ypr = (face.yaw, face.pitch, face.roll)
        canon = canonical_eye_features(face.eye[None], frame.width, frame.height)
        if tracker is not None:
            est = tracker.push(face.face_id, i / fps, face.eye, *ypr, image_size=(frame.width, frame.height))
            pred, feats = np.array([est.raw_x, est.raw_y]), est.features
        else:
            pred = np.asarray(model.predict(face.eye[None], ypr, (frame.width, frame.height)))
            feats = calibration_features(canon, ypr)
        out["name"].append(path.name)
        out["pred"].append(pred)
        out["feats"].append(feats)
        out["raw"].append(raw_inputs(canon, ypr))
        out["target"].append(targets[path.name])
    pipe.close()
    res = {k: (np.array(v) if k != "name" else v) for k, v in out.items()}
    res["missing"] = missing + len(set(targets) - {p.name for p in files})
    return res


def run(args) -> int:
    protocols = [p.strip() for p in args.calib.split(",") if p.strip()]
    try:
        for p in protocols:
            parse_protocol(p)
    except ValueError as exc:
        print(f"sentin-ros gaze eval: {exc}", file=sys.stderr)
        return 2
    screen = ScreenGeometry(*(args.screen_mm or (REFERENCE_SCREEN.width_mm, REFERENCE_SCREEN.height_mm)), *args.camera_offset_mm)
    targets = read_targets(args.targets, args.screen_px)
    model = GazeModel(args.model or default_model_path("gaze"), ModelOptions(num_threads=1), screen=screen)
    data = collect(args.images, targets, model, args.sequential, args.fps)
    model.close()
    n = len(data["name"])
    if n < 2:
        print(f"sentin-ros gaze eval: only {n} image(s) with a face and a target", file=sys.stderr)
        return 1
    results, skipped = {}, {}
    for p in protocols:
        try:
            results[p] = evaluate_protocol(p, data["pred"], data["feats"], data["raw"], data["target"], args.repeats, args.seed,
                                            px=tuple(args.screen_px))
        except ValueError as exc:
            skipped[p] = str(exc)
    report = {
        "images": n, "without_face_or_target": data["missing"],
        "screen_mm": [screen.width_mm, screen.height_mm], "screen_px": list(args.screen_px),
        "mode": "sequential" if args.sequential else "stills", "units": "screen fractions; each result's px: screen pixels",
        "results": results, "skipped": skipped,
    }
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{n} images with a face ({data['missing']} without a face or a target); screen {screen.width_mm:g}x{screen.height_mm:g} mm, "
          f"{args.screen_px[0]:g}x{args.screen_px[1]:g} px; {report['mode']}")
    print(f"{'protocol':14s} {'mean':>7s} {'median':>7s} {'x':>7s} {'y':>7s} {'mean px':>8s} | {'centre':>7s} {'ridge':>7s}  (fractions)")
    for p, r in results.items():
        ridge = "-" if r["baseline_ridge"] is None else f"{r['baseline_ridge']:.3f}"
        print(f"{p:14s} {r['mean']:7.3f} {r['median']:7.3f} {r['mean_x']:7.3f} {r['mean_y']:7.3f} {r['px']['mean']:8.1f} | "
              f"{r['baseline_centre']:7.3f} {ridge:>7s}")
    for p, why in skipped.items():
        print(f"{p}: skipped ({why})")
    return 0


def main(argv=None) -> int:
    ap = build_parser()
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
