"""The emotion crop on real faces: sampled (bilinear) against averaged over k×k samples a pixel.

    .venv/bin/python benchmarks/crop_aliasing.py [--shared ../shared] [--frames 300]

Each shared clip runs through the face stage; every face of every frame is cut four ways from
the same landmarks: bilinear sampling (k = 1, what the crop did before), k ≤ 2 (the default,
`alignment.MAX_SUPERSAMPLE`), k ≤ 4, and a reference (k ≤ 8, bicubic
interpolation). Per way, over consecutive frames of the same face: how much the emotion
model's probabilities (L1) and embedding (relative L2) change from one frame to the next, and
how often the top class changes; against the reference on the same frame: mean absolute pixel
difference and the probabilities' L1. There are no labels: a steady face whose crop changes less
from frame to frame is the measure. Then the cost of one crop of each kind on a real frame.
Writes benchmarks/results/crop_aliasing.json (with the machine).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sentin_ros.core import alignment as A  # noqa: E402
from sentin_ros.core.face_pipeline import FacePipeline  # noqa: E402
from sentin_ros.inference.emotion import EmotionModel  # noqa: E402
from sentin_ros.inference.model_paths import default_model_path  # noqa: E402
from sentin_ros.tools.bench.common import machine, time_ms  # noqa: E402

REFERENCE = 8


WAYS = {
    "sampled (k = 1)": lambda g, m: A.warp_crop(g, m, A.CROP_SIZE, 1),
    f"k <= {A.MAX_SUPERSAMPLE} (default)": lambda g, m: A.warp_crop(g, m, A.CROP_SIZE),
    "k <= 4": lambda g, m: A.warp_crop(g, m, A.CROP_SIZE, 4),
    f"reference (up to {REFERENCE}x, bicubic)": lambda g, m: A.warp_crop(g, m, A.CROP_SIZE, REFERENCE, cv2.INTER_CUBIC),
}


def clip_faces(path: Path, frames: int, emotion: EmotionModel) -> list[tuple[int, int, float, dict]]:
    """(frame, face ID, downscale, {way: (crop, probabilities, embedding)}) for every face found."""
    cap = cv2.VideoCapture(str(path))
    pipe = FacePipeline()
    out = []
    try:
        for t in range(frames):
            ok, bgr = cap.read()
            if not ok:
                break
            gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
            h, w = gray.shape
            for face in pipe.process(bgr, t / 30, "bgr8").faces:
                m = A.crop_transform(face.landmarks * np.array([w, h, w], np.float32))
                cuts = {}
                for way, cut in WAYS.items():
                    crop = cut(gray, m)
                    cuts[way] = (crop, *emotion.infer(crop))
                out.append((t, face.face_id, 1 / float(np.hypot(m[0, 0], m[1, 0])), cuts))
    finally:
        pipe.close()
    return out


def measure(faces: list) -> dict:
    ref = next(iter(reversed(WAYS)))
    by_face = sorted(faces, key=lambda f: (str(f[1]), f[0]))
    steps = [(a, b) for a, b in zip(by_face, by_face[1:]) if b[0] == a[0] + 1 and b[1] == a[1]]
    by_way = {}
    for way in WAYS:
        change = [np.abs(b[3][way][1] - a[3][way][1]).sum() for a, b in steps]
        emb = [np.linalg.norm(b[3][way][2] - a[3][way][2]) / max(np.linalg.norm(a[3][way][2]), 1e-6) for a, b in steps]
        flips = [b[3][way][1].argmax() != a[3][way][1].argmax() for a, b in steps]
        by_way[way] = {
            "frame_to_frame_probabilities_l1": float(np.mean(change)), "frame_to_frame_embedding_rel": float(np.mean(emb)),
            "top_class_changes": float(np.mean(flips)),
            "pixels_mae_to_reference": float(np.mean([np.abs(f[3][way][0].astype(float) - f[3][ref][0]).mean() for f in faces])),
            "probabilities_l1_to_reference": float(np.mean([np.abs(f[3][way][1] - f[3][ref][1]).sum() for f in faces])),
        }
    return {"faces": len(faces), "consecutive_pairs": len(steps),
            "downscale_median": float(np.median([f[2] for f in faces])), "ways": by_way}


def cost(shared: Path) -> dict:
    cap = cv2.VideoCapture(str(shared / "media" / "single_face_640x360.mp4"))
    bgr = cap.read()[1]
    pipe = FacePipeline()
    face = pipe.process(bgr, 0.0, "bgr8").faces[0]
    pipe.close()
    h, w = bgr.shape[:2]
    pts = face.landmarks * np.array([w, h, w], np.float32)
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    out = {}
    for name, fn in (("emotion crop, sampled", lambda: A.warp_crop(gray, A.crop_transform(pts), A.CROP_SIZE, 1)),
                     ("emotion crop, default", lambda: A.aligned_crop(gray, pts)),
                     ("emotion crop, k <= 4", lambda: A.warp_crop(gray, A.crop_transform(pts), A.CROP_SIZE, 4)),
                     ("colour crop, sampled", lambda: A.warp_crop(bgr, A.crop_transform(pts, A.UTK_CROP), A.COLOR_CROP_SIZE, 1)),
                     ("colour crop, default", lambda: A.aligned_color_crop(bgr, pts))):
        out[name] = {"median_us": float(np.median(time_ms(fn, 500)) * 1e3)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "crop_aliasing.json"))
    a = ap.parse_args()
    shared = Path(a.shared)
    clips = sorted((shared / "media").glob("*.m*"))
    if not clips:
        print(f"skipped: no clips under {shared / 'media'} (the developers' ../shared media)", file=sys.stderr)
        return 0
    emotion = EmotionModel(default_model_path("emotion"))
    everything, res = [], {"machine": machine(), "clips": {}}
    for clip in clips:
        faces = clip_faces(clip, a.frames, emotion)
        if faces:
            res["clips"][clip.name] = measure(faces)
            everything += [(t, (clip.name, fid), s, cuts) for t, fid, s, cuts in faces]
    emotion.close()
    res["all"] = measure(everything)
    res["cost_per_crop"] = cost(shared)
    res["method"] = __doc__.split("\n\n", 2)[2].strip()
    Path(a.out).write_text(json.dumps(res, indent=1))
    print(f"{res['machine']['cpu']} ({res['machine']['instruction_set']})")
    print(f"{res['all']['faces']} faces, downscale median {res['all']['downscale_median']:.1f}x\n")
    print("| crop | probabilities, frame to frame (L1) | embedding, frame to frame | top class changes | pixels vs reference | probabilities vs reference |")
    print("|---|---|---|---|---|---|")
    for way, r in res["all"]["ways"].items():
        print(f"| {way} | {r['frame_to_frame_probabilities_l1']:.3f} | {r['frame_to_frame_embedding_rel']:.3f} | {r['top_class_changes']:.1%} "
              f"| {r['pixels_mae_to_reference']:.2f} | {r['probabilities_l1_to_reference']:.3f} |")
    print("\n" + "\n".join(f"{k}: {v['median_us']:.0f} µs" for k, v in res["cost_per_crop"].items()))
    print(f"saved {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
