"""Distillation targets for the small emotion model (issue 13), computed once and cached.

    python -m training.emotion.distill --data ../shared/datasets/fer2013.npz \
        --teacher models/affective_cnn_large_int8.tflite --out training/out/emotion_small/targets.npz

* teacher: the large INT8 model (affective_cnn_large_int8.tflite, the default before issue 13:
  the face and its mirror averaged inside the model, as deployed) run with ai_edge_litert on every row of the file
  (Training is what training uses; the test rows are kept for the teacher's reference
  accuracy only and never enter training);
* `--teacher-views tta7`: the teacher's probabilities averaged over seven views of each face
  (as is, shifted 2 px left/right/up/down, zoomed 1.08× and 0.93× about the centre, edges
  repeated), each still mirror-averaged inside the model. Measured with the committed large
  model: PublicTest 71.25 % → 72.05 %, PrivateTest 72.03 % → 73.22 % (run 6's distill.log) (`single` is one view);
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


# (dx, dy, zoom) of each view; pixels of a 48×48 face, about its centre
TEACHER_VIEWS = {
    "single": ((0, 0, 1.0),),
    "tta7": ((0, 0, 1.0), (-2, 0, 1.0), (2, 0, 1.0), (0, -2, 1.0), (0, 2, 1.0), (0, 0, 1.08), (0, 0, 0.93)),
}


def view(pixels: np.ndarray, dx: float, dy: float, zoom: float) -> np.ndarray:
    """(n,48,48) uint8 faces shifted by (dx, dy) and zoomed about the centre (bilinear, edges
    repeated; what cv2.warpAffine does with BORDER_REPLICATE, without OpenCV in this venv)."""
    if (dx, dy, zoom) == (0, 0, 1.0):
        return pixels
    n, h, w = pixels.shape
    c = ((w - 1) / 2, (h - 1) / 2)
    sx = (np.arange(w) - c[0] - dx) / zoom + c[0]  # the source column of each output column
    sy = (np.arange(h) - c[1] - dy) / zoom + c[1]
    x0 = np.clip(np.floor(sx).astype(int), 0, w - 1)
    y0 = np.clip(np.floor(sy).astype(int), 0, h - 1)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx = np.clip(sx - np.floor(sx), 0, 1) * (sx >= 0) * (sx <= w - 1)
    fy = np.clip(sy - np.floor(sy), 0, 1) * (sy >= 0) * (sy <= h - 1)
    p = pixels.astype(np.float32)
    rows = p[:, y0] * (1 - fy)[None, :, None] + p[:, y1] * fy[None, :, None]
    out = rows[:, :, x0] * (1 - fx) + rows[:, :, x1] * fx
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def teacher_probs(teacher: str, pixels: np.ndarray, views: str) -> np.ndarray:
    """The teacher's probabilities, averaged over the named views."""
    specs = TEACHER_VIEWS[views]
    return sum(predict_tflite(teacher, view(pixels, *v), num_threads=1) for v in specs) / len(specs)


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


def make_targets(data_path: str, teacher: str, out: str, views: str = "single") -> dict:
    d = D.load(data_path)
    t0 = time.time()
    probs = teacher_probs(teacher, d["pixels"], views)
    fp, has = ferplus_distribution(d["ferplus_votes"])
    acc = {name: float((probs[d["usage"] == u].argmax(1) ==
                        d["label"][d["usage"] == u]).mean()) for name, u in D.SPLITS.items()}
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    np.savez(out, teacher=probs.astype(np.float32), ferplus=fp, has_ferplus=has,
             teacher_sha256=np.array(file_sha(teacher)),
             teacher_path=np.array(teacher), teacher_views=np.array(views))
    print(f"teacher outputs on {len(probs)} rows in {time.time() - t0:.0f}s; "
          f"teacher ({views}) accuracy {acc}; FER+ rows {int(has.sum())}", flush=True)
    return acc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=D.DEFAULT_DATA)
    ap.add_argument("--teacher", default=DEFAULT_TEACHER)
    ap.add_argument("--teacher-views", choices=list(TEACHER_VIEWS), default="single")
    ap.add_argument("--out", default="training/out/emotion_small/targets.npz")
    a = ap.parse_args()
    make_targets(a.data, a.teacher, a.out, a.teacher_views)


if __name__ == "__main__":
    main()
