"""Generate data, train, convert to full-integer INT8 and evaluate the gaze model, in one command.

    .venv-tf-gaze/bin/python -m training.gaze.train            # from the repository root

Steps (each cached under training/out/gaze/, so a rerun resumes where it stopped):
  1. data: generator.generate_dataset in chunks of 2,000 (train seed 1, 144,000 sequences; val
     seed 2, 2,000) -> part_*.npz and data_<split>_<n>_s<seed>.npz. On 2 cores this takes ~25 min;
     `python -m training.gaze.make_data --workers N` makes the same chunks in parallel first.
  2. train: Keras, checkpoint every epoch (ckpt.keras + state.json); rerun resumes from it
  3. convert: FP32 .tflite (training/out/gaze) and full-integer INT8 (int8 inputs and outputs,
     representative data = 1,000 TRAINING windows) -> models/gaze_hybrid_int8.tflite
  4. evaluate (training.gaze.evaluate.full_report, through the runtime: held-out subjects INT8 +
     FP32 with 5/9/25-point feature calibrations, the version-4 affine one, the centre and
     ridge-on-inputs baselines and head motion after calibrating; measured-noise subjects INT8;
     the evaluation sets are cached as evalset_*.pkl) -> models/gaze_hybrid.metrics.json
     (--eval-only redoes just this step)
The generator's parameters were fitted to real faces first (measure_real.py, fit_generator.py).
Inputs are scaled exactly as at run time (sentin_ros.inference.gaze: canonical_eye_features,
standardize, head_input).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from sentin_ros.inference import gaze as runtime_gaze  # noqa: E402
from sentin_ros.inference.gaze_screen import REFERENCE_SCREEN  # noqa: E402

from . import generator as G  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "training", "out", "gaze")
MODEL_INT8 = os.path.join(ROOT, "models", "gaze_hybrid_int8.tflite")
METRICS = os.path.join(ROOT, "models", "gaze_hybrid.metrics.json")
DEG = 180.0 / np.pi


def load_or_generate(split: str, n: int, seed: int) -> dict:
    path = os.path.join(OUT, f"data_{split}_{n}_s{seed}.npz")
    if os.path.exists(path):
        return dict(np.load(path))
    t0 = time.time()
    chunks, chunk = [], 2000
    for i in range(0, n, chunk):
        part = os.path.join(OUT, f"part_{split}_s{seed}_{i}_{min(chunk, n - i)}.npz")
        if not os.path.exists(part):
            d = G.generate_dataset(min(chunk, n - i), seed * 100003 + i)
            np.savez_compressed(part, **d)
        chunks.append(dict(np.load(part)))
        print(f"  {split}: {min(i + chunk, n)}/{n} sequences ({time.time() - t0:.0f} s)", flush=True)
    data = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    np.savez_compressed(path, **data)
    return data


def arrays(d: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model inputs exactly as at run time, and y = (ref x, ref y, deg per unit x, deg per unit y)."""
    seq = np.stack([runtime_gaze.standardize(runtime_gaze.canonical_eye_features(e, w, h))
                    for e, w, h in zip(d["eye"], d["width"], d["height"])]).astype(np.float32)
    head = runtime_gaze.head_input(d["pyr"][:, [1, 0, 2]]).astype(np.float32)
    dist = np.maximum(d["eye_mid_mm"][:, 2], 100.0)
    scale = np.stack([REFERENCE_SCREEN.width_mm / dist, REFERENCE_SCREEN.height_mm / dist], axis=1) * DEG
    y = np.concatenate([d["target_ref"], scale], axis=1).astype(np.float32)
    return seq, head, y


