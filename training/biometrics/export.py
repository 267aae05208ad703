r"""Export the selected network to LiteRT, verify it, measure it, write the metrics JSON.

    python -m training.biometrics.export --data ../shared/datasets/utkface64.npz \
        --out training/out/biometrics

 1. read OUT/final.pt (train.py), fold every BatchNorm into its convolution (float64);
 2. rebuild the identical network in Keras (TensorFlow 2.19) and check it against the torch
    float32 reference outputs saved by train.py;
 3. for each of "single" (one invoke on the face) and "flip" (the face and its mirror as a
    batch of 2 inside the model, outputs averaged): convert to an FP32 .tflite and a
    full-integer INT8 one (int8 input, weights, activations and outputs; calibrated on 500
    training faces), score both on the validation split, keep the variant with the better
    validation score of its INT8 model (train.selection_score) unless it breaks the 1 ms
    latency budget;
 4. evaluate the kept INT8 and FP32 models on the test split with evaluate.py (the run-time
    preprocessing), measure latency (1 thread, XNNPACK), write models/soft_biometrics_int8.tflite
    and models/soft_biometrics.metrics.json (the FP32 model stays in OUT/).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import time

import numpy as np

from . import data as D
from . import evaluate as E

BN_EPS = 1e-5
NAME = "soft_biometrics"


def fold(sd: dict, depths) -> tuple[list, list]:
    def a(k):
        v = sd[k]
        return v.detach().cpu().double().numpy() if hasattr(v, "detach") else np.asarray(v, np.float64)

    convs, idx = [], 0
    for si, d in enumerate(depths):
        for _ in range(d):
            w = a(f"features.{idx}.weight")
            g, b = a(f"features.{idx + 1}.weight"), a(f"features.{idx + 1}.bias")
            mu, var = a(f"features.{idx + 1}.running_mean"), a(f"features.{idx + 1}.running_var")
            s = g / np.sqrt(var + BN_EPS)
            convs.append(((w * s[:, None, None, None]).transpose(2, 3, 1, 0).astype(np.float32), (b - mu * s).astype(np.float32)))
            idx += 3
        if si < len(depths) - 1:
            idx += 1
    dense = {n: (a(f"{n}.weight").T.astype(np.float32), a(f"{n}.bias").astype(np.float32)) for n in ("embed", "age", "gender")}
    return convs, dense


def build_keras(widths, depths, emb, convs, dense, bins):
    import keras
    from keras import layers
    inp = keras.Input((64, 64, 3), name="image")
    x, k = inp, 0
    for si, (w, d) in enumerate(zip(widths, depths)):
        for _ in range(d):
            x = layers.Conv2D(w, 3, padding="same", activation="relu", name=f"conv{k}")(x)
            k += 1
        if si < len(widths) - 1:
            x = layers.MaxPooling2D(2, name=f"pool{si}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    e = layers.Dense(emb, activation="relu", name="embed")(x)
    age = layers.Softmax(name="age_probabilities")(layers.Dense(bins, name="age")(e))
    gender = layers.Activation("sigmoid", name="gender_female")(layers.Dense(1, name="gender")(e))
    model = keras.Model(inp, [age, gender])
    for k, (w, b) in enumerate(convs):
        model.get_layer(f"conv{k}").set_weights([w, b])
    for n, (w, b) in dense.items():
        model.get_layer(n).set_weights([w, b])
    return model


def convert(trunk, flip: bool, rep_images: np.ndarray | None) -> bytes:
    import tensorflow as tf

    from ..tflite_export import to_tflite

    @tf.function(input_signature=[tf.TensorSpec([1, 64, 64, 3], tf.float32, name="image")])
    def serve(image):
        if flip:
            a, g = trunk(tf.concat([image, tf.reverse(image, axis=[2])], axis=0), training=False)
            a, g = tf.reduce_mean(a, axis=0, keepdims=True), tf.reduce_mean(g, axis=0, keepdims=True)
        else:
            a, g = trunk(image, training=False)
        return {"age_probabilities": a, "gender_female": g}

    return to_tflite(serve.get_concrete_function(), rep_images, tf.int8, tf.int8)


def latency(model_path: str, images: np.ndarray, runs: int = 1000, warmup: int = 100) -> dict:
    from sentin_ros.inference.biometrics import BiometricsModel
    from sentin_ros.runtime import ModelOptions
    model = BiometricsModel(model_path, ModelOptions(num_threads=1))
    ts = []
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        model.infer(images[i % len(images)])
        if i >= warmup:
            ts.append((time.perf_counter() - t0) * 1e3)
    model.close()
    ts = np.array(ts)
    return {"median_ms": round(float(np.median(ts)), 3), "p90_ms": round(float(np.percentile(ts, 90)), 3),
            "p99_ms": round(float(np.percentile(ts, 99)), 3), "runs": runs, "warmup": warmup}


def cpu_info() -> dict:
    name, flags = platform.processor() or "?", []
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = line.split(":", 1)[1].split()
                break
    except OSError:
        pass
    keep = [f for f in flags if f.startswith(("avx", "amx")) or f in ("fma", "f16c", "sse4_2")]
    return {"cpu": name, "isa_flags": keep, "cpu_count": os.cpu_count(), "machine": platform.machine()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=D.DEFAULT_DATA)
    ap.add_argument("--out", default="training/out/biometrics")
    ap.add_argument("--models-dir", default="models")
    ap.add_argument("--variants", default="single,flip")
    ap.add_argument("--max-latency-ms", type=float, default=1.0)
    a = ap.parse_args(argv)
    import torch

    final = torch.load(os.path.join(a.out, "final.pt"), weights_only=False)
    from .model import AGE_CENTRES
    from .train import selection_score
    convs, dense = fold(final["state_dict"], final["depths"])
    trunk = build_keras(final["widths"], final["depths"], final["emb"], convs, dense, len(AGE_CENTRES))
    images = D.load_images(a.data, a.out)
    labels = D.load_labels(a.data)
    sp = D.split_indices(len(images))
    ref = final["ref"]
    x = images[ref["val_rows"]].astype(np.float32)[..., :] / 255.0
    ka, kg = trunk.predict(x, verbose=0)
    check = {"keras_vs_torch_max_abs_age_prob": float(np.abs(ka - ref["age_probs"]).max()),
             "keras_vs_torch_max_abs_gender_prob": float(np.abs(kg[:, 0] - ref["gender_prob"]).max())}
    print(json.dumps(check), flush=True)
    if max(check.values()) > 1e-3:
        raise SystemExit(f"the Keras copy does not reproduce the torch network: {check}")

    rep = images[np.random.default_rng(0).choice(sp["train"], 500, replace=False)]
    variants = {}
    for v in filter(None, a.variants.split(",")):
        paths = {}
        for kind, r in (("fp32", None), ("int8", rep)):
            p = os.path.join(a.out, f"{NAME}_{v}_{kind}.tflite")
            if not os.path.exists(p):
                with open(p + ".tmp", "wb") as f:
                    f.write(convert(trunk, v == "flip", r))
                os.replace(p + ".tmp", p)
            paths[kind] = p
        val = {k: E.evaluate(p, a.data, "val", images=images) for k, p in paths.items()}
        lat = latency(paths["int8"], images[sp["val"][:200]], runs=300, warmup=50)
        variants[v] = {"paths": paths, "val": {k: {"age_mae": r["age_mae"], "gender_accuracy": r["gender_accuracy"],
                                                    "score": selection_score(r["age_mae"], r["gender_accuracy"])} for k, r in val.items()},
                       "int8_latency_ms_quick": lat["median_ms"]}
        print(v, json.dumps(variants[v]["val"]), "latency", lat["median_ms"], "ms", flush=True)
    ok = {k: v for k, v in variants.items() if v["int8_latency_ms_quick"] <= a.max_latency_ms} or variants
    chosen = min(ok, key=lambda k: ok[k]["val"]["int8"]["score"])
    paths = variants[chosen]["paths"]
    print("chosen:", chosen, flush=True)

    test = {k: E.evaluate(p, a.data, "test", images=images) for k, p in paths.items()}
    lat = {k: latency(p, images[sp["test"][:300]]) for k, p in paths.items()}
    os.makedirs(a.models_dir, exist_ok=True)
    dst = os.path.join(a.models_dir, f"{NAME}_int8.tflite")
    shutil.copyfile(paths["int8"], dst)
    t8, t32 = test["int8"], test["fp32"]
    summary = final["summary"]
    metrics = {
        "model": f"models/{NAME}_int8.tflite",
        "created_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commands": {"train_export": summary["command"],
                     "evaluate": f"python -m training.biometrics.evaluate --model models/{NAME}_int8.tflite --data ../shared/datasets/utkface64.npz --split test --json"},
        "data": {"file": "utkface64.npz (../shared/datasets)", "n": int(len(images)), "split_seed": D.SPLIT_SEED,
                 "split_sizes": {k: int(len(v)) for k, v in sp.items()}, "age_range": [int(labels["age"].min()), int(labels["age"].max())]},
        "network": {"widths": list(final["widths"]), "depths": list(final["depths"]), "emb": final["emb"], "params": summary["params"],
                    "macs_per_image": summary["macs"], "age_bin_centres": AGE_CENTRES.tolist(), "variant": chosen,
                    "inputs": "1x64x64x3 BGR pixel/255, int8", "outputs": "1x26 age-bin probabilities, 1x1 P(annotated female), int8"},
        "training": {k: summary[k] for k in ("epochs", "batch", "lr", "wd", "ema_decay", "bf16", "threads", "train_s", "best")},
        "history": summary["history"],
        "export_check": check,
        "variants_val": {k: {"val": v["val"], "int8_latency_ms_quick": v["int8_latency_ms_quick"]} for k, v in variants.items()},
        "test": {"int8": t8, "fp32": t32},
        "int8_vs_fp32": {"age_mae_diff": t8["age_mae"] - t32["age_mae"], "gender_accuracy_diff_points": 100 * (t8["gender_accuracy"] - t32["gender_accuracy"])},
        "size_bytes": {"int8": os.path.getsize(paths["int8"]), "fp32": os.path.getsize(paths["fp32"])},
        "latency_per_face": {**lat, "threads": 1, "runtime": "ai_edge_litert Interpreter via sentin_ros LiteModel (XNNPACK), BiometricsModel.infer: preprocess + set_tensor + invoke + get_tensor",
                             **cpu_info(), "load_average": open("/proc/loadavg").read().split()[:3],
                             "note": "shared development machine (2 cores, other jobs running): p99 includes scheduler noise"},
        "goals": {"age_mae_le_5.5": t8["age_mae"] <= 5.5, "gender_ge_92": t8["gender_accuracy"] >= 0.92,
                  "int8_within_0.2y": abs(t8["age_mae"] - t32["age_mae"]) <= 0.2,
                  "int8_within_0.5pt": abs(100 * (t8["gender_accuracy"] - t32["gender_accuracy"])) <= 0.5,
                  "worst_race_gender_within_5pt": t8["gaps"]["race_gender_accuracy"].get("gap", 1.0) <= 0.05,
                  "size_le_1MB": os.path.getsize(paths["int8"]) <= 1_000_000, "latency_le_1ms": lat["int8"]["median_ms"] <= 1.0},
    }
    mpath = os.path.join(a.models_dir, f"{NAME}.metrics.json")
    with open(mpath, "w") as f:
        json.dump(metrics, f, indent=1)
    print(json.dumps({"test_int8": {"age_mae": t8["age_mae"], "gender_accuracy": t8["gender_accuracy"]},
                      "test_fp32": {"age_mae": t32["age_mae"], "gender_accuracy": t32["gender_accuracy"]},
                      "latency": lat, "goals": metrics["goals"]}, indent=1), flush=True)
    print(f"wrote {dst} and {mpath}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
