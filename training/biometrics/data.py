"""utkface64.npz: decoding and the fixed-seed train / validation / test split.

The shared file (see ../shared/README.md) stores 18,967 UTKFace "Aligned & Cropped" faces as
64x64 colour JPEGs with age (years), gender (0 male, 1 female) and race (0-4, -1 missing) as
annotated. Images are decoded to BGR uint8 (what cv2.imdecode gives and what the run-time crop
is): with OpenCV when it is importable (the runtime venv), else with TensorFlow's libjpeg-turbo
decoder in its accurate integer DCT mode (the training venv), which gives the same pixels.

Split: a permutation of all rows by numpy's default_rng(SPLIT_SEED); the first 15 % is test,
the next 10 % validation, the rest training. Nothing depends on the row order of the file
beyond that. (UTKFace has several photos of some people; identities are not annotated, so a
person can appear in more than one split. The card says so.)
"""
from __future__ import annotations

import os

import numpy as np

DEFAULT_DATA = os.path.join("..", "shared", "datasets", "utkface64.npz")
SPLIT_SEED = 20170721
TEST_FRACTION = 0.15
VAL_FRACTION = 0.10
SIZE = 64
RACES = {0: "White", 1: "Black", 2: "Asian", 3: "Indian", 4: "Others", -1: "missing"}
GENDERS = {0: "male", 1: "female"}


def load_labels(path: str) -> dict:
    with np.load(path, allow_pickle=False) as d:
        return {"age": d["age"].astype(np.int32), "gender": d["gender"].astype(np.int64),
                "race": d["race"].astype(np.int64), "offsets": d["offsets"]}


def decode_all(path: str) -> np.ndarray:
    """All faces as uint8 (N, 64, 64, 3) BGR."""
    with np.load(path, allow_pickle=False) as d:
        buf, off = d["jpeg"], d["offsets"]
    n = len(off) - 1
    out = np.empty((n, SIZE, SIZE, 3), np.uint8)
    try:
        import cv2

        def dec(b):
            return cv2.imdecode(b, cv2.IMREAD_COLOR)
    except ImportError:
        import tensorflow as tf

        def dec(b):
            rgb = tf.io.decode_jpeg(b.tobytes(), channels=3, dct_method="INTEGER_ACCURATE").numpy()
            return rgb[..., ::-1]
    for i in range(n):
        img = dec(buf[off[i]:off[i + 1]])
        if img.shape[:2] != (SIZE, SIZE):
            raise ValueError(f"face {i}: decoded to {img.shape}, expected {SIZE}x{SIZE}")
        out[i] = img
    return out


def load_images(path: str, cache_dir: str | None = None) -> np.ndarray:
    """decode_all, cached as .npy in cache_dir (decoding 19k JPEGs takes a while on one core)."""
    if cache_dir:
        cache = os.path.join(cache_dir, "utkface64_bgr.npy")
        if os.path.exists(cache):
            x = np.load(cache)
            if len(x) == len(load_labels(path)["age"]):
                return x
        x = decode_all(path)
        os.makedirs(cache_dir, exist_ok=True)
        np.save(cache + ".tmp.npy", x)
        os.replace(cache + ".tmp.npy", cache)
        return x
    return decode_all(path)


def split_indices(n: int, seed: int = SPLIT_SEED) -> dict[str, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    n_test, n_val = int(round(n * TEST_FRACTION)), int(round(n * VAL_FRACTION))
    return {"test": np.sort(perm[:n_test]), "val": np.sort(perm[n_test:n_test + n_val]),
            "train": np.sort(perm[n_test + n_val:])}
