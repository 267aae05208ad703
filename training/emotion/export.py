r"""Export the trained student to LiteRT (.tflite), verify it, measure it, write the metrics.

    python -m training.emotion.export --data ../shared/datasets/fer2013.npz \
        --out training/out/emotion

Steps:
 1. read OUT/student_best.pt (written by training.emotion.train), fold every BatchNorm into
    the preceding convolution (float64 arithmetic);
 2. rebuild the identical network in Keras (TensorFlow 2.19): Conv2D 3x3 'same' + ReLU,
    MaxPool 2x2, global average pool, Dense(256)+ReLU (embedding), Dense(7), softmax;
    verify it against the torch model's float32 reference outputs saved by train.py
    (and against torch itself when torch is importable);
 3. wrap it with mirror-image test-time augmentation: the face and its horizontal mirror run
    as one batch of 2 and the probabilities / embeddings are averaged (this is part of the
    deployed model; selection on PublicTest showed +0.4-0.6 points for every student);
 4. convert to an FP32 reference .tflite and to a full-integer INT8 .tflite (int8 input,
    outputs, weights and activations), calibrated on Training images only;
 5. evaluate both with ai_edge_litert (PrivateTest, PublicTest, FER+ majority on FER+ test
    rows), measure latency (1 thread, XNNPACK), write the metrics JSON.

The INT8 model goes to models/ (<= 2 MB rule); the FP32 model goes to models/ only if it is
<= 2 MB, else it stays in OUT/.
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
from .evaluate import _interpreter, _io, classification_report, predict_tflite, quantize_input

BN_EPS = 1e-5  # torch.nn.BatchNorm2d default


# ----------------------------------------------------------------------------- weights
def fold_student(sd: dict, widths, depths):
    """torch state dict -> list of conv (HWIO kernel, bias) + dense weights, BN folded."""
    def a(k):
        v = sd[k]
        return v.detach().cpu().double().numpy() if hasattr(v, "detach") else np.asarray(v)

    convs = []
    idx = 0  # index inside the torch nn.Sequential `features`
    for si, d in enumerate(depths):
        for _ in range(d):
            w = a(f"features.{idx}.weight")              # (O, I, 3, 3)
            g, b = a(f"features.{idx + 1}.weight"), a(f"features.{idx + 1}.bias")
            mu, var = a(f"features.{idx + 1}.running_mean"), a(f"features.{idx + 1}.running_var")
            s = g / np.sqrt(var + BN_EPS)
            wf = w * s[:, None, None, None]
            bf = b - mu * s
            convs.append((wf.transpose(2, 3, 1, 0).astype(np.float32), bf.astype(np.float32)))
            idx += 3                                      # conv, bn, relu
        if si < len(depths) - 1:
            idx += 1                                      # max-pool
    dense = [(a("embed.weight").T.astype(np.float32), a("embed.bias").astype(np.float32)),
             (a("head.weight").T.astype(np.float32), a("head.bias").astype(np.float32))]
    return convs, dense


def build_keras_student(widths, depths, emb_dim=256):
    import keras
    from keras import layers
    inp = keras.Input((48, 48, 1), name="image")
    x = inp
    k = 0
    for si, (w, d) in enumerate(zip(widths, depths)):
        for _ in range(d):
            x = layers.Conv2D(w, 3, padding="same", activation="relu", name=f"conv{k}")(x)
            k += 1
        if si < len(widths) - 1:
            x = layers.MaxPooling2D(2, name=f"pool{si}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    emb = layers.Dense(emb_dim, activation="relu", name="embedding")(x)
    logits = layers.Dense(7, name="logits")(emb)
    probs = layers.Softmax(name="probabilities")(logits)
    return keras.Model(inp, [probs, emb, logits], name="affective_cnn")


def load_keras_weights(model, convs, dense):
    for k, (w, b) in enumerate(convs):
        model.get_layer(f"conv{k}").set_weights([w, b])
    model.get_layer("embedding").set_weights(list(dense[0]))
    model.get_layer("logits").set_weights(list(dense[1]))


def serving_fn(trunk, flip_tta: bool):
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 48, 48, 1], tf.float32, name="image")])
    def serve(image):
        if flip_tta:
            x = tf.concat([image, tf.reverse(image, axis=[2])], axis=0)
            p, e, _ = trunk(x, training=False)
            p = tf.reduce_mean(p, axis=0, keepdims=True)
            e = tf.reduce_mean(e, axis=0, keepdims=True)
        else:
            p, e, _ = trunk(image, training=False)
        return {"probabilities": p, "embedding": e}
    return serve


def convert(serve, trunk, rep_images=None) -> bytes:
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
    # freeze the weights into constants (no resource variables in the .tflite)
    frozen = convert_variables_to_constants_v2(serve.get_concrete_function())
    conv = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    if rep_images is not None:
        def rep():
            for i in range(len(rep_images)):
                yield [rep_images[i:i + 1, :, :, None].astype(np.float32) / 255.0]
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return conv.convert()


# ----------------------------------------------------------------------------- measuring
def load_avg() -> str:
    try:
        return open("/proc/loadavg").read().split()[0]
    except OSError:
        return "?"


def latency_block(int8_path, fp32_path, images, runs) -> dict:
    ncpu = os.cpu_count()
    la0 = load_avg()
    lat = {"int8": latency(int8_path, images, runs), "fp32": latency(fp32_path, images, runs),
           "threads": 1, "runtime": "ai_edge_litert 2.3.0 Interpreter (default XNNPACK "
                                    "delegate)", "cpu": cpu_name(), "cpu_count": ncpu,
           "load_average_1min_before": la0, "load_average_1min_after": load_avg(),
           "measured_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "note": "per face = one invoke (the face and its mirror run as a batch of 2 "
                   "inside the model), single image, set_tensor+invoke+get_tensor; "
                   "measured on the shared development machine: p99 includes scheduler "
                   "noise from other processes"}
    return lat


def latency(model_path: str, images: np.ndarray, runs=500, warmup=50) -> dict:
    it = _interpreter(model_path, num_threads=1)
    inp, po, eo = _io(it)
    q = quantize_input(images, inp)
    ts = []
    for i in range(warmup + runs):
        x = q[i % len(q)][None]
        t0 = time.perf_counter()
        it.set_tensor(inp["index"], x)
        it.invoke()
        it.get_tensor(po["index"])
        t1 = time.perf_counter()
        if i >= warmup:
            ts.append((t1 - t0) * 1e3)
    ts = np.array(ts)
    return {"median_ms": round(float(np.median(ts)), 3),
            "p99_ms": round(float(np.percentile(ts, 99)), 3),
            "mean_ms": round(float(ts.mean()), 3), "runs": runs, "warmup": warmup}


def tensor_info(model_path: str) -> dict:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    # without the default XNNPACK delegate, so the listing shows the model's own ops
    it = Interpreter(model_path=model_path, experimental_op_resolver_type=(
        OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))
    it.allocate_tensors()
    inp, po, eo = _io(it)

    def one(t):
        s, z = t["quantization"]
        return {"name": t["name"], "shape": [int(v) for v in t["shape"]],
                "dtype": np.dtype(t["dtype"]).name, "scale": float(s), "zero_point": int(z)}
    ops = set()
    try:
        ops = {o["op_name"] for o in it._get_ops_details()}
    except Exception:
        pass
    tensors = it.get_tensor_details()
    float_acts = sorted({t["name"] for t in tensors if t["dtype"] == np.float32})
    dtypes: dict = {}
    for t in tensors:
        k = np.dtype(t["dtype"]).name
        dtypes[k] = dtypes.get(k, 0) + 1
    return {"input": one(inp), "probabilities": one(po), "embedding": one(eo),
            "ops": sorted(ops), "float32_tensors": float_acts, "tensor_dtypes": dtypes}


def eval_splits(model_path: str, d: dict) -> tuple[dict, dict]:
    res, raw = {}, {}
    for split in ("PrivateTest", "PublicTest"):
        m = d["usage"] == D.SPLITS[split]
        x, y = d["pixels"][m], d["label"][m].astype(np.int64)
        probs, emb = predict_tflite(model_path, x, want_embedding=True)
        pred = probs.argmax(1)
        r = {"n": int(len(y)), "accuracy": round(float((pred == y).mean()), 4)}
        fp = D.ferplus_majority(d["ferplus_votes"][m])
        keep = fp >= 0
        r["ferplus_n"] = int(keep.sum())
        r["ferplus_majority_accuracy"] = round(float((pred[keep] == fp[keep]).mean()), 4)
        if split == "PrivateTest":
            r.update(classification_report(y, pred))
            r["ferplus_report"] = classification_report(fp[keep], pred[keep])
        res[split] = r
        raw[split] = (probs, emb)
    return res, raw


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=D.DEFAULT_DATA)
    ap.add_argument("--out", default="training/out/emotion", help="training output folder")
    ap.add_argument("--student", default=None, help="default OUT/student_best.pt")
    ap.add_argument("--models-dir", default="models")
    ap.add_argument("--name", default="affective_cnn")
    ap.add_argument("--no-flip-tta", action="store_true")
    ap.add_argument("--calib-n", type=int, default=500, help="Training images to calibrate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--latency-runs", type=int, default=500)
    ap.add_argument("--train-command", default="", help="recorded in the metrics JSON")
    ap.add_argument("--latency-only", action="store_true",
                    help="only re-measure latency of the written models, update the JSON")
    a = ap.parse_args(argv)

    if a.latency_only:
        mpath = os.path.join(a.models_dir, f"{a.name}.metrics.json")
        metrics = json.load(open(mpath))
        xpriv, _ = D.split(D.load(a.data), "PrivateTest")
        metrics["latency"] = latency_block(metrics["files"]["int8"], metrics["files"]["fp32"],
                                           xpriv[:64], a.latency_runs)
        metrics["quantization"].update({k: v for k, v in (
            ("int8_ops", tensor_info(metrics["files"]["int8"])["ops"]),
            ("tensor_dtype_counts", tensor_info(metrics["files"]["int8"])["tensor_dtypes"]))})
        with open(mpath, "w") as f:
            json.dump(metrics, f, indent=1)
        print(json.dumps(metrics["latency"], indent=1))
        return 0

    import tensorflow as tf
    import torch

    flip = not a.no_flip_tta
    spath = a.student or os.path.join(a.out, "student_best.pt")
    ck = torch.load(spath, map_location="cpu", weights_only=False)
    widths, depths, emb_dim = ck["widths"], ck["depths"], ck["emb_dim"]
    convs, dense = fold_student(ck["state_dict"], widths, depths)
    trunk = build_keras_student(widths, depths, emb_dim)
    load_keras_weights(trunk, convs, dense)
    n_params = int(trunk.count_params())

    d = D.load(a.data)
    xpriv, ypriv = D.split(d, "PrivateTest")

    # --- verify Keras (BN folded) == torch reference outputs
    ref = ck["ref"]
    xr = xpriv[ref["private_index"]].astype(np.float32)[..., None] / 255.0
    kp, ke, kl = [t.numpy() for t in trunk(xr, training=False)]
    tl, te = np.asarray(ref["logits"]), np.asarray(ref["embedding"])
    tp = np.exp(tl - tl.max(1, keepdims=True))
    tp /= tp.sum(1, keepdims=True)
    verify = {"n_images": int(len(xr)),
              "max_abs_diff_logits": float(np.abs(kl - tl).max()),
              "max_abs_diff_probabilities": float(np.abs(kp - tp).max()),
              "max_abs_diff_embedding": float(np.abs(ke - te).max()),
              "argmax_identical": bool((kl.argmax(1) == tl.argmax(1)).all())}
    print("keras vs torch reference:", verify, flush=True)
    assert verify["argmax_identical"] and verify["max_abs_diff_probabilities"] < 1e-3, verify

    # torch float32 accuracies (selection table and the parent of the .tflite files)
    from .models import AffectiveCNN
    net = AffectiveCNN(widths, depths, emb_dim)
    net.load_state_dict(ck["state_dict"])
    net.eval()
    torch_acc = {}
    for split in ("PublicTest", "PrivateTest"):
        x, y = D.split(d, split)
        xt = torch.from_numpy(x).unsqueeze(1).float() / 255
        with torch.no_grad():
            p = net(xt)[0].softmax(1)
            pf = net(torch.flip(xt, dims=[3]))[0].softmax(1)
        torch_acc[split] = {"single": round(float((p.argmax(1).numpy() == y).mean()), 4),
                            "flip_tta": round(float(((p + pf).argmax(1).numpy() == y).mean()),
                                              4)}

    # --- convert
    serve = serving_fn(trunk, flip)
    rng = np.random.default_rng(a.seed)
    xtr, _ = D.split(d, "Training")
    calib = xtr[np.sort(rng.choice(len(xtr), a.calib_n, replace=False))]
    fp32_bytes = convert(serve, trunk)
    int8_bytes = convert(serve, trunk, calib)
    os.makedirs(a.out, exist_ok=True)
    os.makedirs(a.models_dir, exist_ok=True)
    int8_path = os.path.join(a.models_dir, f"{a.name}_int8.tflite")
    fp32_out = os.path.join(a.out, f"{a.name}_fp32.tflite")
    with open(int8_path, "wb") as f:
        f.write(int8_bytes)
    with open(fp32_out, "wb") as f:
        f.write(fp32_bytes)
    fp32_path = fp32_out
    if len(fp32_bytes) <= 2 * 1024 * 1024:
        fp32_path = os.path.join(a.models_dir, f"{a.name}_fp32.tflite")
        shutil.copyfile(fp32_out, fp32_path)

    # --- FP32 .tflite vs Keras (the serving function) on the reference images
    fp_t = predict_tflite(fp32_path, xpriv[ref["private_index"]])
    sp = np.concatenate([serve(xr[i:i + 1])["probabilities"].numpy() for i in range(len(xr))])
    verify["tflite_fp32_vs_keras_max_abs_diff_probabilities"] = float(np.abs(fp_t - sp).max())

    # --- evaluate
    res_int8, raw8 = eval_splits(int8_path, d)
    res_fp32, raw32 = eval_splits(fp32_path, d)
    p8, e8 = raw8["PrivateTest"]
    p32, e32 = raw32["PrivateTest"]
    agreement = {
        "argmax_agreement_private": round(float((p8.argmax(1) == p32.argmax(1)).mean()), 4),
        "probabilities_max_abs_diff": round(float(np.abs(p8 - p32).max()), 4),
        "probabilities_mean_abs_diff": round(float(np.abs(p8 - p32).mean()), 5),
        "embedding_cosine_mean": round(float(np.mean(np.sum(e8 * e32, 1) / (
            np.linalg.norm(e8, axis=1) * np.linalg.norm(e32, axis=1) + 1e-9))), 4)}

    # --- latency (per face, 1 thread, XNNPACK is LiteRT's default CPU delegate)
    lat = latency_block(int8_path, fp32_path, xpriv[:64], a.latency_runs)

    info8 = tensor_info(int8_path)
    try:
        import ai_edge_litert
        litert_v = getattr(ai_edge_litert, "__version__", "2.3.0")
    except Exception:
        litert_v = "?"
    summary = {}
    sp_ = os.path.join(a.out, "summary.json")
    if os.path.exists(sp_):
        summary = json.load(open(sp_))
    members = {}
    for role in ("teachers", "students"):
        base = os.path.join(a.out, role)
        if os.path.isdir(base):
            for tag in sorted(os.listdir(base)):
                rf = os.path.join(base, tag, "result.json")
                if os.path.exists(rf):
                    r = json.load(open(rf))
                    members[f"{role}/{tag}"] = {
                        "params": r["params"], "epochs_scheduled": r["epochs"],
                        "epochs_run": len(r["history"]), "truncated_at": r.get("truncated_at"),
                        "selected_epoch": r["best"]["epoch"], "weights": r["best"]["which"],
                        "public_acc": round(r["best"]["public"], 4),
                        "private_acc_logged": round(r["best"]["private"], 4),
                        "train_time_s": r["train_time_s"]}

    metrics = {
        "model": int8_path,
        "created_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dataset": {"path_given": a.data, "train": "FER2013 Training (usage 0, 28709)",
                    "select": "PublicTest (usage 1, 3589)",
                    "report": "PrivateTest (usage 2, 3589), original FER2013 labels"},
        "classes": list(D.CLASSES),
        "ferplus_mapping": {
            "vote columns": list(D.FERPLUS_CLASSES),
            "to_fer2013": {c: (D.CLASSES[i] if i >= 0 else "dropped")
                           for c, i in zip(D.FERPLUS_CLASSES, D.FERPLUS_TO_FER.tolist())},
            "rule": "majority = the FER+ class with the most votes; rows with a tie for the "
                    "most votes, no votes, or a contempt/unknown/NF majority are dropped"},
        "architecture": {"widths": list(widths), "convs_per_stage": list(depths),
                         "embedding_dim": emb_dim, "params": n_params,
                         "flip_tta_in_model": flip},
        "preprocessing": {"input": "48x48 grayscale face crop, float value = pixel/255 "
                                   "(range [0,1]), no other normalisation; int8 input "
                                   "= round(value/scale + zero_point)",
                          **{k: info8[k] for k in ("input", "probabilities", "embedding")}},
        "int8": res_int8,
        "fp32": res_fp32,
        "int8_vs_fp32": {
            "private_acc_delta_points": round(100 * (res_int8["PrivateTest"]["accuracy"] -
                                                     res_fp32["PrivateTest"]["accuracy"]), 2),
            "public_acc_delta_points": round(100 * (res_int8["PublicTest"]["accuracy"] -
                                                    res_fp32["PublicTest"]["accuracy"]), 2),
            **agreement},
        "torch_fp32_parent": torch_acc,
        "keras_verification": verify,
        "quantization": {"calibration": f"{a.calib_n} random Training images (seed {a.seed})",
                         "int8_ops": info8["ops"],
                         "float32_tensors_in_int8_model": info8["float32_tensors"],
                         "tensor_dtype_counts": info8["tensor_dtypes"],
                         "note": "int32 tensors are the biases (int8 x int8 accumulators)"},
        "sizes_bytes": {"int8_tflite": len(int8_bytes), "fp32_tflite": len(fp32_bytes)},
        "files": {"int8": int8_path, "fp32": fp32_path},
        "latency": lat,
        "training": {"summary": summary, "members": members},
        "versions": {"tensorflow": tf.__version__, "torch": torch.__version__,
                     "numpy": np.__version__, "ai_edge_litert": litert_v},
        "commands": {"train": a.train_command or
                     "python -m training.emotion.train --data ../shared/datasets/fer2013.npz "
                     "--out " + a.out,
                     "export": "python -m training.emotion.export --data "
                               "../shared/datasets/fer2013.npz --out " + a.out,
                     "evaluate": f"python -m training.emotion.evaluate --model {int8_path} "
                                 "--data ../shared/datasets/fer2013.npz"},
    }
    mpath = os.path.join(a.models_dir, f"{a.name}.metrics.json")
    with open(mpath, "w") as f:
        json.dump(metrics, f, indent=1)
    print(json.dumps({k: metrics[k] for k in ("sizes_bytes", "int8_vs_fp32", "latency")},
                     indent=1))
    print(f"INT8 PrivateTest {res_int8['PrivateTest']['accuracy']:.4f} PublicTest "
          f"{res_int8['PublicTest']['accuracy']:.4f} | FP32 PrivateTest "
          f"{res_fp32['PrivateTest']['accuracy']:.4f} PublicTest "
          f"{res_fp32['PublicTest']['accuracy']:.4f} | FER+ (int8) "
          f"{res_int8['PrivateTest']['ferplus_majority_accuracy']:.4f}")
    print(f"wrote {int8_path}, {fp32_path}, {mpath}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
