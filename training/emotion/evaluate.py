"""Accuracy of an emotion .tflite on a FER2013 split, with numpy + ai_edge_litert only.

    python -m training.emotion.evaluate --model models/affective_cnn_int8.tflite \
        --data ../shared/datasets/fer2013.npz [--split PrivateTest]

The model takes grayscale pixel/255 (float semantics, range [0,1]) of a 48x48 face; an int8
input is quantized with the input tensor's own scale/zero point. The 1x7 output is the
probability vector in FER2013 label order, told apart from the 1x256 embedding by its shape.

`evaluate_tflite(model_path, data_path, split="PrivateTest") -> dict` is importable without
TensorFlow or torch (the runtime venv has numpy + ai_edge_litert).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from . import data as D


def _interpreter(model_path: str, num_threads: int | None = 1):
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_path=model_path, num_threads=num_threads)
    it.allocate_tensors()
    return it


def _io(it):
    inp = it.get_input_details()[0]
    outs = it.get_output_details()
    probs = next(o for o in outs if int(o["shape"][-1]) == 7)
    emb = next((o for o in outs if int(o["shape"][-1]) == 256), None)
    return inp, probs, emb


def quantize_input(pixels_u8: np.ndarray, inp: dict) -> np.ndarray:
    """uint8 (48,48) or (n,48,48) -> the model's input dtype with a trailing channel axis."""
    x = pixels_u8.astype(np.float32) / 255.0
    if inp["dtype"] == np.float32:
        return x[..., None]
    scale, zp = inp["quantization"]
    info = np.iinfo(inp["dtype"])
    q = np.clip(np.round(x / scale + zp), info.min, info.max).astype(inp["dtype"])
    return q[..., None]


def dequantize(a: np.ndarray, det: dict) -> np.ndarray:
    if det["dtype"] == np.float32:
        return a.astype(np.float32)
    scale, zp = det["quantization"]
    return (a.astype(np.float32) - zp) * scale


def predict_tflite(model_path: str, pixels: np.ndarray, num_threads: int | None = 1,
                   want_embedding: bool = False):
    """Run the model one face at a time. pixels: uint8 (n,48,48).
    Returns probabilities (n,7) float32 (and embeddings (n,256) if asked)."""
    it = _interpreter(model_path, num_threads)
    inp, po, eo = _io(it)
    probs = np.empty((len(pixels), 7), np.float32)
    embs = np.empty((len(pixels), 256), np.float32) if want_embedding and eo else None
    q = quantize_input(pixels, inp)
    for i in range(len(pixels)):
        it.set_tensor(inp["index"], q[i:i + 1])
        it.invoke()
        probs[i] = dequantize(it.get_tensor(po["index"])[0], po)
        if embs is not None:
            embs[i] = dequantize(it.get_tensor(eo["index"])[0], eo)
    return (probs, embs) if want_embedding else probs


def classification_report(y: np.ndarray, pred: np.ndarray, n: int = 7) -> dict:
    cm = np.zeros((n, n), np.int64)
    np.add.at(cm, (y, pred), 1)
    per = {}
    for c in range(n):
        tp = cm[c, c]
        p = tp / cm[:, c].sum() if cm[:, c].sum() else 0.0
        r = tp / cm[c].sum() if cm[c].sum() else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        per[D.CLASSES[c]] = {"precision": round(float(p), 4), "recall": round(float(r), 4),
                             "f1": round(float(f), 4), "support": int(cm[c].sum())}
    return {"per_class": per,
            "macro_f1": round(float(np.mean([v["f1"] for v in per.values()])), 4),
            "confusion_matrix": cm.tolist(),
            "confusion_matrix_axes": "rows = true label, columns = prediction, FER2013 order"}


def evaluate_tflite(model_path: str, data_path: str = D.DEFAULT_DATA,
                    split: str = "PrivateTest", num_threads: int | None = 1,
                    report: bool = False) -> dict:
    """Accuracy vs the original FER2013 labels of `split`, plus FER+ majority-vote accuracy
    on the split's rows that have a usable FER+ majority (see data.ferplus_majority)."""
    d = D.load(data_path)
    m = d["usage"] == D.SPLITS[split]
    x, y = d["pixels"][m], d["label"][m].astype(np.int64)
    t0 = time.time()
    probs = predict_tflite(model_path, x, num_threads)
    pred = probs.argmax(1)
    fp = D.ferplus_majority(d["ferplus_votes"][m])
    keep = fp >= 0
    out = {"model": model_path, "split": split, "n": int(len(y)),
           "accuracy": float((pred == y).mean()),
           "ferplus_n": int(keep.sum()),
           "ferplus_accuracy": float((pred[keep] == fp[keep]).mean()),
           "seconds": round(time.time() - t0, 1)}
    if report:
        out["report"] = classification_report(y, pred)
        out["ferplus_report"] = classification_report(fp[keep], pred[keep])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description="Accuracy of an emotion .tflite on FER2013")
    ap.add_argument("--model", default="models/affective_cnn_int8.tflite")
    ap.add_argument("--data", default=D.DEFAULT_DATA)
    ap.add_argument("--split", default="PrivateTest", choices=list(D.SPLITS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--report", action="store_true", help="per-class P/R/F1 + confusion")
    a = ap.parse_args()
    r = evaluate_tflite(a.model, a.data, a.split, a.threads, a.report)
    print(json.dumps(r, indent=1))


if __name__ == "__main__":
    main()
