"""`sentin-ros` (also `python -m sentin_ros`): the single command-line entry point.

    sentin-ros run   [--params config/sentin.yaml] [--video PATH | --camera N] [--image-topic TOPIC] [--camera-info-topic TOPIC]
                     [--namespace NS] [--models face,emotion,stress,gaze] [--delegate D] [--threads N]
                     [--compressed] [--debug-image] [--loop] [--rate HZ] [--lockstep] [--ros-args ...]
    sentin-ros demo  [--video PATH | --camera N] [--frames N] [--out DIR] [--realtime] ...
    sentin-ros faces IMAGE|FOLDER|VIDEO [--json] [--out PATH] [--params YAML]   (sentin_ros.tools.faces)
    sentin-ros gaze eval --images FOLDER --targets CSV [--calib ...] [--json]   (sentin_ros.tools.gaze_eval)
    sentin-ros bag   ...   (sentin_ros.tools.bags.cli)
    sentin-ros bench ...   (sentin_ros.tools.bench.cli)

`run` is the one-process equivalent of launch/sentin.launch.py: the same nodes from the same
YAML in one process (an executor per node), lifecycles driven to active in pipeline order; it runs until
Ctrl-C (or the end of a non-looping --video). Arguments after --ros-args go to rclpy (remaps:
`--ros-args -r image:=/camera/image_raw`).
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time

from .ros.graph import DEFAULT_MODELS, MODELS, default_params_file

#: Subcommands the tools provide, imported only when used.
HOOKS = {"bag": "sentin_ros.tools.bags.cli", "bench": "sentin_ros.tools.bench.cli", "faces": "sentin_ros.tools.faces",
         "gaze": "sentin_ros.tools.gaze_eval"}


def _models(text: str) -> tuple[str, ...]:
    names = tuple(m.strip() for m in text.split(",") if m.strip())
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown model(s) {', '.join(unknown)}: choose from {', '.join(MODELS)}")
    return names


def add_pipeline_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", default=default_params_file(), help="ROS 2 parameter YAML (default: %(default)s)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--video", metavar="PATH", help="publish this video file or image folder with the source node")
    src.add_argument("--camera", metavar="N", help="publish webcam N (/dev/videoN or an index) with the source node")
    p.add_argument("--image-topic", metavar="TOPIC", help="image topic (input of the face node; output of the source node)")
    p.add_argument("--camera-info-topic", metavar="TOPIC",
                   help="CameraInfo topic (face, gaze, source); default: the sibling camera_info of the image topic, 'none' = none")
    p.add_argument("--compressed", action="store_true", help="use sensor_msgs/CompressedImage on <image-topic>/compressed")
    p.add_argument("--namespace", default="", metavar="NS", help="namespace of every node (one pipeline per camera)")
    p.add_argument("--models", type=_models, default=DEFAULT_MODELS, metavar="LIST",
                   help=f"comma-separated perception nodes to run (face is always run) from {','.join(MODELS)}; default {','.join(DEFAULT_MODELS)} (biometrics is opt-in)")
    p.add_argument("--delegate", help="LiteRT delegate for every model: xnnpack | gpu | edgetpu | external:<lib.so>[;k=v]")
    p.add_argument("--threads", type=int, metavar="N", help="XNNPACK threads per model")


def _split_ros_args(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--ros-args" in argv:
        i = argv.index("--ros-args")
        return argv[:i], argv[i:]
    return argv, []


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="sentin-ros", description="On-device affect and attention perception for ROS 2.")
    sub = ap.add_subparsers(dest="command", required=True, metavar="{run,demo,faces,bag,bench,gaze}")

    run = sub.add_parser("run", help="run the pipeline in one process (launch-free composition)")
    add_pipeline_arguments(run)
    run.add_argument("--debug-image", action="store_true", help="run the debug view node (debug_image topic)")
    run.add_argument("--loop", action="store_true", help="loop the --video source")
    run.add_argument("--rate", type=float, help="source publish rate (Hz); default: the file's rate")
    run.add_argument("--lockstep", action="store_true",
                     help="publish the next source frame only once the pipeline has processed the previous one")
    run.add_argument("--status-period", type=float, default=5.0, metavar="S",
                     help="print one status line per node every S seconds from diagnostics (0 = never)")

    demo = sub.add_parser("demo", help="the full pipeline on a generated clip (or --video/--camera): live lines, summary, annotated video")
    add_pipeline_arguments(demo)
    demo.add_argument("--frames", type=int, default=0, metavar="N", help="stop after N frames (generated clip: its length, default 90)")
    demo.add_argument("--out", default="out", metavar="DIR", help="where the clip, annotated video and contact sheet go (default: out)")
    demo.add_argument("--realtime", action="store_true",
                      help="publish at the video's rate and let slow nodes drop frames (default: every frame, as fast as the pipeline goes)")
    demo.add_argument("--quiet", action="store_true", help="no per-face lines, only the summary")

    for name in HOOKS:
        sub.add_parser(name, help=f"see `sentin-ros {name} --help`", add_help=False)
    return ap


def _run_hook(name: str, rest: list[str]) -> int:
    module = importlib.import_module(HOOKS[name])
    sys.argv = [f"sentin-ros {name}", *rest]
    result = module.main()
    return int(result or 0)


def _status_line(diag: dict[str, dict[str, str]]) -> str:
    parts = []
    for key, v in diag.items():
        parts.append(f"{key} {v.get('input_rate_hz', '?')}->{v.get('output_rate_hz', '?')} Hz "
                     f"{v.get('processing_ms_median', '?')} ms drop {v.get('dropped', '?')}"
                     + ("" if v.get("level") == "0" else f" [{v.get('message')}]"))
    return " | ".join(parts)


def cmd_run(args, ros_args: list[str]) -> int:
    from .ros.composition import Composition, CompositionConfig, CompositionError
    from .ros.stop_signals import StopSignals

    overrides: dict[str, dict] = {"source": {}}
    if args.loop:
        overrides["source"]["loop"] = True
    if args.rate is not None:
        overrides["source"]["rate"] = float(args.rate)
    config = CompositionConfig.from_args(args, debug_image=args.debug_image, lockstep=args.lockstep, overrides=overrides, ros_args=ros_args)
    try:
        comp = Composition(config)
    except Exception as exc:  # bad YAML, bad --models: say why
        print(f"sentin-ros run: {exc}", file=sys.stderr)
        return 2
    # SIGINT/SIGTERM request the shutdown (every node's lifecycle shutdown, then rclpy); a second
    # one during it is only noted (ros/stop_signals.py).
    stop = StopSignals()
    code = 0
    try:
        comp.start()
        if not stop.is_set():
            print("running; Ctrl-C to stop" + (" (or the end of the video)" if "source" in comp.nodes else ""), flush=True)
        last = time.monotonic()
        while not stop.wait(0.1) and not comp.finished():
            if args.status_period > 0 and time.monotonic() - last >= args.status_period:
                last = time.monotonic()
                print(_status_line(comp.diagnostics()), flush=True)
        if stop.is_set():
            print(f"{stop.reason}: shutting down", flush=True)
        else:
            comp.drain()
            print("source finished", flush=True)
    except CompositionError as exc:
        print(f"sentin-ros run: {exc}", file=sys.stderr)
        code = 1
    finally:
        if comp.nodes:
            print("final: " + _status_line(comp.diagnostics()), flush=True)
        comp.shutdown()
        stop.ignore_from_now_on()
    return code

def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in HOOKS:
        return _run_hook(argv[0], argv[1:])
    argv, ros_args = _split_ros_args(argv)
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return cmd_run(args, ros_args)
    if args.command == "demo":
        from .tools.demo import run_demo

        return run_demo(args, ros_args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
