"""Extra transfer images for distillation: UTKFace faces in FER2013's framing, labelled only by
the teacher (no expression labels exist for them).

    python -m training.emotion.transfer_set --utk ../shared/datasets/utkface64.npz \
        --out training/out/emotion_transfer/utk48.npz

A student matches its teacher better the more inputs it sees the teacher's answer on; FER2013
has 28,709 Training faces. UTKFace's "Aligned & Cropped" faces all share one framing, measured
by `sentin_ros.core.alignment` (UTK_CROP), so one similarity warp takes every one of them to
FER_CROP, the framing of the emotion crops at run time. FER2013's framing shows more forehead:
the top ~5 of 48 rows lie above the UTKFace image and repeat its edge. The teacher sees exactly
the pixels the student trains on. UTKFace is for non-commercial research only (its terms).
"""
from __future__ import annotations

import argparse
import os

import cv2
import numpy as np

from sentin_ros.core.alignment import FER_CROP, UTK_CROP

from ..biometrics.data import decode_all
from . import data as D
from .distill import DEFAULT_TEACHER, file_sha
from .evaluate import predict_tflite


def utk_to_fer() -> np.ndarray:
    """2×3 affine, UTKFace 64×64 pixels -> FER2013 48×48 crop pixels (the two CropSpecs)."""
    s = 0.5 * (FER_CROP.interocular / UTK_CROP.interocular + FER_CROP.eye_to_mouth / UTK_CROP.eye_to_mouth)
    return np.array([[s, 0.0, FER_CROP.eye_mid[0] - s * UTK_CROP.eye_mid[0]],
                     [0.0, s, FER_CROP.eye_mid[1] - s * UTK_CROP.eye_mid[1]]], np.float64)


def fer_framed(bgr: np.ndarray) -> np.ndarray:
    """(N,64,64,3) UTKFace BGR -> (N,48,48) uint8 grayscale in FER2013's framing."""
    m = utk_to_fer()
    out = np.empty((len(bgr), FER_CROP.size, FER_CROP.size), np.uint8)
    for i, img in enumerate(bgr):
        out[i] = cv2.warpAffine(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), m, (FER_CROP.size, FER_CROP.size),
                                flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--utk", default="../shared/datasets/utkface64.npz")
    ap.add_argument("--teacher", default=DEFAULT_TEACHER)
    ap.add_argument("--out", default="training/out/emotion_transfer/utk48.npz")
    a = ap.parse_args(argv)
    images = fer_framed(decode_all(a.utk))
    teacher = predict_tflite(a.teacher, images)
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    tmp = a.out + ".tmp.npz"
    np.savez_compressed(tmp, images=images, teacher=teacher.astype(np.float32),
                        teacher_sha256=file_sha(a.teacher), source=os.path.basename(a.utk))
    os.replace(tmp, a.out)
    share = np.bincount(teacher.argmax(1), minlength=7) / len(teacher)
    print(f"wrote {a.out}: {len(images)} faces; teacher's top class shares "
          + ", ".join(f"{c} {100 * v:.1f} %" for c, v in zip(D.CLASSES, share)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