def build_model(width: int = 48, dropout: float = 0.1):
    import keras
    from keras import layers

    seq = keras.Input((G.SEQ_LEN, 10), batch_size=None, name="eye_seq")
    head = keras.Input((3,), name="head_pose")
    h = layers.Conv1D(64, 1, activation="relu", name="frame_mlp1")(seq)
    h = layers.Conv1D(64, 1, activation="relu", name="frame_mlp2")(h)
    t = h
    for d in (1, 2, 4):  # receptive field 1 + 2 * (1 + 2 + 4) = 15 frames
        t = layers.Conv1D(width, 3, padding="causal", dilation_rate=d, activation="relu", name=f"tcn_d{d}")(t)
    last_t = layers.Reshape((width,))(layers.Cropping1D((G.SEQ_LEN - 1, 0))(t))
    last_h = layers.Reshape((64,))(layers.Cropping1D((G.SEQ_LEN - 1, 0))(h))
    he = layers.Dense(32, activation="relu", name="head_mlp")(head)
    z = layers.Concatenate()([last_t, last_h, he, head])
    z = layers.Dense(128, activation="relu", name="fuse1")(z)
    z = layers.Dropout(dropout)(z)
    z = layers.Dense(64, activation="relu", name="fuse2")(z)
    out = layers.Dense(2, name="screen_xy")(z)
    return keras.Model([seq, head], out, name="gaze_hybrid")


def angular_huber(y_true, y_pred):
    import tensorflow as tf

    d = (y_pred - y_true[:, :2]) * y_true[:, 2:4]  # ~degrees at the screen
    a = tf.abs(d)
    delta = 2.0
    return tf.reduce_mean(tf.where(a < delta, 0.5 * a * a, delta * (a - 0.5 * delta)), axis=-1)


def mean_deg(y_true, y_pred):
    import tensorflow as tf

    d = (y_pred - y_true[:, :2]) * y_true[:, 2:4]
    return tf.reduce_mean(tf.norm(d, axis=-1))


def train(args, tr, va) -> object:
    import keras
    import tensorflow as tf

    tf.random.set_seed(0)
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    ckpt = os.path.join(OUT, "ckpt.keras")
    state_path = os.path.join(OUT, "state.json")
    start = 0
    if os.path.exists(ckpt) and os.path.exists(state_path) and not args.restart:
        model = keras.models.load_model(ckpt, custom_objects={"angular_huber": angular_huber, "mean_deg": mean_deg})
        start = json.load(open(state_path))["epoch"]
        print(f"resuming from epoch {start}", flush=True)
    else:
        model = build_model()
        steps = args.epochs * int(np.ceil(len(tr[2]) / args.batch))
        lr = keras.optimizers.schedules.CosineDecay(args.lr, steps, alpha=0.02)
        model.compile(keras.optimizers.Adam(lr), loss=angular_huber, metrics=[mean_deg])
    print(f"parameters: {model.count_params()}", flush=True)

    best_path = os.path.join(OUT, "best.keras")

    class Save(keras.callbacks.Callback):
        """Checkpoint every epoch (for resuming) and keep the weights with the best validation error."""

        def on_epoch_end(self, epoch, logs=None):
            model.save(ckpt)
            state = json.load(open(state_path)) if os.path.exists(state_path) and epoch > 0 else {"history": []}
            state["history"].append({k: round(float(v), 5) for k, v in (logs or {}).items()})
            val = float((logs or {}).get("val_mean_deg", np.inf))
            if val < state.get("best_val_mean_deg", np.inf):
                state["best_val_mean_deg"], state["best_epoch"] = round(val, 5), epoch + 1
                model.save(best_path)
            state["epoch"] = epoch + 1
            json.dump(state, open(state_path, "w"))

    if start < args.epochs:
        model.fit([tr[0], tr[1]], tr[2], validation_data=([va[0], va[1]], va[2]), batch_size=args.batch, epochs=args.epochs,
                  initial_epoch=start, callbacks=[Save()], verbose=2, shuffle=True)
    best = keras.models.load_model(best_path, custom_objects={"angular_huber": angular_huber, "mean_deg": mean_deg})
    print(f"using the best epoch: {json.load(open(state_path)).get('best_epoch')}", flush=True)
    return best


