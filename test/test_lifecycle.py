"""Transitions at any moment, through real rclpy: invalid requests, slow frames, hot swaps.

Each node's lifecycle is driven through its change_state service (as `ros2 lifecycle set` does)
or its trigger_* methods (as the composition does); frames are real FaceArrays of the astronaut
through the committed INT8 models.
"""
from __future__ import annotations

import threading
import time

import pytest
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.lifecycle import TransitionCallbackReturn
from std_msgs.msg import Header

from sentin_ros.msg import Emotion, FaceArray
from sentin_ros.ros.convert.faces import frame_to_msg
from sentin_ros.ros.emotion_node import EmotionNode


@pytest.fixture(scope="module")
def faces_msg(astronaut_bgr):
    from sentin_ros.core.face_pipeline import FacePipeline

    p = FacePipeline()
    frame = p.process(astronaut_bgr, 0.0, "bgr8")
    p.close()
    header = Header(frame_id="cam")
    header.stamp.sec = 5
    return frame_to_msg(frame, header)


def _change(ros, node_name: str, transition_id: int = 0, label: str = "") -> bool:
    req = ChangeState.Request()
    req.transition.id, req.transition.label = transition_id, label
    return bool(ros.call(ChangeState, f"/{node_name}/change_state", req).success)


def _emotions_flow(ros, pub, msg, got, timeout: float = 10.0) -> bool:
    n = len(got)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pub.publish(msg)
        if ros.wait_for(lambda: len(got) > n, 0.1):
            return True
    return False


def test_invalid_transitions_are_refused_and_the_node_and_executor_keep_working(ros, faces_msg):
    node = EmotionNode(context=ros.context)
    ros.add(node)
    pub = ros.node.create_publisher(FaceArray, "faces", 10)
    got = ros.collect(Emotion, "emotion")
    assert not _change(ros, "emotion_node", Transition.TRANSITION_ACTIVATE)  # activate while unconfigured
    assert not _change(ros, "emotion_node", 99)  # no such transition
    assert not _change(ros, "emotion_node", label="bogus")
    assert ros.state("emotion_node") == "unconfigured"
    assert ros.transition("emotion_node", "configure") and ros.transition("emotion_node", "activate")
    # CONFIGURE sent to an active node (what the old launch file did on re-activation), CLEANUP from active
    assert not _change(ros, "emotion_node", Transition.TRANSITION_CONFIGURE)
    assert not _change(ros, "emotion_node", Transition.TRANSITION_CLEANUP)
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE  # rclpy would raise RCLError here
    assert ros.state("emotion_node") == "active"
    assert _emotions_flow(ros, pub, faces_msg, got), "the node stopped processing after refused transitions"
    assert ros._thread.is_alive(), "the executor died"
    # shutdown by any of the three shutdown ids from any primary state; again on a finalized node: a no-op
    assert _change(ros, "emotion_node", Transition.TRANSITION_UNCONFIGURED_SHUTDOWN)
    assert ros.state("emotion_node") == "finalized" and node.models is None
    assert _change(ros, "emotion_node", label="shutdown")
    assert not _change(ros, "emotion_node", Transition.TRANSITION_CONFIGURE)
    assert ros._thread.is_alive()


class SlowEmotionNode(EmotionNode):
    """The real emotion node whose frames take `delay` seconds before the real inference (a slow
    delegate). It records how many process() calls run at once."""

    FRAME_WAIT_S = 0.2  # deactivate gives up waiting long before the frame ends

    def __init__(self, name: str, **kwargs):
        super().__init__(name, **kwargs)
        self.delay = 1.5
        self.inside = 0
        self.most_inside = 0
        self.frames_done = 0
        self._count = threading.Lock()

    def process(self, msg) -> None:
        with self._count:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        try:
            with self.using_models():
                time.sleep(self.delay)
                super().process(msg)  # raises ModelError if the interpreter was released under it
                self.frames_done += 1
        finally:
            with self._count:
                self.inside -= 1


