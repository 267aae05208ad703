"""A smaller iris model distilled from MediaPipe's: same input (64×64 RGB eye crop, the image-left
eye, the other mirrored), same output (1, 15): the iris centre and four contour points, x, y, z in
input pixels. A drop-in `iris_model_path` for the face node.

    .venv-train/bin/python -m training.face_models.iris_student --data training/out/iris/data.npz \
        --out training/out/iris [--epochs 12]

MediaPipe's iris model is 50 M multiply-accumulates an eye (two eyes: ~64 % of the face stage's
model cost a face); this one is a plain stack of 3×3 convolutions, stride 2 where the resolution
halves, ~9 M. Trained on data.npz (iris_data.py: eye crops and the teacher's outputs on them),
validated on held-out UTKFace faces; the shared held-out clips and photos are for iris_eval.py.
Writes OUT/iris_student.keras, OUT/iris_student_fp32.tflite and OUT/iris_student.history.json.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

SIDE = 64
CENTRE_WEIGHT = 2.0  # the centre is what the gaze features read; the contour gives the radius
Z_WEIGHT = 0.1
WIDTHS = ((24, 2), (32, 2), (32, 1), (64, 2), (64, 1), (96, 2), (96, 1))  # (channels, stride) of each 3×3 conv


def build(widths=WIDTHS):
    import tensorflow as tf

    inp = tf.keras.Input((SIDE, SIDE, 3), name="eye")
    x = inp
    for ch, stride in widths:
        x = tf.keras.layers.Conv2D(ch, 3, stride, padding="same", use_bias=False)(x)
        x = tf.keras.layers.BatchNormalization()(x)
        x = tf.keras.layers.ReLU()(x)
    x = tf.keras.layers.Flatten()(x)
    out = tf.keras.layers.Dense(15, name="iris")(x)
    return tf.keras.Model(inp, out, name="iris_student")


def weights() -> np.ndarray:
    w = np.full(15, 1.0, np.float32)
    w[2::3] = Z_WEIGHT
    w[0:2] *= CENTRE_WEIGHT
    return w / w.mean()


def macs(model) -> int:
    import tensorflow as tf

    n = 0
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.Conv2D):
            k = layer.kernel.shape
            n += int(np.prod(layer.output.shape[1:])) * k[0] * k[1] * k[2]
        elif isinstance(layer, tf.keras.layers.Dense):
            n += int(np.prod(layer.kernel.shape))
    return n


def convert(model, calibration: np.ndarray | None = None) -> bytes:
    """The .tflite: weights frozen (BatchNorm folded), input float pixels / 255, output input pixels.
    With calibration crops: full-integer INT8 (uint8 pixels in, float out)."""
    import tensorflow as tf

    from ..tflite_export import to_tflite

    @tf.function(input_signature=[tf.TensorSpec([1, SIDE, SIDE, 3], tf.float32, name="eye")])
    def serve(eye):
        return {"iris": model(eye, training=False) * SIDE}

    return to_tflite(serve.get_concrete_function(), calibration, tf.uint8 if calibration is not None else None)


def split(source: np.ndarray, per_face: int, val_share: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Validation: the last UTKFace faces (a face's crops are consecutive, so no face is on both sides)."""
    utk = np.flatnonzero(source == "utkface")
    i = int(len(utk) * (1 - val_share))
    cut = utk[i - i % per_face]  # a face's crops stay together (2 eyes × iris_data's --variants)
    val = np.zeros(len(source), bool)
    val[utk[utk >= cut]] = True
    return np.flatnonzero(~val), np.flatnonzero(val)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="training/out/iris/data.npz")
    ap.add_argument("--out", default="training/out/iris")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-face", type=int, default=8, help="UTKFace crops a face: 2 × iris_data's --variants")
    a = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.keras.utils.set_random_seed(a.seed)
    d = np.load(a.data)
    x, y, source = d["x"], d["y"].astype(np.float32) / SIDE, d["source"]
    tr, va = split(source, a.per_face)
    w = tf.constant(weights())

    def loss(t, p):
        return tf.reduce_mean(tf.abs(t - p) * w)

    def centre_px(t, p):  # mean distance of the iris centre, input pixels
        return tf.reduce_mean(tf.norm((t[:, :2] - p[:, :2]) * SIDE, axis=1))

    def dataset(idx, shuffle):
        ds = tf.data.Dataset.from_tensor_slices((x[idx], y[idx]))
        if shuffle:
            ds = ds.shuffle(len(idx), seed=a.seed, reshuffle_each_iteration=True)
        return ds.batch(a.batch).map(lambda i, t: (tf.cast(i, tf.float32) / 255.0, t)).prefetch(2)

    model = build()
    steps = a.epochs * int(np.ceil(len(tr) / a.batch))
    sched = tf.keras.optimizers.schedules.CosineDecay(a.lr, steps, alpha=0.02)
    model.compile(tf.keras.optimizers.Adam(sched), loss=loss, metrics=[centre_px])
    print(f"train {len(tr)}, validation {len(va)}, {macs(model) / 1e6:.1f} M MACs, {model.count_params()} params", flush=True)
    t0 = time.time()
    hist = model.fit(dataset(tr, True), validation_data=dataset(va, False), epochs=a.epochs, verbose=2)
    os.makedirs(a.out, exist_ok=True)
    model.save(os.path.join(a.out, "iris_student.keras"))

    path = os.path.join(a.out, "iris_student_fp32.tflite")
    with open(path, "wb") as f:
        f.write(convert(model))
    with open(os.path.join(a.out, "iris_student_int8.tflite"), "wb") as f:
        f.write(convert(model, x[tr[np.random.default_rng(a.seed).choice(len(tr), 500, replace=False)]]))
    record = {"args": vars(a), "train": int(len(tr)), "validation": int(len(va)), "macs": macs(model),
              "params": int(model.count_params()), "train_s": round(time.time() - t0, 1), "widths": WIDTHS,
              "history": {k: [round(float(v), 5) for v in vs] for k, vs in hist.history.items()},
              "tensorflow": tf.__version__}
    with open(os.path.join(a.out, "iris_student.history.json"), "w") as f:
        json.dump(record, f, indent=1)
    print(f"wrote {path}", flush=True)


if __name__ == "__main__":
    main()
