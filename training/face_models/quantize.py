"""INT8 versions of MediaPipe's face-landmark and iris models, from their own weights.

    .venv/bin/python -m training.face_models.calibration --shared ../shared       # crops (runtime venv)
    .venv/bin/python -m training.face_models.calibration --shared ../shared --held-out \\
        --out training/out/face_models/held_out.npz
    TF_PY -m training.face_models.quantize --out-dir models                        # TF venv

Each float graph is rebuilt (rebuild.py), checked against the shipped model, and converted
with full-integer post-training quantization calibrated on real crops. Input: int8 with scale
1/255 and zero point -128 (pixel - 128); outputs float32. Reported against the shipped float
model on held-out crops: mean and 99th-percentile point distance in input pixels, the second
output's largest difference, and the median invoke time of both, one thread, same process.

Result here (2-core Xeon, AVX-512 VNNI): the int8 models are 4-5x slower than the float ones
(XNNPACK's int8 PReLU and small 1x1 convolutions are slower than its float kernels), so none
is shipped; the README's face front end section gives the figures.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np

from .rebuild import TfliteGraph, build_function

MODELS = {"face_landmark": ("landmarks", 192), "iris_landmark": ("iris", 64)}  # -> calib.npz's model paths


def convert(fn, size: int, calib: np.ndarray | None) -> bytes:
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32, name="image")])
    def serve(image):
        return fn(image)

    conv = tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()], serve)
    if calib is None:
        return conv.convert()

    def rep():
        for img in calib:
            yield [img[None].astype(np.float32) / 255.0]

    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.float32
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return conv.convert()


def run_all(model: bytes, images: np.ndarray) -> list[np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model, num_threads=1)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    outs = sorted(it.get_output_details(), key=lambda d: -int(np.prod(d["shape"])))
    got = [[] for _ in outs]
    for img in images:
        if inp["dtype"] == np.int8:
            x = (img.astype(np.int16) - 128).astype(np.int8)[None]
        else:
            x = img[None].astype(np.float32) / 255.0
        it.set_tensor(inp["index"], x)
        it.invoke()
        for g, d in zip(got, outs):
            g.append(it.get_tensor(d["index"]).reshape(-1).astype(np.float32))
    return [np.stack(g) for g in got]


def agreement(kind: str, ref: list[np.ndarray], got: list[np.ndarray]) -> dict:
    """Point distances (x, y in input pixels) and the second output's difference."""
    dist = np.linalg.norm((got[0] - ref[0]).reshape(len(ref[0]), -1, 3)[..., :2], axis=-1)
    second = np.abs(got[1] - ref[1])
    return {"n": len(ref[0]), "point_mean_px": round(float(dist.mean()), 4),
            "point_p99_px": round(float(np.percentile(dist, 99)), 4), "point_max_px": round(float(dist.max()), 4),
            ("presence_logit_max_abs" if kind == "face_landmark" else "iris_max_px"): round(float(second.max()), 4)}


def latency(model: bytes, size: int, runs: int = 300) -> float:
    import time

    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model, num_threads=1)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    it.set_tensor(inp["index"], np.zeros(inp["shape"], inp["dtype"]))
    for _ in range(30):
        it.invoke()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        it.invoke()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts) * 1e3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calib", default="training/out/face_models/calib.npz")
    ap.add_argument("--held-out", default="training/out/face_models/held_out.npz")
    ap.add_argument("--out-dir", default="training/out/face_models")
    ap.add_argument("--only", choices=list(MODELS))
    ap.add_argument("--max-calib", type=int, default=500, help="calibration crops per model")
    a = ap.parse_args()
    calib, held = np.load(a.calib), np.load(a.held_out)
    report = {}
    for kind, (role, size) in MODELS.items():
        if a.only and kind != a.only:
            continue
        key = "faces" if kind == "face_landmark" else "eyes"
        path = str(calib[f"{role}_model"])  # the runtime venv's mediapipe wheel (the TF venv has none)
        g = TfliteGraph(path)
        fn = build_function(g)
        with open(path, "rb") as f:
            shipped = f.read()
        rebuilt = convert(fn, size, None)
        ref = run_all(shipped, held[key])
        int8 = convert(fn, size, calib[key][:a.max_calib])
        report[kind] = {
            "rebuilt_float_vs_shipped": agreement(kind, ref, run_all(rebuilt, held[key])),
            "int8_vs_shipped": agreement(kind, ref, run_all(int8, held[key])),
            "median_ms_1_thread": {"shipped": round(latency(shipped, size), 3), "int8": round(latency(int8, size), 3)},
            "bytes": {"shipped": len(shipped), "int8": len(int8)},
        }
        print(kind, json.dumps(report[kind]), flush=True)
        os.makedirs(a.out_dir, exist_ok=True)
        with open(os.path.join(a.out_dir, f"{kind}_int8.tflite"), "wb") as f:
            f.write(int8)
    with open(os.path.join(a.out_dir, "face_models_int8.report.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