def _workers(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"{name}_worker" and t.is_alive()]


def test_deactivate_and_activate_during_a_slow_frame_keep_one_worker(ros, faces_msg):
    node = SlowEmotionNode("slow_a", context=ros.context)
    ros.add(node)
    pub = ros.node.create_publisher(FaceArray, "faces", 10)
    got = ros.collect(Emotion, "emotion")
    assert ros.transition("slow_a", "configure") and ros.transition("slow_a", "activate")
    assert ros.wait_for(lambda: pub.get_subscription_count() > 0, 5.0)
    pub.publish(faces_msg)
    assert ros.wait_for(lambda: node.inside == 1, 5.0)
    assert ros.transition("slow_a", "deactivate")  # returns while the frame still runs
    assert node.inside == 1
    assert ros.transition("slow_a", "activate")
    node.delay = 0.0
    assert _emotions_flow(ros, pub, faces_msg, got, timeout=15.0)  # (the slow frame, finished while active again)
    assert _emotions_flow(ros, pub, faces_msg, got, timeout=15.0)  # a new one
    assert node.most_inside == 1, "two process() calls ran at once"
    assert len(_workers("slow_a")) == 1
    assert node.stats.bad_input == 0 and node.frames_done >= 2


def test_cleanup_during_a_slow_frame_waits_for_it(ros, faces_msg):
    node = SlowEmotionNode("slow_b", context=ros.context)
    ros.add(node)
    pub = ros.node.create_publisher(FaceArray, "faces", 10)
    assert ros.transition("slow_b", "configure") and ros.transition("slow_b", "activate")
    assert ros.wait_for(lambda: pub.get_subscription_count() > 0, 5.0)
    pub.publish(faces_msg)
    assert ros.wait_for(lambda: node.inside == 1, 5.0)
    assert ros.transition("slow_b", "deactivate") and ros.transition("slow_b", "cleanup")
    assert node.inside == 0 and node.frames_done == 1  # the frame ended, on a live interpreter
    assert node.stats.bad_input == 0 and node.models is None
    # and the node comes back with one worker
    node.delay = 0.0
    got = ros.collect(Emotion, "emotion")
    assert ros.transition("slow_b", "configure") and ros.transition("slow_b", "activate")
    assert _emotions_flow(ros, pub, faces_msg, got)
    assert len(_workers("slow_b")) == 1 and node.most_inside == 1


def _int_param(name: str, value: int) -> ParameterMsg:
    return ParameterMsg(name=name, value=ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=value))


def test_hot_swaps_every_100ms_while_frames_flow_at_30hz_never_fail_a_frame(ros, faces_msg):
    """num_threads flips every 100 ms for 5 s and at least 5 rounds (each flip builds, warms up and swaps in new
    interpreters) while FaceArrays arrive at 30 Hz: no frame may fail."""
    from sentin_ros.msg import Stress
    from sentin_ros.ros.stress_node import StressNode

    nodes = {"emotion_node": EmotionNode(context=ros.context), "stress_node": StressNode(context=ros.context)}
    for node in nodes.values():
        ros.add(node)
    got = {"emotion": ros.collect(Emotion, "emotion"), "stress": ros.collect(Stress, "stress")}
    pub = ros.node.create_publisher(FaceArray, "faces", 10)
    for name in nodes:
        assert ros.transition(name, "configure") and ros.transition(name, "activate")
    assert ros.wait_for(lambda: pub.get_subscription_count() >= 2, 5.0)
    stop = threading.Event()

    def feed():
        i = 0
        while not stop.is_set():
            i += 1
            faces_msg.header.stamp.sec, faces_msg.header.stamp.nanosec = 100 + i // 30, (i % 30) * 33_333_333
            pub.publish(faces_msg)
            stop.wait(1 / 30)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    # At least 5 s and 5 rounds: a round (two nodes build, warm up and swap in interpreters while
    # frames flow) took 0.2-1.7 s on a quiet 2-core machine; 60 s without 5 rounds is a stall.
    swaps, t_start = 0, time.monotonic()
    try:
        while (time.monotonic() - t_start < 5.0 or swaps < 5) and time.monotonic() - t_start < 60.0:
            for name in nodes:
                result = ros.call(SetParameters, f"/{name}/set_parameters",
                                  SetParameters.Request(parameters=[_int_param("num_threads", 1 + swaps % 2)]))
                assert result.results[0].successful, result.results[0].reason
            swaps += 1
            time.sleep(0.1)
    finally:
        stop.set()
        feeder.join(2.0)
    for name, node in nodes.items():
        assert node.wait_idle(10.0)
        assert node.stats.bad_input == 0, f"{name}: {node.stats.bad_input} frames failed during hot swaps"
        assert node.stats.processed > 10, name
    assert swaps >= 5 and got["emotion"] and got["stress"]


