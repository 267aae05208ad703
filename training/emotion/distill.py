"""Distillation targets for the small emotion model (issue 13), computed once and cached.

    python -m training.emotion.distill --data ../shared/datasets/fer2013.npz \
        --teacher models/affective_cnn_large_int8.tflite --out training/out/emotion_small/targets.npz

* teacher: the large INT8 model (affective_cnn_large_int8.tflite, the default before issue 13:
  the face and its mirror averaged inside the model, as deployed) run with ai_edge_litert on every row of the file
  (Training is what training uses; the test rows are kept for the teacher's reference
  accuracy only and never enter training);
* FER+: the crowd vote distribution mapped to FER2013 classes (contempt / unknown / NF votes
  dropped, the rest renormalised); rows without usable FER+ votes get has_ferplus = False.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import time

import numpy as np

from . import data as D
from .evaluate import predict_tflite

# the large model (the default before issue 13) is the teacher; before the rename it was
# models/affective_cnn_int8.tflite (same file, sha256 378a721b3e57c4a3...)
DEFAULT_TEACHER = ("models/affective_cnn_large_int8.tflite"
                   if os.path.exists("models/affective_cnn_large_int8.tflite")
                   else "models/affective_cnn_int8.tflite")


def ferplus_distribution(votes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,10) FER+ votes -> (N,7) distribution in FER2013 order, (N,) bool has votes."""
    v = votes.astype(np.float32)
    out = np.zeros((len(v), 7), np.float32)
    for col, cls in enumerate(D.FERPLUS_TO_FER.tolist()):
        if cls >= 0:
            out[:, cls] += v[:, col]
    s = out.sum(1)
    has = s > 0
    out[has] /= s[has, None]
    return out, has


def file_sha(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_targets(data_path: str, teacher: str, out: str) -> dict:
    d = D.load(data_path)
    t0 = time.time()
    probs = predict_tflite(teacher, d["pixels"], num_threads=1)
    fp, has = ferplus_distribution(d["ferplus_votes"])
    acc = {name: float((probs[d["usage"] == u].argmax(1) ==
                        d["label"][d["usage"] == u]).mean()) for name, u in D.SPLITS.items()}
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    np.savez(out, teacher=probs.astype(np.float32), ferplus=fp, has_ferplus=has,
             teacher_sha256=np.array(file_sha(teacher)),
             teacher_path=np.array(teacher))
    print(f"teacher outputs on {len(probs)} rows in {time.time() - t0:.0f}s; "
          f"teacher accuracy {acc}; FER+ rows {int(has.sum())}", flush=True)
    return acc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=D.DEFAULT_DATA)
    ap.add_argument("--teacher", default=DEFAULT_TEACHER)
    ap.add_argument("--out", default="training/out/emotion_small/targets.npz")
    a = ap.parse_args()
    make_targets(a.data, a.teacher, a.out)


if __name__ == "__main__":
    main()
