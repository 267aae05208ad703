"""Eye crops with MediaPipe's iris model's outputs on them: the training set of a smaller iris model.

    .venv/bin/python -m training.face_models.iris_data --shared ../shared --out training/out/iris/data.npz

The eye crops are cut exactly as the face front end cuts them (core/face_landmarks: the square of
2.3× the eye-corner distance, rotated to the corner axis, 64×64, the image-right eye mirrored),
around the landmarks our own front end finds, then moved, scaled, turned and re-lit at random;
the label is the shipped iris model's 15 outputs on that very crop, so the student learns the
teacher's function on the inputs it will see. Faces: UTKFace (64×64 colour, upscaled ×3: eyes of
far and small faces) and the shared clips that are not held out; single_face_640x360.mp4,
pexels_wolfgang_langer_640x360.mp4 (the woman looking around) and the group photos are kept for
evaluation (iris_eval.py).
"""
from __future__ import annotations

import argparse
import math
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from sentin_ros.core.face_front_end import FaceFrontEnd, FrontEndConfig
from sentin_ros.core.face_landmarks import _IRIS_ROWS, IMAGE_RIGHT_EYE, IRIS_INPUT, NUM_MESH, _eye_roi
from sentin_ros.core.face_models import front_end_model
from sentin_ros.core.face_roi import Roi, crop
from sentin_ros.runtime import LiteModel, ModelOptions

TRAIN_CLIPS = ("face_then_noface_960x540.mov", "noface_face.mov")
HELD_OUT_CLIPS = ("single_face_640x360.mp4", "pexels_wolfgang_langer_640x360.mp4")


def eye_rois(points: np.ndarray) -> list[tuple[int, Roi]]:
    """(eye, region) of both eyes, as the front end cuts them."""
    return [(eye, _eye_roi(points[:NUM_MESH], *_IRIS_ROWS[eye][1])) for eye in (0, 1)]


# MediaPipe's eye contours (16 points, from the outer corner along the lower lid), image-left eye first.
EYE_CONTOURS = ((33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246),
                (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466))
SHIFT_P = 0.6  # default share of the jittered crops whose iris is moved inside the eye (gaze variety)


def contour_in_crop(points: np.ndarray, eye: int, roi: Roi) -> np.ndarray:
    """The eye's 16 contour points in crop pixels (mirrored as the crop is)."""
    m = roi.to_input(IRIS_INPUT)
    p = points[list(EYE_CONTOURS[eye]), :2] @ m[:, :2].T + m[:, 2]
    if eye == IMAGE_RIGHT_EYE:
        p[:, 0] = IRIS_INPUT - 1 - p[:, 0]
    return p.astype(np.float32)


