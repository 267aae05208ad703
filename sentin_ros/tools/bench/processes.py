"""One process per node, as `ros2 launch` runs them: the node executables, the camera
(`source_node` playing the frames from a folder at the rate asked) included, spawned with
`--ros-args` (the shipped YAML, a namespace of their own), driven to active through their
lifecycle services. This process only listens: it taps the camera's stamps, matches every
output to its frame by header stamp, and reads the nodes' diagnostics. Says how many frames
reached the face node, how many each node lost before its callback or replaced unprocessed, and
the latency image -> output.

The camera is a process of its own because a publisher in this process was not one: with this
process's executor and subscriptions sharing its GIL, publish() stalled up to 2 s and the frames
then left back to back (publish intervals p50 2.5 ms, max 1.2 s for 30 fps), so the nodes saw
bursts and rightly kept only the newest."""
from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

import cv2
import numpy as np

from .common import ROOT, log, stat

EXECUTABLES = {"face": "face_node", "emotion": "emotion_node", "stress": "stress_node", "gaze": "gaze_node"}
TOPICS = {"faces": "FaceArray", "emotion": "Emotion", "stress": "Stress", "gaze": "Gaze"}
DIAGNOSTIC_VALUES = ("received", "processed", "dropped", "lost_before_callback", "embeddings_from_emotion_node", "embeddings_computed_here", "processing_ms_median")


def _spawn(executable: str, namespace: str, env: dict, extra: list[str] = ()) -> subprocess.Popen:
    from ...ros.graph import default_params_file

    args = [sys.executable, str(ROOT / "scripts" / executable), "--ros-args", "--params-file", default_params_file(),
            "-r", f"__ns:={namespace}", "--log-level", "warn", *extra]
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _stamp_of(raw: bytes) -> tuple[int, int]:
    """header.stamp of a serialized message: after the 4-byte CDR encapsulation, int32 sec, uint32 nanosec."""
    return struct.unpack_from("<iI", raw, 4)


def _transition(node, name: str, transitions, proc: subprocess.Popen) -> None:
    from lifecycle_msgs.srv import ChangeState

    client = node.create_client(ChangeState, f"{name}/change_state")
    if not client.wait_for_service(timeout_sec=60.0):
        raise RuntimeError(f"{name} did not come up: {proc.stderr.read()[-500:] if proc.poll() is not None else ''}")
    for tid in transitions:
        req = ChangeState.Request()
        req.transition.id = tid
        future = client.call_async(req)
        deadline = time.monotonic() + 60.0
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not future.done() or not future.result().success:
            raise RuntimeError(f"{name}: transition {tid} failed")


