"""Ctrl-C and SIGTERM, on real processes: `sentin-ros run` (the one-process composition) and the
per-node executables (what `ros2 run` and the launch file start).

A terminal's Ctrl-C reaches the whole process group and launch then signals each node again,
so every process here gets SIGINT twice: each node's lifecycle shutdown runs and logs, the
source's reader stops before rclpy shuts down (no "publisher's context is invalid"), the second
signal is harmless, and the exit code is 0.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sentin_ros.media.synthetic import write_clip
from sentin_ros.msg import FaceArray
from sentin_ros.ros.qos import output_qos
from test.ros_harness import RosHarness

ROOT = Path(__file__).resolve().parents[1]
BAD = ("Traceback", "context is invalid", "Failed to publish", "exception not rethrown", "FATAL")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    env["RCUTILS_LOGGING_BUFFERED_STREAM"] = "0"
    return env


def _spawn(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=_env(), stdout=log.open("w"), stderr=subprocess.STDOUT)


def _wait_text(log: Path, text: str, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text():
            return True
        if proc.poll() is not None:
            return text in log.read_text()
        time.sleep(0.1)
    return False


def _interrupt_twice(procs: list[subprocess.Popen], timeout: float = 30.0) -> list[int]:
    for sig in (signal.SIGINT, signal.SIGINT):
        for p in procs:
            if p.poll() is None:
                p.send_signal(sig)
        time.sleep(0.05)
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(timeout))
        except subprocess.TimeoutExpired:
            p.kill()
            codes.append(p.wait())
    return codes


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> str:
    return write_clip(str(tmp_path_factory.mktemp("shutdown") / "clip.mp4"), n_frames=30, leave=False)


def test_sigint_twice_to_the_composition_shuts_every_node_down_and_exits_0(tmp_path, clip):
    ns = f"sd{os.getpid()}"
    log = tmp_path / "run.log"
    proc = _spawn(["-m", "sentin_ros", "run", "--video", clip, "--loop", "--namespace", ns, "--status-period", "0"], log)
    try:
        assert _wait_text(log, "running; Ctrl-C to stop", proc, 120.0), log.read_text()[-3000:]
        time.sleep(1.0)  # frames flowing through every node
    finally:
        (code,) = _interrupt_twice([proc])
    out = log.read_text()
    assert code == 0, out[-3000:]
    for node in ("source_node", "face_node", "emotion_node", "stress_node", "gaze_node"):
        assert f"[{ns}.{node}]: shut down" in out, f"{node} did not log its lifecycle shutdown\n{out[-3000:]}"
    assert not [b for b in BAD if b in out], out[-3000:]


def test_sigint_twice_to_single_node_executables_shuts_them_down_and_exits_0(tmp_path, clip):
    ns = f"se{os.getpid()}"
    names = ("source_node", "face_node", "emotion_node")
    logs = {n: tmp_path / f"{n}.log" for n in names}
    extra = {"source_node": ["-p", f"source:={clip}", "-p", "loop:=true", "-p", "rate:=30.0"]}
    ros = RosHarness()  # first: the executables join its domain (ROS_DOMAIN_ID)
    procs = {n: _spawn([f"scripts/{n}", "--ros-args", "-r", f"__ns:=/{ns}", *extra.get(n, [])], logs[n]) for n in names}
    try:
        faces = ros.collect(FaceArray, f"/{ns}/faces", output_qos(100))
        for n in ("emotion_node", "face_node", "source_node"):  # consumers first
            assert ros.transition(f"{ns}/{n}", "configure"), logs[n].read_text()[-2000:]
            assert ros.transition(f"{ns}/{n}", "activate"), logs[n].read_text()[-2000:]
        assert ros.wait_for(lambda: len(faces) >= 5, 60.0), "no faces from the source -> face executables"
    finally:
        ros.close()
        codes = _interrupt_twice(list(procs.values()))
    for n, code in zip(procs, codes):
        out = logs[n].read_text()
        assert code == 0, f"{n} exited {code}\n{out[-3000:]}"
        assert f"[{ns}.{n}]: shut down (from active)" in out, f"{n}: no lifecycle shutdown logged\n{out[-3000:]}"
        assert not [b for b in BAD if b in out], f"{n}\n{out[-3000:]}"


def test_sigterm_then_sigint_to_an_unconfigured_node_exits_0_after_its_shutdown(tmp_path):
    ns = f"st{os.getpid()}"
    log = tmp_path / "stress.log"
    ros = RosHarness()  # first: the executable joins its domain (ROS_DOMAIN_ID)
    proc = _spawn(["scripts/stress_node", "--ros-args", "-r", f"__ns:=/{ns}"], log)
    try:
        assert ros.state(f"{ns}/stress_node") == "unconfigured"  # up (signals before that meet Python's defaults)
    finally:
        ros.close()
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.05)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(30.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    out = log.read_text()
    assert code == 0, out[-3000:]
    assert "SIGTERM: shutting down" in out and "shut down (from unconfigured)" in out, out[-3000:]
