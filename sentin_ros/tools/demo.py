"""`make demo` / `sentin-ros demo`: the full pipeline through the ROS nodes, in one process.

source -> face -> emotion -> stress -> gaze (the composition, from config/sentin.yaml) on a
clip that needs no download (generated from skimage's astronaut into out/), a video
(--video) or a webcam (--camera). A listener node on the same topics prints one line per face
and frame, writes the annotated video and a contact sheet (overlay.py, as the debug view), and
the summary reads the nodes' diagnostics. Nodes that cannot run yet (a model file not there)
are skipped with the reason and the demo goes on without them.

By default the source publishes a frame only when the pipeline has processed the previous one
(lockstep, as fast as the pipeline goes, nothing dropped); --realtime keeps the video's rate
and lets slow nodes drop frames, as on a robot. A webcam is always real time.
"""
from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
from rclpy.node import Node

from ..inference.stress import STATE_NAMES
from ..media.overlay import contact_sheet, draw_overlay
from ..ros.convert.images import image_to_array, stamp_to_seconds
from ..ros.qos import image_qos, output_qos
from ..ros.result_cache import FrameEntry, ResultCache

GENERATED_FRAMES = 90
SHEET_TILES = 12


class DemoListener(Node):
    """Collects every output by stamp; a frame is written out once two newer images have arrived."""

    def __init__(self, context, namespace: str = "", quiet: bool = False, topics: dict[str, str] | None = None):
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import Image

        from sentin_ros.msg import Emotion, FaceArray, Gaze, Stress

        super().__init__("demo_listener", namespace=namespace, context=context)
        t = {"image": "image", "faces": "faces", "emotion": "emotion", "stress": "stress", "gaze": "gaze", **(topics or {})}
        self.quiet = quiet
        self.running: set[str] = set()  # composition node keys, for the live lines
        self.cache = ResultCache(size=64)
        self.frames_written = 0
        self.frames_seen = 0
        self.face_frames = 0
        self.detections = 0
        self.ids: set[int] = set()
        self.counts = {"emotion": 0, "stress": 0, "gaze": 0}
        self.latency_ms: dict[str, list[float]] = {"faces": [], "emotion": [], "stress": [], "gaze": []}
        self.diagnostics: dict[str, dict[str, str]] = {}
        self.diag_messages = 0
        self.writer: cv2.VideoWriter | None = None
        self.video_path: str | None = None
        self.fps = 15.0
        self.thumbs: list[tuple[int, np.ndarray, str]] = []
        self._index: dict[tuple[int, int], int] = {}
        self._arrival: dict[tuple[int, int], float] = {}
        self._t0: float | None = None
        self.subs = [
            self.create_subscription(Image, t["image"], self._on_image, image_qos("reliable", 5)),
            self.create_subscription(FaceArray, t["faces"], self._on_faces, output_qos(50)),
            self.create_subscription(Emotion, t["emotion"], lambda m: self._on_result("emotion", m), output_qos(200)),
            self.create_subscription(Stress, t["stress"], lambda m: self._on_result("stress", m), output_qos(200)),
            self.create_subscription(Gaze, t["gaze"], lambda m: self._on_result("gaze", m), output_qos(200)),
        ]
        self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 50)

    def matched(self, publishers: dict[str, bool]) -> bool:
        """True once each subscription whose topic has a running publisher is matched to it."""
        names = ["image", "faces", "emotion", "stress", "gaze"]
        return all(sub.get_publisher_count() > 0 for name, sub in zip(names, self.subs) if publishers.get(name))

    def open_video(self, path: str, fps: float) -> None:
        self.video_path, self.fps = path, fps if fps > 0 else 15.0

    # -- callbacks ----------------------------------------------------------------------------
    def _latency(self, kind: str, header) -> None:
        """Time from the image's arrival here to this output's (stamps may follow the file's timeline)."""
        arrived = self._arrival.get((header.stamp.sec, header.stamp.nanosec))
        if arrived is not None:
            self.latency_ms[kind].append((time.monotonic() - arrived) * 1e3)

    def _on_image(self, msg) -> None:
        img, enc = image_to_array(msg)
        if enc == "rgb8":
            img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
        elif enc == "mono8":
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        key = self.cache.add_image(msg.header, img.copy())
        self._arrival[key] = time.monotonic()
        if len(self._arrival) > 256:
            self._arrival.pop(next(iter(self._arrival)))
        self._index[key] = self.frames_seen
        self.frames_seen += 1
        if self._t0 is None:
            self._t0 = stamp_to_seconds(msg.header.stamp)
        self._flush_ready()

    def _flush_ready(self, lag: int = 2, give_up: int = 10) -> None:
        """Write out the oldest frames that have their faces (and emotion) and `lag` newer images,
        or that `give_up` newer images have passed (dropped by the face node)."""
        keys = self.cache.keys()
        expect = {"emotion"} & self.running
        last = None
        for i, key in enumerate(keys[:-lag] if lag else keys):
            entry = self.cache.get(key)
            newer = len(keys) - 1 - i
            if entry is not None and (entry.has_all(expect) or newer >= give_up):
                last = key
            else:
                break
        if last is not None:
            self.flush(last)

    def _on_faces(self, msg) -> None:
        self._latency("faces", msg.header)
        self.cache.add_faces(msg)

    def _on_result(self, kind: str, msg) -> None:
        self._latency(kind, msg.header)
        self.counts[kind] += 1
        self.cache.add(kind, msg)

    def _on_diagnostics(self, msg) -> None:
        self.diag_messages += 1
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            values["message"] = status.message
            self.diagnostics[status.name.split(": ", 1)[-1]] = values

    # -- output -------------------------------------------------------------------------------
    def flush(self, upto=None) -> None:
        """Write out every frame up to `upto` (all when None), oldest first."""
        if upto is None:
            entries = self.cache.take_all()
        else:
            entry, older = self.cache.take(upto)
            entries = older + ([entry] if entry is not None else [])
        for entry in entries:
            if entry.image is not None:
                self._write(entry)

    def _lines(self, entry: FrameEntry, index: int, t: float) -> list[str]:
        if entry.faces is None:
            return [f"frame {index:4d}  t={t:6.2f}s  (not processed: dropped by the face node)"]
        if not entry.faces.faces:
            return [f"frame {index:4d}  t={t:6.2f}s  no face"]
        lines = []
        for ov in self.cache.overlays(entry):
            emo = f"{ov.emotion:<9s} {ov.emotion_confidence:.2f}" if ov.emotion else f"{'-':<14s}"
            if ov.stress is not None:
                st = f"stress {ov.stress:.2f} {STATE_NAMES[ov.stress_state or 0]:<8s}"
            else:
                st = "stress  -  (warming up)" if "stress" in self.running else "stress  -"
            gz = f"gaze ({ov.gaze[0]:.2f}, {ov.gaze[1]:.2f}){' on-screen' if ov.on_screen else ' off-screen'}" if ov.gaze else "gaze -"
            lines.append(f"frame {index:4d}  t={t:6.2f}s  face {ov.face_id:<3d} {emo}  {st}  {gz}")
        return lines

    def _write(self, entry: FrameEntry) -> None:
        index = self._index.pop(entry.key, self.frames_written)
        t = entry.key[0] + entry.key[1] * 1e-9 - (self._t0 or 0.0)
        faces = self.cache.overlays(entry)
        if entry.faces is not None:
            self.cache.forget_faces(entry.face_ids())
            if entry.faces.faces:
                self.face_frames += 1
                self.detections += len(entry.faces.faces)
                self.ids.update(entry.face_ids())
        if not self.quiet:
            for line in self._lines(entry, index, t):
                print(line, flush=True)
        caption = f"frame {index}  {len(faces)} face(s)"
        drawn = draw_overlay(entry.image, faces, caption)
        if self.video_path is not None:
            if self.writer is None:
                h, w = drawn.shape[:2]
                self.writer = cv2.VideoWriter(self.video_path, cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
                if not self.writer.isOpened():
                    print(f"cannot write {self.video_path}; no annotated video", flush=True)
                    self.video_path = None
            if self.writer is not None and self.video_path is not None:
                self.writer.write(drawn)
        self.frames_written += 1
        scale = 320.0 / drawn.shape[1]
        thumb = cv2.resize(drawn, (320, max(1, round(drawn.shape[0] * scale))), interpolation=cv2.INTER_AREA)
        label = faces[0].emotion if faces and faces[0].emotion else ("face" if faces else "no face")
        self.thumbs.append((index, thumb, f"#{index} {label}"))
        if len(self.thumbs) > 4 * SHEET_TILES:  # keep memory flat on long runs: every other one
            self.thumbs = self.thumbs[::2]

    def close_video(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None

    def write_sheet(self, path: str) -> str | None:
        if not self.thumbs:
            return None
        pick = np.linspace(0, len(self.thumbs) - 1, min(SHEET_TILES, len(self.thumbs))).round().astype(int)
        chosen = [self.thumbs[i] for i in sorted(set(pick.tolist()))]
        sheet = contact_sheet([c[1] for c in chosen], cols=4, tile_width=320, labels=[c[2] for c in chosen])
        return path if cv2.imwrite(path, sheet) else None


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.1f}" if values else "-"


def _summary(comp, listener: DemoListener, source_desc: str, wall: float, video: str | None, sheet: str | None) -> str:
    final = comp.diagnostics()
    lines = ["", "== sentin_ros demo summary =="]
    lines.append(f"source: {source_desc}")
    src = final.get("source", {})
    face = final.get("face", {})
    published = int(src.get("frames_published", listener.frames_seen))
    lines.append(f"frames: {published} published, {face.get('processed', '?')} processed by the face node, "
                 f"{listener.face_frames} with a face; {listener.frames_written} annotated; wall time {wall:.1f} s "
                 f"({published / wall if wall > 0 else 0:.1f} frames/s)")
    lines.append(f"faces: {listener.detections} detections, {len(listener.ids)} track ID(s) {sorted(listener.ids)}; outputs: "
                 + ", ".join(f"{k} {v}" for k, v in listener.counts.items()))
    lines.append("per stage (node diagnostics; processing time per message, rates from the last /diagnostics while running):")
    lines.append(f"  {'node':<16s} {'median ms':>9s} {'max ms':>8s} {'in Hz':>7s} {'out Hz':>7s} {'received':>8s} {'dropped':>7s}  delegate")
    dropped_total = 0
    for key, values in final.items():
        name = comp.nodes[key].get_fully_qualified_name()
        live = listener.diagnostics.get(name, {})
        name = comp.nodes[key].get_name()
        dropped = int(values.get("dropped", 0))
        dropped_total += dropped if key != "debug_view" else 0
        delegate = next((v for k, v in values.items() if k.endswith("_delegate")), "")
        fell = any(v == "true" for k, v in values.items() if k.endswith("_delegate_fell_back"))
        lines.append(f"  {name:<16s} {values.get('processing_ms_median', '-'):>9s} {values.get('processing_ms_max', '-'):>8s} "
                     f"{live.get('input_rate_hz', '-'):>7s} {live.get('output_rate_hz', '-'):>7s} {values.get('received', '-'):>8s} "
                     f"{dropped:>7d}  {delegate}{' (fell back)' if fell else ''}")
    lines.append("latency through the graph, image received -> output received here (median ms): "
                 + ", ".join(f"{k} {_median(v)}" for k, v in listener.latency_ms.items()))
    try:
        missed = published - int(face.get("processed", published))
        received = int(face.get("received", published))
    except ValueError:
        missed, received = 0, published
    lines.append(f"dropped frames: {missed} of {published} not processed by the face node ({published - received} lost "
                 f"before it, {int(face.get('dropped', 0))} replaced by newer ones in its queue); all nodes' queues: {dropped_total}; "
                 f"/diagnostics messages seen: {listener.diag_messages}")
    for key, reason in comp.skipped.items():
        lines.append(f"skipped: {key}: {reason}")
    lines.append(f"annotated video: {video or '(none)'}")
    lines.append(f"contact sheet: {sheet or '(none)'}")
    return "\n".join(lines)


def run_demo(args, ros_args: list[str] | None = None) -> int:
    from ..media.sources import camera_index, open_source
    from ..media.synthetic import write_clip
    from ..ros.composition import Composition, CompositionConfig, CompositionError

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # `make demo VIDEO=/dev/video0` (or VIDEO=0) means a webcam too.
    camera = args.camera is not None or (args.video is not None and camera_index(args.video) is not None)
    if args.video is None and not camera:
        frames = args.frames or GENERATED_FRAMES
        clip = str(out / "demo_clip.mp4")
        print(f"generating a {frames}-frame clip (skimage astronaut, no download): {clip}", flush=True)
        write_clip(clip, n_frames=frames)
        args.video = clip
    spec = args.video if args.video is not None else args.camera
    if not camera:
        try:
            src = open_source(spec)
            info = src.info
            src.close()
        except Exception as exc:  # a bad path: say so before starting ROS
            print(f"sentin-ros demo: {exc}")
            return 2
        source_desc = f"{spec} ({info.kind}, {info.width}x{info.height}, {info.fps:.2f} fps, {info.frames} frames)"
        fps = info.fps
    else:
        source_desc, fps = f"camera {spec} (until Ctrl-C{' or --frames' if not args.frames else f' or {args.frames} frames'})", 15.0
    lockstep = not (args.realtime or camera)
    # Lockstep plays the file faster than real time: stamps follow the file's timeline, so face
    # tracking and the temporal models (stress, gaze) see the clip's own frame rate.
    overrides = {"*": {"diagnostics_period": 0.5},
                 "source": {"as_fast_as_possible": lockstep, "stamp_source": "video" if lockstep else "clock"}}
    if args.frames:
        overrides["source"]["max_frames"] = int(args.frames)
    if args.compressed:  # the pipeline takes JPEGs; the listener still draws on the raw frames
        overrides["source"]["image_transport"] = "both"
    # A namespace of its own unless one is given: other ROS graphs on this machine's domain
    # (another demo, a robot) must not feed our nodes, nor ours theirs.
    if not args.namespace:
        args.namespace = f"sentin_demo_{os.getpid()}"
    # Node INFO logs (configured, activated...) would bury the per-face lines; warnings and errors still show.
    ros_args = list(ros_args or []) or ["--ros-args", "--log-level", "warn"]
    config = CompositionConfig.from_args(args, lockstep=lockstep, overrides=overrides, ros_args=ros_args)
    try:
        comp = Composition(config)
    except Exception as exc:
        print(f"sentin-ros demo: {exc}")
        return 2
    listener = DemoListener(comp.context, args.namespace, quiet=args.quiet,
                            topics={"image": args.image_topic} if args.image_topic else None)
    video = str(out / "demo_annotated.mp4")
    listener.open_video(video, fps)
    code = 0
    t0 = time.monotonic()
    try:
        comp.start(hold_source=True, extra_nodes=(listener,))
        running = listener.running = set(comp.nodes)
        publishers = {"image": True, "faces": True, "emotion": "emotion" in running, "stress": "stress" in running, "gaze": "gaze" in running}
        deadline = time.monotonic() + 5.0
        while not listener.matched(publishers) and time.monotonic() < deadline:
            time.sleep(0.01)
        print(f"pipeline: {' -> '.join(comp.nodes[k].get_name() for k in comp.nodes)}"
              f"{' (lockstep: every frame)' if lockstep else ' (real time)'}; namespace /{args.namespace}", flush=True)
        t0 = time.monotonic()
        comp.activate_source()
        if "source" not in comp.nodes:
            raise CompositionError(f"the source could not start: {comp.skipped.get('source')}")
        while not comp.finished():
            time.sleep(0.05)
        comp.drain()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    except CompositionError as exc:
        print(f"sentin-ros demo: {exc}", flush=True)
        code = 1
    wall = time.monotonic() - t0
    try:
        listener.flush()
        listener.close_video()
        sheet = listener.write_sheet(str(out / "demo_contact_sheet.png"))
        if code == 0:
            print(_summary(comp, listener, source_desc, wall, listener.video_path if listener.frames_written else None, sheet), flush=True)
    finally:
        comp.shutdown()
    return code
