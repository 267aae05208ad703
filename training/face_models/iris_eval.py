"""A candidate iris model against MediaPipe's, through the face front end, on faces neither saw in training.

    .venv/bin/python -m training.face_models.iris_eval --model training/out/iris/iris_student_fp32.tflite \
        [--shared ../shared] [--json training/out/iris/eval.json]

The same frames run through the front end twice, with the shipped iris model and with the
candidate; the landmarks are the same model's, so the difference is the iris model's alone. Per
held-out clip (iris_data.HELD_OUT_CLIPS) at its own resolution and with the face scaled to 96 and
64 px on a 640×480 canvas (benchmarks/iris_by_face_size.py's placement), and on the group photos:
the absolute difference of the iris position features the gaze model reads (iris_x/iris_y of both
eyes, core/features.eye_features) and of iris_radius, with iris_x also in approximate degrees of
eye rotation. For scale, the same table gives the shipped model's own change when the face shrinks
from its full size to 96 px (benchmarks/results/iris_by_face_size.json). Then both models' time
per eye, one thread, native and with CPUID masked to AVX2.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from benchmarks.iris_by_face_size import DEG_PER_IRIS_X, IRIS, iris_track, on_canvas, rgb_frames
from sentin_ros.core.face_front_end import FaceFrontEnd, FrontEndConfig
from sentin_ros.core.face_models import front_end_model
from sentin_ros.core.features import EYE_NAMES, eye_features

from .iris_data import HELD_OUT_CLIPS

RADIUS = EYE_NAMES.index("iris_radius")
SIZES = (96, 64)


def compare(ref: list, got: list) -> dict:
    pairs = [(g[0], r[0]) for g, r in zip(got, ref) if g and r and np.isfinite(g[0]).all() and np.isfinite(r[0]).all()]
    d = np.abs(np.array([g - r for g, r in pairs]))
    x, y = d[:, [0, 2]], d[:, [1, 3]]
    return {"frames": len(pairs), "iris_x_mean_abs": round(float(x.mean()), 4), "iris_x_p90_abs": round(float(np.percentile(x, 90)), 4),
            "iris_y_mean_abs": round(float(y.mean()), 4), "iris_x_mean_abs_as_degrees": round(float(x.mean()) * DEG_PER_IRIS_X, 2),
            "iris_x_p90_abs_as_degrees": round(float(np.percentile(x, 90)) * DEG_PER_IRIS_X, 2)}


def radius_track(frames: list[np.ndarray], model: str) -> list:
    fe = FaceFrontEnd(FrontEndConfig(max_faces=1, iris_model_path=model))
    try:
        out = []
        for i, f in enumerate(frames):
            found = fe.find(f, all_windows=i == 0)
            out.append((eye_features(found[0].landmarks.points, f.shape[1], f.shape[0])[[RADIUS]], 0.0) if found else None)
        return out
    finally:
        fe.close()


def photos(folder: Path, model: str) -> list:
    """Iris features of every face on the group photos (stills), in the detector's order."""
    out = []
    for path in sorted(folder.glob("*.jpg")):
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        fe = FaceFrontEnd(FrontEndConfig(iris_model_path=model))
        try:
            faces = sorted(fe.find(rgb, all_windows=True), key=lambda f: tuple(f.landmarks.box[:2]))
            out += [(eye_features(f.landmarks.points, rgb.shape[1], rgb.shape[0])[IRIS], 0.0) for f in faces]
        finally:
            fe.close()
    return out


def timing(models: list[str], masked: bool) -> dict:
    code = ("import json,sys,numpy as np;from sentin_ros.runtime import LiteModel;from sentin_ros.tools.bench.common import time_ms\n"
            "out={}\nfor p in sys.argv[1:]:\n m=LiteModel(p);i=m.inputs[0].index;img=np.random.default_rng(0).integers(0,256,(64,64,3),np.uint8)\n"
            " out[p]=float(np.median(time_ms(lambda:m.run_pixels({i:img},1/255),2000,warmup=100)));m.close()\nprint(json.dumps(out))")
    env = None
    if masked:
        from sentin_ros.tools.bench import cpu_mask

        env = {**os.environ, "LD_PRELOAD": cpu_mask.build_shim()}
    r = subprocess.run([sys.executable, "-c", code, *models], capture_output=True, text=True, env=env, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    media = Path(a.shared) / "media"
    cv2.setNumThreads(1)
    teacher = front_end_model("iris")
    report: dict = {"model": a.model, "reference": teacher, "clips": {}}
    for clip in HELD_OUT_CLIPS:
        frames = rgb_frames(media / clip)
        ref = iris_track(frames)
        full = float(np.median([r[1] for r in ref if r]))
        row = {"face_px": round(full, 1), "full": compare(ref, iris_track(frames, a.model))}
        rr, rg = radius_track(frames, ""), radius_track(frames, a.model)
        row["iris_radius_mean_abs"] = round(float(np.mean([abs(g[0][0] - r[0][0]) for g, r in zip(rg, rr) if g and r])), 4)
        for size in SIZES:
            small = [on_canvas(f, size / full) for f in frames]
            ref_small = iris_track(small)
            row[f"{size}px"] = compare(ref_small, iris_track(small, a.model))
            row[f"{size}px_reference_vs_full"] = compare(ref, ref_small)
        report["clips"][clip] = row
        print(clip, json.dumps(row), flush=True)
    report["group_photos"] = compare(photos(media / "groups", ""), photos(media / "groups", a.model))
    print("group photos", json.dumps(report["group_photos"]), flush=True)
    report["ms_per_eye"] = {"native": timing([teacher, a.model], False), "avx2_cpuid_masked": timing([teacher, a.model], True)}
    print("ms per eye", json.dumps(report["ms_per_eye"]), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
