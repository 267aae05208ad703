"""`sentin-ros faces IMAGE|FOLDER|VIDEO`: what the face stage finds in your own material.

Runs the face node's pipeline (same YAML, same parameters, no ROS graph) and prints, per
frame, the faces found with their ID, box, detection score and quality; then a summary.
A still image (and each image of a folder) is one first frame: the whole detection cycle
(the frame and every tile) runs on it. `--json` prints one JSON object per frame and line
on stdout (the summary goes to stderr); `--out` writes an annotated image, folder or video.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from ..core.face_pipeline import FacePipeline, FrameFaces, pipeline_config
from ..media.overlay import FaceOverlay, draw_overlay
from ..media.sources import IMAGE_SUFFIXES, open_source, read_frames
from ..ros import param_file
from ..ros.graph import default_params_file
from ..runtime import ModelOptions


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="an image, a folder of images (each taken on its own) or a video file")
    p.add_argument("--json", action="store_true", help="one JSON object per frame and line on stdout")
    p.add_argument("--out", metavar="PATH", help="annotated output: an image (for an image), a folder (for a folder), a video (.mp4, for a video)")
    p.add_argument("--params", default=default_params_file(), help="ROS 2 parameter YAML; its face_node section is used (default: %(default)s)")
    p.add_argument("--namespace", default="", help="namespace whose face_node section applies")
    p.add_argument("--max-frames", type=int, default=0, help="stop after this many frames (0 = all)")


def face_record(face) -> dict:
    q = face.quality
    return {
        "id": int(face.face_id),
        "box": [int(v) for v in face.roi],
        "score": round(float(face.score), 4) if np.isfinite(face.score) else None,
        "quality": {"presence": round(float(q.presence), 4), "size_px": round(float(q.size_px), 1), "expression_ok": bool(q.expression_ok)},
        "yaw": round(float(face.yaw), 1), "pitch": round(float(face.pitch), 1), "roll": round(float(face.roll), 1),
    }


def _frames(spec: str, max_frames: int):
    """(name, BGR image, still) for every frame of the input."""
    path = Path(spec)
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SystemExit(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {spec}")
    else:
        for i, frame in enumerate(read_frames(open_source(spec), max_frames)):
            yield f"{path.name}#{i}", frame, False
        return
    for f in files[: max_frames or None]:
        img = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if img is None:
            print(f"cannot read {f}; skipped", file=sys.stderr)
            continue
        yield f.name, img, True


class _Writer:
    def __init__(self, out: str | None, input_path: Path):
        self.out = Path(out) if out else None
        self.folder = input_path.is_dir()
        self.video = None
        if self.out is not None and self.folder:
            self.out.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, img: np.ndarray, fps: float = 25.0) -> None:
        if self.out is None:
            return
        if self.folder:
            cv2.imwrite(str(self.out / name), img)
        elif self.out.suffix.lower() in IMAGE_SUFFIXES:
            cv2.imwrite(str(self.out), img)
        else:
            if self.video is None:
                self.video = cv2.VideoWriter(str(self.out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (img.shape[1], img.shape[0]))
            self.video.write(img)

    def close(self) -> None:
        if self.video is not None:
            self.video.release()


def _annotate(img: np.ndarray, frame: FrameFaces) -> np.ndarray:
    faces = [FaceOverlay(f.face_id, f.roi, f.landmarks) for f in frame.faces]
    out = draw_overlay(img, faces, caption=f"{len(faces)} face(s)")
    for f in frame.faces:
        x, y, w, h = f.roi
        text = f"{f.quality.presence:.2f} {f.quality.size_px:.0f}px" + ("" if f.quality.expression_ok else " low-q")
        cv2.putText(out, text, (x, y + h + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def run(args: argparse.Namespace) -> int:
    values = param_file.params_for(param_file.load(args.params), "face_node", args.namespace) if args.params else {}
    runtime = ModelOptions(str(values.get("delegate", "xnnpack")), int(values.get("num_threads", 1)), bool(values.get("delegate_fallback", True)))
    pipeline = FacePipeline(pipeline_config(values, runtime))
    writer = _Writer(args.out, Path(args.input))
    counts, times, ids = [], [], set()
    try:
        for i, (name, img, still) in enumerate(_frames(args.input, args.max_frames)):
            if still:
                pipeline.reset()
            start = time.perf_counter()
            frame = pipeline.process(img, i / 25.0, "bgr8", still=still)
            times.append(time.perf_counter() - start)
            counts.append(len(frame.faces))
            ids.update(f.face_id for f in frame.faces)
            record = {"frame": i, "source": name, "faces": [face_record(f) for f in frame.faces]}
            if args.json:
                print(json.dumps(record), flush=True)
            else:
                faces = "; ".join(
                    f"id {r['id']} box {r['box']} score {r['score']} presence {r['quality']['presence']:.3f} "
                    f"size {r['quality']['size_px']:.0f}px{'' if r['quality']['expression_ok'] else ' (low quality)'}"
                    for r in record["faces"]
                )
                print(f"frame {i} ({name}): {len(frame.faces)} face(s){': ' + faces if faces else ''}")
            writer.write(name, _annotate(img, frame))
    finally:
        writer.close()
        pipeline.close()
    if not counts:
        print("no frames read", file=sys.stderr)
        return 1
    summary = (
        f"{len(counts)} frame(s), {sum(counts)} face(s) ({np.mean(counts):.2f} a frame, at most {max(counts)}), "
        f"{len(ids)} track ID(s), {1000 * np.median(times):.1f} ms a frame (median)"
    )
    print(summary, file=sys.stderr if args.json else sys.stdout)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="sentin-ros faces", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return run(p.parse_args(argv))