def run_processes(frames: list[np.ndarray], fps: float, models=("face", "emotion", "stress", "gaze"), warmup: int = 10) -> dict:
    """Play `frames` at `fps` from a source_node process to the node processes; latency, delivery and drops per node."""
    import psutil
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from lifecycle_msgs.msg import Transition
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image

    import sentin_ros.msg as interfaces

    from ...ros.qos import image_qos, output_qos
    from ...ros.transport import use_shipped_dds_profile

    namespace = f"/bench{os.getpid()}"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    env.setdefault("ROS_DOMAIN_ID", str(150 + os.getpid() % 60))
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    profile = use_shipped_dds_profile(env)
    os.environ.update({k: env[k] for k in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE")})
    if profile:
        use_shipped_dds_profile()
    folder = tempfile.TemporaryDirectory(prefix="sentin_bench_frames_")
    for i, frame in enumerate(frames):
        cv2.imwrite(os.path.join(folder.name, f"{i:06d}.bmp"), frame)  # uncompressed: reading one costs ~0.6 ms (PNG ~1.8 ms)
    procs = {key: _spawn(EXECUTABLES[key], namespace, env) for key in models}
    # A second params file: the shipped one's /**/source_node entries outrank plain -p overrides.
    camera = os.path.join(folder.name, "camera.yaml")
    with open(camera, "w") as f:
        f.write(f"/**/source_node:\n  ros__parameters:\n    source: '{folder.name}'\n    rate: {float(fps)}\n"
                f"    max_frames: {len(frames)}\n    loop: false\n    image_topic: image\n    camera_info_topic: none\n"
                f"    image_transport: raw\n    stamp_source: clock\n")
    procs["source"] = _spawn("source_node", namespace, env, ["--params-file", camera])
    ctx = rclpy.Context()
    rclpy.init(context=ctx, args=[])
    node = rclpy.create_node("bench_listener", context=ctx)
    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    sent: dict[tuple[int, int], float] = {}
    received: dict[str, dict[tuple[int, int], float]] = {t: {} for t in TOPICS}
    diagnostics: dict[str, dict[str, str]] = {}

    def keep(topic):
        return lambda msg: received[topic].setdefault((msg.header.stamp.sec, msg.header.stamp.nanosec), time.time())

    def on_diag(msg):
        for status in msg.status:
            diagnostics[status.name.rsplit("/", 1)[-1]] = {kv.key: kv.value for kv in status.values}

    subs = [node.create_subscription(getattr(interfaces, t), f"{namespace}/{topic}", keep(topic), output_qos(500))
            for topic, t in TOPICS.items() if topic == "faces" or topic in models]
    # The tap reads only the stamp of the serialized frame; depth 10 so a slow moment here loses none.
    node.create_subscription(Image, f"{namespace}/image", lambda raw: sent.setdefault(_stamp_of(raw), time.time()),
                             image_qos("best_effort", 10), raw=True)
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 50)
    result: dict = {"fps": fps, "frames": len(frames), "models": list(models), "dds_profile": profile}
    try:
        for key in models:  # pipeline order, as the launch file does: face first
            _transition(node, f"{namespace}/{EXECUTABLES[key]}", (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE), procs[key])
        _transition(node, f"{namespace}/source_node", (Transition.TRANSITION_CONFIGURE,), procs["source"])
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline and not (all(s.get_publisher_count() > 0 for s in subs)
                                                   and node.count_publishers(f"{namespace}/image") > 0):
            time.sleep(0.05)
        time.sleep(1.0)  # the face node's and the tap's readers matched to the camera's writer
        children = [psutil.Process(p.pid) for p in procs.values()]
        for c in children:
            c.cpu_percent(None)
        _transition(node, f"{namespace}/source_node", (Transition.TRANSITION_ACTIVATE,), procs["source"])
        time.sleep(len(frames) / fps + 0.5)
        cpu = sum(c.cpu_percent(None) for c in children) / 100.0
        rss = sum(c.memory_info().rss for c, key in zip(children, procs) if key != "source") / 2**20
        time.sleep(3.0)  # let the last outputs and a diagnostics round arrive
        stamps = sorted(sent)
        counted = stamps[warmup:]
        to_s = {k: k[0] + k[1] * 1e-9 for k in stamps}
        result["frames_seen_by_tap"] = len(stamps)
        result["publish_interval_ms"] = stat(list(1000 * np.diff([to_s[k] for k in stamps])))
        result["latency_ms"] = {
            topic: stat([1000 * (got[k] - to_s[k]) for k in counted if k in got]) for topic, got in received.items() if got
        }
        result["frames_without_faces_output"] = sum(k not in received["faces"] for k in counted)
        result["nodes"] = {key: {f: diagnostics.get(EXECUTABLES[key], {}).get(f) for f in DIAGNOSTIC_VALUES if f in diagnostics.get(EXECUTABLES[key], {})}
                           for key in models}
        source = diagnostics.get("source_node", {})
        result["frames_published"] = int(source.get("frames_published", len(stamps)))
        face = result["nodes"].get("face", {})
        if face.get("received") is not None:
            # Every published frame reached the face node's callback or is in its lost count.
            result["frames_unaccounted"] = result["frames_published"] - int(face["received"]) - int(face.get("lost_before_callback") or 0)
        result["cpu_cores"] = round(cpu, 2)
        result["rss_mb_total"] = round(rss, 1)
        result["method"] = (f"each node executable in its own process (--ros-args --params-file config/sentin.yaml -r __ns:=...), "
                            f"the camera a source_node process playing the frames from a folder at {fps:.0f} Hz (reliable publisher, "
                            f"the face node subscribes best effort), latency = output receipt - header stamp (one host, one clock), "
                            f"first {warmup} frames left out; CPU over all the processes, RSS over the perception nodes")
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs.values():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        executor.shutdown(timeout_sec=2.0)
        node.destroy_node()
        rclpy.shutdown(context=ctx)
        folder.cleanup()
    log(f"  processes at {fps:.0f} fps: {result.get('nodes')}")
    return result
