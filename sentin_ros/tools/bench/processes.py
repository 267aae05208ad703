"""One process per node, as `ros2 launch` runs them: the node executables spawned with
`--ros-args` (the shipped YAML, a namespace of their own), driven to active through their
lifecycle services, fed frames by this process as a camera would, their outputs matched to the
frames by header stamp. Says how many frames reached the face node, how many each node lost
before its callback or replaced unprocessed, and the latency image -> output."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np

from .common import ROOT, log, stat

EXECUTABLES = {"face": "face_node", "emotion": "emotion_node", "stress": "stress_node", "gaze": "gaze_node"}
TOPICS = {"faces": "FaceArray", "emotion": "Emotion", "stress": "Stress", "gaze": "Gaze"}


def _spawn(models, namespace: str, env: dict) -> dict[str, subprocess.Popen]:
    from ...ros.graph import default_params_file

    procs = {}
    for key in models:
        args = [sys.executable, str(ROOT / "scripts" / EXECUTABLES[key]), "--ros-args", "--params-file", default_params_file(),
                "-r", f"__ns:={namespace}", "--log-level", "warn"]
        procs[key] = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return procs


def run_processes(frames: list[np.ndarray], fps: float, models=("face", "emotion", "stress", "gaze"), warmup: int = 10) -> dict:
    """Publish `frames` at `fps` to the node processes; latency, delivery and drops per node."""
    import psutil
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    import sentin_ros.msg as interfaces

    from ...ros.convert.images import array_to_image
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
    procs = _spawn(models, namespace, env)
    ctx = rclpy.Context()
    rclpy.init(context=ctx, args=[])
    node = rclpy.create_node("bench_camera", context=ctx)
    executor = rclpy.executors.MultiThreadedExecutor(num_threads=2, context=ctx)
    executor.add_node(node)
    import threading

    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    received: dict[str, dict[tuple[int, int], float]] = {t: {} for t in TOPICS}
    diagnostics: dict[str, dict[str, str]] = {}

    def keep(topic):
        return lambda msg: received[topic].setdefault((msg.header.stamp.sec, msg.header.stamp.nanosec), time.monotonic())

    def on_diag(msg):
        for status in msg.status:
            diagnostics[status.name.rsplit("/", 1)[-1]] = {kv.key: kv.value for kv in status.values}

    subs = [node.create_subscription(getattr(interfaces, t), f"{namespace}/{topic}", keep(topic), output_qos(500))
            for topic, t in TOPICS.items() if topic == "faces" or topic in models]
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 50)
    pub = node.create_publisher(Image, f"{namespace}/image", image_qos("reliable"))
    result: dict = {"fps": fps, "frames": len(frames), "models": list(models), "dds_profile": profile}
    try:
        for key in models:  # pipeline order, as the launch file does: face first
            name = f"{namespace}/{EXECUTABLES[key]}"
            client = node.create_client(ChangeState, f"{name}/change_state")
            if not client.wait_for_service(timeout_sec=60.0):
                raise RuntimeError(f"{name} did not come up: {procs[key].stderr.read()[-500:] if procs[key].poll() is not None else ''}")
            for tid in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
                req = ChangeState.Request()
                req.transition.id = tid
                future = client.call_async(req)
                deadline = time.monotonic() + 60.0
                while not future.done() and time.monotonic() < deadline:
                    time.sleep(0.01)
                if not future.done() or not future.result().success:
                    raise RuntimeError(f"{name}: transition {tid} failed")
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline and not all(s.get_publisher_count() > 0 for s in subs):
            time.sleep(0.05)
        children = [psutil.Process(p.pid) for p in procs.values()]
        for c in children:
            c.cpu_percent(None)
        sent: dict[tuple[int, int], float] = {}
        period = 1.0 / fps
        start = time.monotonic()
        for i, frame in enumerate(frames):
            target = start + i * period
            while time.monotonic() < target:
                time.sleep(max(0.0, min(0.002, target - time.monotonic())))
            header = Header(frame_id="camera_optical")
            header.stamp = node.get_clock().now().to_msg()
            sent[(header.stamp.sec, header.stamp.nanosec)] = time.monotonic()
            pub.publish(array_to_image(frame, "bgr8", header))
        wall = time.monotonic() - start
        cpu = sum(c.cpu_percent(None) for c in children) / 100.0
        rss = sum(c.memory_info().rss for c in children) / 2**20
        time.sleep(3.0)  # let the last outputs and a diagnostics round arrive
        counted = list(sent)[warmup:]
        result["latency_ms"] = {
            topic: stat([1000 * (got[k] - sent[k]) for k in counted if k in got]) for topic, got in received.items() if got
        }
        result["frames_without_faces_output"] = sum(k not in received["faces"] for k in counted)
        result["nodes"] = {
            key: {f: diagnostics.get(EXECUTABLES[key], {}).get(f) for f in ("received", "processed", "dropped", "lost_before_callback", "embeddings_from_emotion_node", "embeddings_computed_here") if f in diagnostics.get(EXECUTABLES[key], {})}
            for key in models
        }
        result["cpu_cores"] = round(cpu / max(wall, 1e-6) * wall, 2)
        result["rss_mb_total"] = round(rss, 1)
        result["method"] = (f"each node executable in its own process (--ros-args --params-file config/sentin.yaml -r __ns:=...), "
                            f"frames published by the benchmark at {fps:.0f} Hz (reliable publisher, the face node subscribes best effort), "
                            f"latency = output receipt - publish time, first {warmup} frames left out")
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
    log(f"  processes at {fps:.0f} fps: {result.get('nodes')}")
    return result