CYCLES = 200
FULL_CYCLES = 10


def _cycle_from_another_process(tmp_path, cycles: int, transitions: str, tag: str):
    """The composition (source looping at 30 Hz, face, emotion, stress, gaze) in this process;
    another process cycles every node. The executor must be alive at the end, every node
    active, no frame failed, and frames flow through the whole pipeline again."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from sentin_ros.media.synthetic import write_clip
    from sentin_ros.ros.composition import Composition, CompositionConfig
    from sentin_ros.ros.qos import output_qos
    from test.ros_harness import RosHarness

    ns = f"cy{tag}{os.getpid()}"  # a namespace per test: no stale service of an earlier test to match
    clip = write_clip(str(tmp_path / "clip.mp4"), n_frames=30, leave=False)
    ros = RosHarness()
    config = CompositionConfig(namespace=ns, source=clip, overrides={"source": {"loop": True, "rate": 30.0}})
    comp = Composition(config, context=ros.context, log=lambda text: print(f"[composition] {text}"))
    faces, emotions = ros.collect(FaceArray, f"/{ns}/faces", output_qos(100)), ros.collect(Emotion, f"/{ns}/emotion", output_qos(100))
    try:
        comp.start()
        assert comp.skipped == {}
        assert ros.wait_for(lambda: faces and emotions, 30.0), "the pipeline did not start"
        names = [f"/{ns}/{comp.nodes[k].get_name()}" for k in comp.nodes]
        root = Path(__file__).resolve().parents[1]
        env = {**os.environ, "PYTHONPATH": str(root)}
        run = subprocess.run([sys.executable, str(root / "test" / "lifecycle_cycler.py"), str(cycles),
                              "--transitions", transitions, *names],
                             cwd=root, env=env, capture_output=True, text=True, timeout=240)
        result = json.loads(run.stdout.strip().splitlines()[-1])
        assert result == {"cycles": cycles, "refused": 0, "unanswered": 0}, run.stdout + run.stderr
        assert comp.executor_alive(), "the executor died"
        assert all(state == "active" for state in comp.states().values()), comp.states()
        n_faces, n_emotions = len(faces), len(emotions)
        assert ros.wait_for(lambda: len(faces) > n_faces + 5 and len(emotions) > n_emotions, 30.0), "no frames after the cycles"
        for key in ("face", "emotion", "stress", "gaze"):
            assert comp.nodes[key].stats.bad_input == 0, key
    finally:
        comp.shutdown()
        ros.close()


def test_200_deactivate_activate_cycles_of_every_node_from_another_process_while_frames_flow(tmp_path):
    _cycle_from_another_process(tmp_path, CYCLES, "deactivate,activate", "a")


def test_cleanup_configure_cycles_of_every_node_from_another_process_while_frames_flow(tmp_path):
    """10 cycles, not 200: each configure builds and warms up every interpreter again (the face
    front end's three take most of a second on a loaded 2-core machine)."""
    _cycle_from_another_process(tmp_path, FULL_CYCLES, "deactivate,cleanup,configure,activate", "b")