def shift_gaze(img: np.ndarray, contour: np.ndarray, iris: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The iris (and the sclera around it) moved inside the eye opening by a smooth warp that
    fades to nothing at the lids and corners: UTKFace's faces nearly all look at the camera, and
    a student trained on them alone did not follow eyes that look aside (7° from the teacher on
    the held-out clip of a woman looking around, 0.5° on a frontal one)."""
    centre = iris[0, :2]
    radius = float(np.mean(np.linalg.norm(iris[1:5, :2] - centre, axis=1)))
    half_width = float(np.linalg.norm(contour[0] - contour[8])) / 2
    if not (2.0 < radius < 20.0 and half_width > radius):
        return img
    shift = np.array([rng.uniform(-1, 1) * 0.55 * (half_width - 0.6 * radius), rng.uniform(-1, 1) * 0.3 * radius], np.float32)
    mask = np.zeros((IRIS_INPUT, IRIS_INPUT), np.float32)
    cv2.fillPoly(mask, [np.round(contour * 4).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=2)
    mask = cv2.GaussianBlur(mask, (0, 0), 1.2)
    yy, xx = np.mgrid[0:IRIS_INPUT, 0:IRIS_INPUT].astype(np.float32)
    d = np.hypot(xx - centre[0] - shift[0], yy - centre[1] - shift[1])
    w = mask * np.clip(1.0 - (d - 1.3 * radius) / max(half_width, 1.0), 0.0, 1.0)
    return cv2.remap(img, xx - shift[0] * w, yy - shift[1] * w, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def jitter(roi: Roi, rng: np.random.Generator) -> Roi:
    return Roi(roi.cx + rng.normal(0, 0.06) * roi.size, roi.cy + rng.normal(0, 0.06) * roi.size,
               roi.size * math.exp(rng.normal(0, 0.1)), roi.angle + rng.normal(0, 0.12))


def relight(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x = img.astype(np.float32)
    x = (x - 128) * math.exp(rng.normal(0, 0.2)) + 128 + rng.normal(0, 18)  # contrast, brightness
    x *= np.exp(rng.normal(0, 0.06, 3))  # colour cast
    r = rng.random()
    if r < 0.15:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.5, 1.5))
    elif r < 0.3:  # sharper than the upscaled small faces: as a close camera face
        x = x + rng.uniform(0.3, 1.0) * (x - cv2.GaussianBlur(x, (0, 0), 1.0))
    if rng.random() < 0.3:
        x += rng.normal(0, rng.uniform(1, 6), x.shape)
    if rng.random() < 0.1:
        x = np.repeat(x.mean(2, keepdims=True), 3, 2)  # grey camera
    return np.clip(x, 0, 255).astype(np.uint8)


class Teacher:
    def __init__(self) -> None:
        self.model = LiteModel(front_end_model("iris"), ModelOptions(num_threads=1))
        self.inp = self.model.inputs[0].index
        self.out = self.model.output_by_shape((1, 15)).index

    def __call__(self, img: np.ndarray) -> np.ndarray:
        return self.model.run_pixels({self.inp: img}, 1.0 / 255.0)[self.out].reshape(15).copy()


def samples(rgb: np.ndarray, points: np.ndarray, teacher: Teacher, rng: np.random.Generator, variants: int, shift_p: float):
    for eye, roi in eye_rois(points):
        for k in range(variants):
            r = roi if k == 0 else jitter(roi, rng)
            img = crop(rgb, r, IRIS_INPUT, mirror=eye == IMAGE_RIGHT_EYE)
            if k and rng.random() < shift_p:
                img = shift_gaze(img, contour_in_crop(points, eye, r), teacher(img).reshape(5, 3), rng)
            if k:
                img = relight(img, rng)
            yield img, teacher(img)


def _collect(faces, variants: int, shift_p: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Crops and labels of every (rgb, front end) -> found faces pair that `faces` yields."""
    rng = np.random.default_rng(seed)
    teacher = Teacher()
    xs, ys = [], []
    try:
        for rgb, found in faces:
            for face in found:
                for x, y in samples(rgb, face.landmarks.points, teacher, rng, variants, shift_p):
                    xs.append(x)
                    ys.append(y)
    finally:
        teacher.model.close()
    return np.array(xs, np.uint8).reshape(-1, IRIS_INPUT, IRIS_INPUT, 3), np.array(ys, np.float32).reshape(-1, 15)


def _front_end(max_faces: int) -> FaceFrontEnd:
    return FaceFrontEnd(FrontEndConfig(max_faces=max_faces, landmark_workers=1, background_detection=False))


def from_utkface(args: tuple[str, int, int, int, float, int]) -> tuple[np.ndarray, np.ndarray]:
    npz, start, stop, variants, shift_p, seed = args
    d = np.load(npz, allow_pickle=False)
    jpeg, offsets = d["jpeg"], d["offsets"]
    fe = _front_end(1)

    def faces():
        for i in range(start, stop):
            bgr = cv2.imdecode(jpeg[offsets[i]:offsets[i + 1]], cv2.IMREAD_COLOR)
            rgb = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (192, 192), interpolation=cv2.INTER_CUBIC)
            fe.reset()  # one still each: nothing to track
            yield rgb, fe.find(rgb, all_windows=True)

    try:
        return _collect(faces(), variants, shift_p, seed)
    finally:
        fe.close()


def from_clip(args: tuple[str, int, float, int]) -> tuple[np.ndarray, np.ndarray]:
    path, variants, shift_p, seed = args
    fe, cap = _front_end(4), cv2.VideoCapture(path)

    def faces():
        while True:
            ok, bgr = cap.read()
            if not ok:
                return
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            yield rgb, fe.find(rgb)

    try:
        return _collect(faces(), variants, shift_p, seed)
    finally:
        fe.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--out", default="training/out/iris/data.npz")
    ap.add_argument("--variants", type=int, default=3, help="crops an eye: the front end's own, then jittered ones")
    ap.add_argument("--clip-variants", type=int, default=6)
    ap.add_argument("--shift-p", type=float, default=SHIFT_P, help="share of the jittered crops with the iris moved (0: round 1)")
    ap.add_argument("--limit", type=int, default=0, help="UTKFace faces (0: all)")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    shared = Path(a.shared)
    npz = str(shared / "datasets" / "utkface64.npz")
    n = a.limit or len(np.load(npz, allow_pickle=False)["age"])
    chunks = [(npz, s, min(s + 500, n), a.variants, a.shift_p, s) for s in range(0, n, 500)]
    clips = [(str(shared / "media" / c), a.clip_variants, a.shift_p, 10_000 + i) for i, c in enumerate(TRAIN_CLIPS)]
    parts, sources = [], []
    with ProcessPoolExecutor(a.workers) as pool:
        for (x, y), c in zip(pool.map(from_clip, clips), TRAIN_CLIPS):
            parts.append((x, y))
            sources += [c] * len(x)
            print(f"{c}: {len(x)} crops", flush=True)
        for k, (x, y) in enumerate(pool.map(from_utkface, chunks)):
            parts.append((x, y))
            sources += ["utkface"] * len(x)
            print(f"utkface chunk {k + 1}/{len(chunks)}: {len(x)} crops", flush=True)
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    np.savez(a.out, x=x, y=y, source=np.array(sources))
    print(f"wrote {a.out}: {len(x)} crops", flush=True)


if __name__ == "__main__":
    main()
