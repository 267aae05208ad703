"""`sentin-ros bag make|eval|info` (also `python -m sentin_ros.tools.bags ...`).

  make OUT  --video F | --images DIR | --npz F [--split PrivateTest] | --synthetic N   -> a rosbag2
  eval BAG  [--deterministic | --realtime] [--out DIR] [--record-outputs OUT.mcap]   -> report
  info BAG                                                                             -> topics, counts

Errors (missing file, unknown topic, corrupt message...) end with a one-line message and exit
status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .store import DEFAULT_START_S, IMAGE_TOPIC, IMAGE_TYPES, INFO_TOPIC, LABEL_TOPIC, STORAGES, BagError

EXIT_ERROR = 2


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from exc
    return w, h


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sentin-ros bag", description="Make rosbag2 files of camera frames and evaluate the perception on them.")
    sub = p.add_subparsers(dest="command", required=True)

    m = sub.add_parser("make", help="write a rosbag2 (Image + CameraInfo [+ labels]) from a video, images, a labelled set or a synthetic clip")
    m.add_argument("out", help="bag directory to create (a .mcap/.db3 suffix picks the storage and is dropped from the directory name)")
    src = m.add_mutually_exclusive_group(required=True)
    src.add_argument("--video", help="a video file (OpenCV)")
    src.add_argument("--images", help="a folder of images, taken in name order")
    src.add_argument("--npz", help="a labelled FER2013 .npz (see ../shared/README.md): 48×48 faces, placed on a larger frame")
    src.add_argument("--synthetic", type=int, metavar="N", help="N frames of the built-in synthetic clip (astronaut face, leaves the view at 60-80%%)")
    m.add_argument("--rate", type=float, default=0.0, help="frames per second of the bag stamps (default: the video's fps, else 15; 10 for --npz)")
    m.add_argument("--storage", choices=STORAGES, default="mcap")
    m.add_argument("--max-frames", type=int, default=0, help="stop after N source frames (0: all)")
    m.add_argument("--resize", type=_size, help="WIDTHxHEIGHT for every frame (video/images/synthetic)")
    m.add_argument("--split", default="PrivateTest", help="--npz: Training | PublicTest | PrivateTest")
    m.add_argument("--limit", type=int, default=0, help="--npz: at most N faces of the split (0: all)")
    m.add_argument("--offset", type=int, default=0, help="--npz: skip the first N faces of the split")
    m.add_argument("--face-size", type=int, default=192, help="--npz: side of the upscaled face (px)")
    m.add_argument("--canvas", type=int, default=384, help="--npz: side of the grey frame (px)")
    m.add_argument("--gap-frames", type=int, default=1, help="--npz: empty frames before each face, so each face is detected afresh (see bags.fer_source)")
    m.add_argument("--start-time", type=float, default=DEFAULT_START_S, help="stamp of the first frame, seconds since the epoch (fixed: same input, same bag)")
    m.add_argument("--frame-id", default="camera_optical")
    m.add_argument("--image-topic", default=IMAGE_TOPIC)
    m.add_argument("--info-topic", default=INFO_TOPIC, help="CameraInfo topic; '' for none")
    m.add_argument("--label-topic", default=LABEL_TOPIC)
    m.add_argument("--force", action="store_true", help="overwrite an existing bag directory")
    m.add_argument("--quiet", action="store_true", help="no progress output")

    e = sub.add_parser("eval", help="replay a bag through the perception and write a report (JSON + HTML)")
    e.add_argument("bag", help="rosbag2 directory (or a .mcap/.db3 inside one)")
    mode = e.add_mutually_exclusive_group()
    mode.add_argument("--deterministic", action="store_true", help="every frame in order through the in-process pipeline (default)")
    mode.add_argument("--realtime", action="store_true", help="publish at the recorded rate through the ROS nodes; measures latency and drops")
    e.add_argument("--image-topic", help="image topic to use (default: the bag's only image topic, or /camera/image_raw)")
    e.add_argument("--out", help="report directory (default: out/eval/<bag>-<mode>)")
    e.add_argument("--record-outputs", metavar="OUT.mcap", help="also write the outputs (FaceArray, Emotion, Stress, Gaze) to this bag")
    e.add_argument("--stages", default="emotion,stress,gaze", help="comma-separated subset of emotion,stress,gaze")
    e.add_argument("--threads", type=int, default=1, help="LiteRT threads per model (deterministic)")
    for stage in ("emotion", "stress", "gaze"):
        e.add_argument(f"--{stage}-model", metavar="PATH", help=f"{stage} .tflite to use instead of the committed one")
    e.add_argument("--max-faces", type=int, default=4)
    e.add_argument("--max-frames", type=int, default=0, help="only the first N frames (0: all)")
    e.add_argument("--rate", type=float, default=1.0, help="--realtime: play at this multiple of the recorded rate")
    e.add_argument("--warmup", type=int, default=0, help="--realtime: leave the first N frames out of the latency figures")
    e.add_argument("--reference-npz", help="FER2013 .npz the labelled bag was made from: compare with the model on the raw crops")
    e.add_argument("--repeat-check", action="store_true", help="--deterministic: run twice and check the outputs are byte-identical")
    e.add_argument("--figures", help="also save the report's PNG plots in this folder")
    e.add_argument("--no-html", action="store_true")
    e.add_argument("--quiet", action="store_true", help="no progress bar")

    i = sub.add_parser("info", help="topics, types and counts of a bag")
    i.add_argument("bag")
    i.add_argument("--image-topic")
    return p


def cmd_make(a) -> int:
    from .. import bags
    from ..eval import Progress

    rate = a.rate
    total = 0
    if a.video or a.images:
        from ...media.sources import open_source, read_frames

        source = open_source(a.video or a.images)
        rate = rate or source.info.fps or 15.0
        total = a.max_frames or source.info.frames
        frames = (bags.SourceFrame(img) for img in read_frames(source, a.max_frames, a.resize))
    elif a.npz:
        frames = bags.fer_source(a.npz, a.split, a.limit, a.offset, a.face_size, a.canvas, a.gap_frames)
        if a.max_frames:
            frames = (f for n, f in zip(range(a.max_frames), frames))
        rate = rate or 10.0
        import numpy as np

        n = a.limit or int(np.sum(np.load(a.npz)["usage"] == bags.FER_SPLITS.get(a.split, -1)))
        total = n * (1 + a.gap_frames)
    else:
        if a.synthetic <= 0:
            raise BagError("--synthetic needs a positive frame count")
        frames = bags.synthetic_source(a.synthetic, a.resize or (640, 480))
        rate = rate or 15.0
        total = a.synthetic
    progress = Progress(total, "bag make", enabled=not a.quiet and total > 50) if total else None
    summary = bags.write_frames(
        a.out, frames, rate, a.storage, a.start_time, a.frame_id, a.image_topic, a.info_topic or None, a.label_topic,
        overwrite=a.force, progress=progress,
    )
    print(json.dumps(summary, indent=1))
    return 0


def cmd_eval(a) -> int:
    from .. import eval as ev
    from ..eval.report import write_report

    stages = tuple(s.strip() for s in a.stages.split(",") if s.strip())
    unknown = set(stages) - set(ev.STAGES)
    if unknown:
        raise ev.EvalError(f"unknown stage(s) {sorted(unknown)}; use a subset of {','.join(ev.STAGES)}")
    if a.reference_npz and not os.path.isfile(a.reference_npz):
        raise BagError(f"reference set not found: {a.reference_npz}")
    info = ev.check_bag(a.bag, a.image_topic)
    total = min(info.frames, a.max_frames) if a.max_frames else info.frames
    mode = "realtime" if a.realtime else "deterministic"
    models = {s: getattr(a, f"{s}_model") for s in ev.STAGES if getattr(a, f"{s}_model")}
    for stage, path in models.items():
        if not os.path.isfile(path):
            raise BagError(f"--{stage}-model: no such file {path}")
    progress = ev.Progress(total, f"eval {mode}", enabled=not a.quiet and total > 30)
    if a.realtime:
        params = {s: {"model_path": os.path.abspath(p)} for s, p in models.items()}
        result = ev.evaluate_realtime(a.bag, a.image_topic, stages, a.rate, a.max_frames, a.warmup, record_outputs=a.record_outputs,
                                      progress=progress, node_parameters=params)
    else:
        result = ev.evaluate_deterministic(a.bag, a.image_topic, stages, a.threads, a.max_faces, a.max_frames, progress, a.record_outputs, models)
        if a.repeat_check:
            again = ev.evaluate_deterministic(a.bag, a.image_topic, stages, a.threads, a.max_faces, a.max_frames, None, None, models)
            result["repeat_check"] = {"identical": again["outputs_json"] == result["outputs_json"], "sha256": again["outputs_sha256"]}
    if a.reference_npz:
        result["raw_crop_comparison"] = ev.compare_with_raw(result, a.reference_npz, models.get("emotion"))
    out = a.out or str(Path("out") / "eval" / f"{Path(info.path).name}-{mode}")
    paths = write_report(result, out, html_page_too=not a.no_html, figures_dir=a.figures)
    print(summary_text(result, paths))
    if a.repeat_check and not result["repeat_check"]["identical"]:
        print("error: the two deterministic runs gave different outputs", file=sys.stderr)
        return 1
    return 0


def summary_text(r: dict, paths: dict) -> str:
    lines = [f"{r['mode']}: {r['frames_processed']}/{r['frames_in_bag']} frames, {r['dropped']} dropped"]
    for s, state in r["stages"].items():
        lines.append(f"  {s}: {state}")
    acc = r.get("accuracy")
    if acc:
        lines.append(f"  labelled {acc['labelled_frames']}, detector missed {acc['detector_missed']} ({100 * acc['detector_miss_rate']:.1f}%)")
        if acc.get("accuracy_detected") is not None:
            lines.append(f"  emotion accuracy: {100 * acc['accuracy_detected']:.2f}% of detected faces, {100 * acc['accuracy_all']:.2f}% of all labelled")
    ref = r.get("raw_crop_comparison")
    if ref:
        lines.append(f"  model on raw crops: {100 * ref['raw_crop_accuracy']:.2f}%  -> pipeline loses {ref['loss_points_all']:.2f} points "
                     f"({ref['loss_points_detected']:.2f} on detected faces only)")
    for k, v in (r.get("latency_ms") or {}).items():
        if v.get("n"):
            lines.append(f"  latency {k}: p50 {v['p50']:.1f} ms, p99 {v['p99']:.1f} ms (n={v['n']})")
    for k, v in (r.get("timings_ms") or {}).items():
        if v.get("n"):
            lines.append(f"  time {k}: p50 {v['p50']:.2f} ms, p99 {v['p99']:.2f} ms")
    res = r.get("resources") or {}
    if res:
        lines.append(f"  CPU {res['cpu_cores_mean']:.2f} cores, RSS max {res['rss_mb_max']:.0f} MB")
    if r.get("repeat_check"):
        lines.append(f"  repeat check: {'identical' if r['repeat_check']['identical'] else 'DIFFERENT'} outputs")
    if r.get("recorded_outputs"):
        lines.append(f"  outputs recorded: {r['recorded_outputs']['bag']} {r['recorded_outputs']['messages']}")
    lines.append("  report: " + ", ".join(f"{k} {v}" for k, v in paths.items()))
    return "\n".join(lines)


def cmd_info(a) -> int:
    from .read import BagReader, bag_topics

    print(json.dumps(bag_topics(a.bag), indent=1))
    if a.image_topic or any(t in IMAGE_TYPES for t in bag_topics(a.bag)["topics"].values()):
        with BagReader(a.bag, a.image_topic) as r:
            print(json.dumps(r.info.__dict__, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ...media.sources import SourceError
    from ...runtime import ModelError
    from ..eval.common import EvalError

    try:
        code = {"make": cmd_make, "eval": cmd_eval, "info": cmd_info}[args.command](args)
    except (BagError, EvalError, ModelError, SourceError, OSError) as exc:
        print(f"sentin-ros bag {args.command}: error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_ERROR) from None
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    return code


if __name__ == "__main__":
    raise SystemExit(main())
