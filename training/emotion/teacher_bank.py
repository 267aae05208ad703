r"""The teacher's outputs on augmented views of the Training faces, computed once.

    python -m training.emotion.teacher_bank --data ../shared/datasets/fer2013.npz \
        --out training/out/emotion_small/bank.npz [--views 4]

A student distilled from the teacher's output on the clean face, but trained on an augmented
view of it, is taught a label for an image the teacher never saw (an erased mouth, a shifted
crop). Here each view is small_train's augmentation applied once with a fixed seed (rotation,
scale, shift, flip, photometric jitter, random erasing), rounded back to 8 bits, and labelled by
the teacher on exactly those pixels; `small_train --teacher-bank` then trains a share of each
batch on a random view with its own teacher output. The teacher averages the face and its
mirror image inside the model, so its output does not change with a flip, and the student may
flip a view again for free.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from . import data as D
from .augment import augment
from .distill import DEFAULT_TEACHER, file_sha
from .evaluate import predict_tflite

# small_train's augmentation defaults (its --rot, --scale, --shift, --photometric, --erase-p)
AUGMENT = {"rot_deg": 10.0, "scale": 0.10, "shift": 0.08, "photometric": 0.2, "erase_p": 0.25}


def make_bank(data_path: str, teacher: str, out: str, views: int, seed: int = 0) -> None:
    d = D.load(data_path)
    x, _ = D.split(d, "Training")
    g = torch.Generator().manual_seed(seed)
    images = np.empty((views, *x.shape), np.uint8)
    probs = np.empty((views, len(x), 7), np.float32)
    t0 = time.time()
    for v in range(views):
        for i in range(0, len(x), 1024):
            batch = torch.from_numpy(x[i:i + 1024]).unsqueeze(1).float().div_(255)
            aug = augment(batch, g, **AUGMENT)
            images[v, i:i + 1024] = (aug[:, 0] * 255).round().clamp(0, 255).to(torch.uint8).numpy()
        probs[v] = predict_tflite(teacher, images[v], num_threads=1)
        print(f"view {v + 1}/{views}: {time.time() - t0:.0f}s", flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp.npz"
    np.savez(tmp, images=images, teacher=probs, teacher_sha256=np.array(file_sha(teacher)),
             augment=np.array(repr(AUGMENT)), seed=np.array(seed))
    os.replace(tmp, out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=D.DEFAULT_DATA)
    ap.add_argument("--teacher", default=DEFAULT_TEACHER)
    ap.add_argument("--out", default="training/out/emotion_small/bank.npz")
    ap.add_argument("--views", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    make_bank(a.data, a.teacher, a.out, a.views, a.seed)


if __name__ == "__main__":
    main()
