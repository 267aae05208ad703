"""How the iris estimate degrades with the face's size: does iris pay on far faces?

    .venv/bin/python benchmarks/iris_by_face_size.py [--shared ../shared]

Each shared single-face clip runs through the face front end at its own resolution (the
reference), then again with every frame scaled so that the face is S pixels across (landmark
extent) and pasted on a 640×480 grey canvas, for S from 160 down to 32 px. Per size: frames
where the face is found, and the absolute difference (iris_x: mean and 90th percentile;
iris_y: mean) of the iris position features (`iris_x_*`, `iris_y_*` of core/features.eye_features: the iris centre on the
eye's own axes, / half the eye width and / the eye width) from the reference's on the same
frame. That is the loss from resolution, not an error against ground truth. For scale: an
eyeball of 12 mm radius in an eye 30 mm wide moves iris_x by about 0.8·sin(angle), so 0.014 is
about 1° of horizontal eye rotation near straight ahead.
Writes benchmarks/results/iris_by_face_size.json (with the machine).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sentin_ros.core.face_front_end import FaceFrontEnd, FrontEndConfig  # noqa: E402
from sentin_ros.core.features import eye_features  # noqa: E402
from sentin_ros.tools.bench.common import machine  # noqa: E402

CLIPS = ("single_face_640x360.mp4", "pexels_wolfgang_langer_640x360.mp4")
SIZES = (160, 120, 96, 80, 64, 56, 48, 40, 32)
IRIS = [0, 1, 2, 3]  # iris_x_left, iris_y_left, iris_x_right, iris_y_right
DEG_PER_IRIS_X = math.degrees(1 / 0.8)  # small-angle slope of 0.8·sin(angle)


def rgb_frames(path: Path, n: int = 150) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while len(out) < n:
        ok, f = cap.read()
        if not ok:
            break
        out.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
    return out


def iris_track(frames: list[np.ndarray], iris_model_path: str = "") -> list[tuple[np.ndarray, float] | None]:
    """Per frame (iris features, face size in px) of the first face, or None."""
    fe = FaceFrontEnd(FrontEndConfig(max_faces=1, iris_model_path=iris_model_path))
    try:
        out = []
        for i, f in enumerate(frames):
            found = fe.find(f, all_windows=i == 0)
            if not found:
                out.append(None)
                continue
            p = found[0].landmarks.points
            out.append((eye_features(p, f.shape[1], f.shape[0])[IRIS], float(np.ptp(p[:468, 0]))))
        return out
    finally:
        fe.close()


def on_canvas(frame: np.ndarray, scale: float) -> np.ndarray:
    small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 96, np.uint8)
    h, w = small.shape[:2]
    canvas[100:100 + h, 100:100 + w] = small
    return canvas


def by_size(frames: list[np.ndarray]) -> dict:
    ref = iris_track(frames)
    full = float(np.median([r[1] for r in ref if r]))
    out: dict = {"face_px_at_full_resolution": round(full, 1), "sizes": {}}
    for size in (s for s in SIZES if s < 0.9 * full):
        got = iris_track([on_canvas(f, size / full) for f in frames])
        d = np.array([np.abs(g[0] - r[0]) for g, r in zip(got, ref)
                      if g and r and np.isfinite(g[0]).all() and np.isfinite(r[0]).all()])
        x, y = d[:, [0, 2]], d[:, [1, 3]]
        out["sizes"][size] = {"found": sum(g is not None for g in got), "frames": len(frames),
                              "iris_x_mean_abs": round(float(x.mean()), 3), "iris_x_p90_abs": round(float(np.percentile(x, 90)), 3),
                              "iris_y_mean_abs": round(float(y.mean()), 3),
                              "iris_x_mean_abs_as_degrees": round(float(x.mean()) * DEG_PER_IRIS_X, 1)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "iris_by_face_size.json"))
    args = ap.parse_args()
    media = Path(args.shared) / "media"
    if not all((media / c).is_file() for c in CLIPS):
        print(f"skipped: the shared clips are not under {media} (developers' data, not in a fresh clone)")
        return 0
    cv2.setNumThreads(1)
    report = {"machine": machine(), "method": __doc__.split("\n\n")[1].strip()}
    print("| clip | face px | " + " | ".join(f"{s} px" for s in SIZES) + " |\n|---|---|" + "---|" * len(SIZES))
    for clip in CLIPS:
        r = report[clip] = by_size(rgb_frames(media / clip))
        cells = [f"{v['iris_x_mean_abs']:.3f} (~{v['iris_x_mean_abs_as_degrees']}°)" if (v := r["sizes"].get(s)) else "" for s in SIZES]
        print(f"| {clip} | {r['face_px_at_full_resolution']:.0f} | " + " | ".join(cells) + " |", flush=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
