"""Calibration inputs for the INT8 face-landmark and iris models: the exact 192x192 face crops
and 64x64 eye crops (the image-right eye mirrored, as fed) that our face front end gives the
float models on real material.

    .venv/bin/python -m training.face_models.calibration --shared ../shared --out training/out/face_models/calib.npz

Material: the group photos at three widths, the Pexels audience clip, the face half of
`noface_face.mov` and of `face_then_noface_960x540.mov`, and UTKFace faces on a canvas (many
identities, ages and skin tones). Held out for the agreement check: the astronaut and
`single_face_640x360.mp4` (the issue's landmark comparison against FaceMesh).
"""
from __future__ import annotations

import argparse
import os

import cv2
import numpy as np

from sentin_ros.core.face_front_end import FaceFrontEnd, FrontEndConfig
from sentin_ros.core.face_models import mediapipe_model
from sentin_ros.media.sources import open_source, read_frames

CLIPS = ("pexels_wolfgang_langer_640x360.mp4", "noface_face.mov", "face_then_noface_960x540.mov")
GROUP_WIDTHS = (1280, 640, 320)


class CropRecorder:
    """Wraps a front end's landmark and iris runs to keep the pixels they are given."""

    def __init__(self, front_end: FaceFrontEnd):
        self.faces: list[np.ndarray] = []
        self.eyes: list[np.ndarray] = []
        lm = front_end.landmarker
        face_run, iris_run = lm.face.run_pixels, lm.iris.run_pixels

        def face(pixels, *a, **k):
            for p in pixels.values():
                self.faces.extend(np.array(p).reshape(-1, 192, 192, 3))
            return face_run(pixels, *a, **k)

        def iris(pixels, *a, **k):
            for p in pixels.values():
                self.eyes.extend(np.array(p).reshape(-1, 64, 64, 3))
            return iris_run(pixels, *a, **k)

        lm.face.run_pixels, lm.iris.run_pixels = face, iris


def _frames(shared: str, every: int):
    media = os.path.join(shared, "media")
    for name in sorted(os.listdir(os.path.join(media, "groups"))):
        img = cv2.imread(os.path.join(media, "groups", name))
        for w in GROUP_WIDTHS:
            yield "still", cv2.resize(img, (w, round(img.shape[0] * w / img.shape[1])), interpolation=cv2.INTER_AREA)
    for clip in CLIPS:
        for i, frame in enumerate(read_frames(open_source(os.path.join(media, clip)))):
            if i % every == 0:
                yield clip, frame
    utk = np.load(os.path.join(shared, "datasets", "utkface64.npz"))
    rng = np.random.default_rng(0)
    jpeg, offsets = utk["jpeg"], utk["offsets"]
    for i in rng.choice(len(offsets) - 1, 300, replace=False):
        face = cv2.imdecode(jpeg[offsets[i]:offsets[i + 1]], cv2.IMREAD_COLOR)
        canvas = np.full((320, 320, 3), 110, np.uint8)
        canvas[64:256, 64:256] = cv2.resize(face, (192, 192), interpolation=cv2.INTER_CUBIC)
        yield "still", canvas


def _held_out(shared: str, every: int):
    from sentin_ros.media.synthetic import astronaut_rgb, place_face

    for scale in (0.6, 0.8, 1.0):
        for angle in (-20.0, 0.0, 20.0):
            yield "still", place_face(astronaut_rgb(), scale=scale, angle=angle)  # BGR
    for i, frame in enumerate(read_frames(open_source(os.path.join(shared, "media", "single_face_640x360.mp4")))):
        if i % every == 0:
            yield "single_face", frame


def collect(shared: str, every: int = 1, max_faces: int = 1500, seed: int = 0, held_out: bool = False) -> dict[str, np.ndarray]:
    fe = FaceFrontEnd(FrontEndConfig(detector_range="auto", iris=True))
    rec = CropRecorder(fe)
    last = None
    for source, bgr in (_held_out if held_out else _frames)(shared, every):
        if source == "still" or source != last:
            fe.reset()  # a still is a first frame; a new clip starts without tracks
        last = source
        fe.find(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    fe.close()
    rng = np.random.default_rng(seed)
    faces, eyes = np.stack(rec.faces), np.stack(rec.eyes)
    faces = faces[rng.permutation(len(faces))[:max_faces]]
    eyes = eyes[rng.permutation(len(eyes))[:2 * max_faces]]
    return {"faces": faces, "eyes": eyes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--out", default="training/out/face_models/calib.npz")
    ap.add_argument("--every", type=int, default=1, help="every Nth frame of each clip")
    ap.add_argument("--held-out", action="store_true", help="the held-out material instead (for the agreement check)")
    a = ap.parse_args()
    got = collect(a.shared, a.every, held_out=a.held_out)
    got.update({f"{role}_model": np.array(mediapipe_model(role)) for role in ("landmarks", "iris")})  # for quantize.py
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    np.savez_compressed(a.out, **got)
    print({k: v.shape for k, v in got.items() if v.ndim})


if __name__ == "__main__":
    main()
