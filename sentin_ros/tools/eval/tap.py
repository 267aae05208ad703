"""The realtime evaluator's listener, in a process of its own.

Subscribed from inside the nodes' process, the listener shared their GIL: its wake-ups and
message conversions (13 messages a frame with four faces) are time the nodes wait. In four
alternating pairs of replays (one-process composition, 4 faces, 30 fps, landmark_workers 2,
2-core EPYC) moving it out raised the frames the face node processed from a median of 97 to
108 of 150 and lowered its median time a frame from 41-54 to 38-49 ms. A robot's consumers (a
behaviour node, rviz, a recorder) are other processes too. So the listener runs here: it keeps
each output as serialized bytes with the time it arrived (time.perf_counter, CLOCK_MONOTONIC,
the same clock in every process on one Linux host) and hands them over when told to stop; the
evaluator deserializes them afterwards.

    tap = OutputTap({"faces": ("/faces", "sentin_ros/msg/FaceArray"), ...}, domain_id)
    ... play the frames ...
    received = tap.stop()   # {stage: [(perf_counter seconds, message), ...]}
"""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ...ros.convert.types import message_class

READY = "tap ready"
# Not `-m sentin_ros.tools.eval.tap`: the package imports this module first (runpy warns).
_CHILD = "import sys; from sentin_ros.tools.eval.tap import main; main(sys.argv[1:])"


class TapError(RuntimeError):
    pass


class OutputTap:
    """A child process subscribed (reliable, depth 500) to `topics` {stage: (topic, type)}."""

    def __init__(self, topics: dict[str, tuple[str, str]], domain_id: int, timeout: float = 20.0):
        self.topics = dict(topics)
        fd, self._out = tempfile.mkstemp(prefix="sentin_tap_", suffix=".pkl")
        os.close(fd)
        args = {"topics": self.topics, "domain_id": int(domain_id), "out": self._out}
        root = Path(__file__).resolve().parents[3]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p))
        self._proc = subprocess.Popen([sys.executable, "-c", _CHILD, json.dumps(args)], env=env,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Reading the first line of a child that dies or hangs must not block: a thread waits for it.
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self._proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not line or line[0].strip() != READY:
            self._kill()
            raise TapError(f"the output listener did not start within {timeout:.0f} s: {self._stderr()}")

    def stop(self, timeout: float = 30.0) -> dict[str, list]:
        """Ends the listener and returns what it received, deserialized, in arrival order per stage."""
        from rclpy.serialization import deserialize_message

        try:
            self._proc.stdin.close()
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            raise TapError(f"the output listener did not stop within {timeout:.0f} s") from None
        if self._proc.returncode != 0:
            raise TapError(f"the output listener failed (exit {self._proc.returncode}): {self._stderr()}")
        try:
            with open(self._out, "rb") as f:
                raw = pickle.load(f)
        finally:
            os.unlink(self._out)
        types = {stage: message_class(t) for stage, (_, t) in self.topics.items()}
        return {stage: [(t, deserialize_message(data, types[stage])) for t, data in items] for stage, items in raw.items()}

    def close(self) -> None:
        """Ends the listener without collecting (after a failure)."""
        if self._proc.poll() is None:
            self._kill()
        if os.path.exists(self._out):
            os.unlink(self._out)

    def _kill(self) -> None:
        self._proc.kill()
        self._proc.wait()

    def _stderr(self) -> str:
        try:
            return (self._proc.stderr.read() or "").strip()[-800:]
        except ValueError:
            return ""


def _listen(topics: dict[str, list[str]], domain_id: int, out: str) -> None:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from ...ros.qos import output_qos

    ctx = rclpy.Context()
    rclpy.init(context=ctx, args=[], domain_id=domain_id)
    node = rclpy.create_node("sentin_eval_tap", context=ctx)
    received: dict[str, list] = {stage: [] for stage in topics}
    subs = [node.create_subscription(message_class(t), topic, lambda data, s=stage: received[s].append((time.perf_counter(), data)),
                                     output_qos(500), raw=True)
            for stage, (topic, t) in topics.items()]
    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    deadline = time.monotonic() + 15.0
    while time.monotonic() < deadline and not all(s.get_publisher_count() > 0 for s in subs):
        time.sleep(0.02)
    time.sleep(0.2)  # matched on this side: give the writers a moment to see this reader too
    print(READY, flush=True)
    sys.stdin.read()  # the evaluator closes our stdin when it is done playing
    executor.shutdown(timeout_sec=2.0)
    with open(out, "wb") as f:
        pickle.dump({stage: list(items) for stage, items in received.items()}, f)
    # Everything is written; rclpy's teardown beside the executor's thread can abort the
    # process ("terminate called without an active exception"), so leave without it.
    os._exit(0)


def main(argv: list[str]) -> None:
    spec = json.loads(argv[0])
    _listen(spec["topics"], spec["domain_id"], spec["out"])