def convert(model, rep_seq: np.ndarray, rep_head: np.ndarray) -> tuple[str, str]:
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec((1, G.SEQ_LEN, 10), tf.float32, name="eye_seq"),
                                  tf.TensorSpec((1, 3), tf.float32, name="head_pose")])
    def serve(eye_seq, head_pose):
        return model([eye_seq, head_pose], training=False)

    # Freeze the weights into constants (Keras 3 variables otherwise survive as VAR_HANDLE ops).
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    frozen = convert_variables_to_constants_v2(serve.get_concrete_function())
    fp32 = tf.lite.TFLiteConverter.from_concrete_functions([frozen]).convert()
    fp32_path = os.path.join(OUT, "gaze_hybrid_fp32.tflite")
    open(fp32_path, "wb").write(fp32)

    def representative():
        for i in range(len(rep_seq)):
            yield [rep_seq[i:i + 1], rep_head[i:i + 1]]  # the concrete function's order

    conv = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    int8 = conv.convert()
    os.makedirs(os.path.dirname(MODEL_INT8), exist_ok=True)
    open(MODEL_INT8, "wb").write(int8)
    return fp32_path, MODEL_INT8


def _set_paths(work: str, model: str, metrics: str) -> None:
    global OUT, MODEL_INT8, METRICS
    OUT, MODEL_INT8, METRICS = work, model, metrics


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="train the gaze model")
    ap.add_argument("--train", type=int, default=144000, help="training sequences")
    ap.add_argument("--val", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--subjects", type=int, default=40, help="held-out evaluation subjects")
    ap.add_argument("--restart", action="store_true", help="ignore the checkpoint")
    ap.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0 = its default)")
    ap.add_argument("--skip-eval", action="store_true")
    ap.add_argument("--eval-only", action="store_true", help="evaluate the existing models and rewrite the metrics")
    ap.add_argument("--work", default=OUT, help="data cache, checkpoints, FP32 model")
    ap.add_argument("--model-out", default=MODEL_INT8)
    ap.add_argument("--metrics-out", default=METRICS)
    args = ap.parse_args(argv)
    _set_paths(args.work, args.model_out, args.metrics_out)
    os.makedirs(OUT, exist_ok=True)
    t0 = time.time()
    fp32_path, int8_path = os.path.join(OUT, "gaze_hybrid_fp32.tflite"), MODEL_INT8
    if not args.eval_only:
        tr_d, va_d = load_or_generate("train", args.train, 1), load_or_generate("val", args.val, 2)
        tr, va = arrays(tr_d), arrays(va_d)
        print(f"data ready in {time.time() - t0:.0f} s: train {len(tr[2])}, val {len(va[2])}", flush=True)
        model = train(args, tr, va)
        rng = np.random.default_rng(0)
        rep = rng.choice(len(tr[2]), 1000, replace=False)
        fp32_path, int8_path = convert(model, tr[0][rep], tr[1][rep])
        print(f"INT8 model: {int8_path} ({os.path.getsize(int8_path)} bytes); FP32: {os.path.getsize(fp32_path)} bytes", flush=True)
    if args.skip_eval:
        return 0
    from . import evaluate as E

    state = json.load(open(os.path.join(OUT, "state.json")))
    hist = state["history"]
    metrics = {
        "model": "models/gaze_hybrid_int8.tflite",
        "size_bytes": os.path.getsize(int8_path),
        "parameters": int(build_model().count_params()),
        "train_sequences": args.train,
        "epochs": len(hist),
        "best_epoch": state.get("best_epoch"),
        "best_epoch_log": hist[state["best_epoch"] - 1] if state.get("best_epoch") else None,
        "held_out_subjects": args.subjects,
        "command": "python -m training.gaze.train " + " ".join(sys.argv[1:] if argv is None else argv),
        **E.full_report(int8_path, fp32_path, args.subjects, cache_dir=OUT),
    }
    with open(METRICS, "w") as f:
        json.dump(metrics, f, indent=2)
    print(json.dumps(metrics["summary"], indent=2))
    print(f"done in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
