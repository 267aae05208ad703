"""FER2013 data: loading, splits, FER+ majority labels, and a compact lossless pack.

This module needs numpy only (no TensorFlow, no torch) so that the evaluation entry point can
run in the runtime venv.

The dataset file is `fer2013.npz` (see ../shared/README.md): pixels uint8 (N,48,48), label
int8 (N,) in FER2013 order (0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise,
6 neutral), usage uint8 (0 Training, 1 PublicTest, 2 PrivateTest), ferplus_votes uint8 (N,10)
in FER+ order (neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown,
NF).

The compact pack (`.ferpack`) stores the same arrays losslessly: pixels as MED-predictor
(LOCO-I) residuals compressed with LZMA, ~0.68 of the raw size. It exists only so the training
data fits the size limit of the remote GPU machine's working-tree transfer.
"""
from __future__ import annotations

import argparse
import io
import lzma
import os

import numpy as np

CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
SPLITS = {"Training": 0, "PublicTest": 1, "PrivateTest": 2}
FERPLUS_CLASSES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                   "contempt", "unknown", "NF")
# FER+ vote column -> FER2013 class index; -1 = dropped (contempt, unknown, NF).
FERPLUS_TO_FER = np.array([6, 3, 5, 4, 0, 1, 2, -1, -1, -1], dtype=np.int64)
DEFAULT_DATA = os.path.join("..", "shared", "datasets", "fer2013.npz")

_PACK_MAGIC = b"FERPACK1"


def _med_predict_residuals(p: np.ndarray) -> np.ndarray:
    x = p.astype(np.int16)
    a = np.zeros_like(x)
    b = np.zeros_like(x)
    c = np.zeros_like(x)
    a[:, :, 1:] = x[:, :, :-1]
    b[:, 1:, :] = x[:, :-1, :]
    c[:, 1:, 1:] = x[:, :-1, :-1]
    mx = np.maximum(a, b)
    mn = np.minimum(a, b)
    pred = np.where(c >= mx, mn, np.where(c <= mn, mx, a + b - c))
    pred[:, 0, 1:] = a[:, 0, 1:]
    pred[:, 1:, 0] = b[:, 1:, 0]
    pred[:, 0, 0] = 0
    return ((x - pred) % 256).astype(np.uint8)


def _med_reconstruct(r: np.ndarray) -> np.ndarray:
    n, h, w = r.shape
    out = np.zeros((n, h, w), dtype=np.int16)
    r = r.astype(np.int16)
    for i in range(h):
        for j in range(w):
            if i == 0 and j == 0:
                pred = np.zeros(n, dtype=np.int16)
            elif i == 0:
                pred = out[:, 0, j - 1]
            elif j == 0:
                pred = out[:, i - 1, 0]
            else:
                a = out[:, i, j - 1]
                b = out[:, i - 1, j]
                c = out[:, i - 1, j - 1]
                mx = np.maximum(a, b)
                mn = np.minimum(a, b)
                pred = np.where(c >= mx, mn, np.where(c <= mn, mx, a + b - c))
            out[:, i, j] = (pred + r[:, i, j]) % 256
    return out.astype(np.uint8)


def pack(npz_path: str, out_path: str, preset: int = 6) -> None:
    """Write a compact lossless copy of the arrays training needs (all rows)."""
    d = np.load(npz_path, allow_pickle=False)
    p = d["pixels"]
    res = _med_predict_residuals(p)
    meta = io.BytesIO()
    np.savez(meta, label=d["label"], usage=d["usage"], ferplus_votes=d["ferplus_votes"],
             shape=np.array(p.shape, dtype=np.int64))
    meta_b = lzma.compress(meta.getvalue(), preset=preset)
    pix_b = lzma.compress(res.tobytes(), preset=preset)
    with open(out_path, "wb") as f:
        f.write(_PACK_MAGIC)
        f.write(np.array([len(meta_b), len(pix_b)], dtype="<u8").tobytes())
        f.write(meta_b)
        f.write(pix_b)
    back = load(out_path)
    assert np.array_equal(back["pixels"], p), "pack is not lossless"
    for k in ("label", "usage", "ferplus_votes"):
        assert np.array_equal(back[k], d[k]), k


def load(path: str) -> dict:
    """Load the dataset from the original .npz or from a .ferpack. Returns a dict of arrays."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head == _PACK_MAGIC:
        with open(path, "rb") as f:
            f.read(8)
            nm, npix = np.frombuffer(f.read(16), dtype="<u8")
            meta = np.load(io.BytesIO(lzma.decompress(f.read(int(nm)))), allow_pickle=False)
            res = np.frombuffer(lzma.decompress(f.read(int(npix))), dtype=np.uint8)
        shape = tuple(int(s) for s in meta["shape"])
        pixels = _med_reconstruct(res.reshape(shape))
        return {"pixels": pixels, "label": meta["label"], "usage": meta["usage"],
                "ferplus_votes": meta["ferplus_votes"]}
    d = np.load(path, allow_pickle=False)
    return {k: d[k] for k in ("pixels", "label", "usage", "ferplus_votes")}


def split(d: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(pixels uint8 (n,48,48), labels int64 (n,)) of a split, in file order."""
    m = d["usage"] == SPLITS[name]
    return d["pixels"][m], d["label"][m].astype(np.int64)


def ferplus_majority(votes: np.ndarray) -> np.ndarray:
    """FER+ majority-vote label mapped to FER2013 classes, -1 where the row is dropped.

    A row is kept when it has votes, its most-voted FER+ class is unique (no tie for first
    place) and that class is one of the 7 shared emotions; rows whose majority is contempt,
    unknown or NF (not a face), ties, and rows FER+ dropped (no votes) get -1.
    """
    v = votes.astype(np.int64)
    top = v.max(axis=1)
    arg = v.argmax(axis=1)
    unique = (v == top[:, None]).sum(axis=1) == 1
    lab = FERPLUS_TO_FER[arg]
    keep = (top > 0) & unique & (lab >= 0)
    return np.where(keep, lab, -1)


def main() -> None:
    ap = argparse.ArgumentParser(description="Pack fer2013.npz into a compact lossless .ferpack")
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    pack(a.data, a.out)
    print(f"wrote {a.out}: {os.path.getsize(a.out) / 2**20:.2f} MiB")


if __name__ == "__main__":
    main()
