"""The launch file's start-up logic (sentin_ros/ros/startup.py), alone and driving real nodes.

launch_ros is not on PyPI, so in CI the plan is driven the way launch/sentin.launch.py drives it:
by the nodes' real `transition_event` messages, answering with `change_state` requests. Then the
by-hand steps of the README (`ros2 lifecycle set /face_node deactivate` / `activate`, `cleanup` /
`configure`) with the source running: the source stays active and nothing is re-driven.
"""
from __future__ import annotations

import os
import queue
import time

from lifecycle_msgs.msg import TransitionEvent

from sentin_ros.media.synthetic import write_clip
from sentin_ros.msg import FaceArray
from sentin_ros.ros.composition import Composition, CompositionConfig
from sentin_ros.ros.qos import output_qos
from sentin_ros.ros.startup import StartupPlan
from test.ros_harness import RosHarness

KEYS = ("source", "face", "emotion", "stress", "gaze")


def _drive(plan: StartupPlan, events: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    out = []
    for key, start, goal in events:
        out += plan.on_transition(key, start, goal)
    return out


def test_plan_starts_the_source_only_once_every_perception_node_is_active():
    plan = StartupPlan(KEYS)
    assert plan.begin() == [("face", "configure"), ("emotion", "configure"), ("stress", "configure"), ("gaze", "configure")]
    assert _drive(plan, [("face", "configuring", "inactive")]) == [("face", "activate")]
    assert _drive(plan, [("face", "activating", "active")]) == []  # the others are not active yet
    assert _drive(plan, [(k, "configuring", "inactive") for k in ("emotion", "stress", "gaze")]) == \
        [("emotion", "activate"), ("stress", "activate"), ("gaze", "activate")]
    assert _drive(plan, [("emotion", "activating", "active"), ("stress", "activating", "active")]) == []
    assert _drive(plan, [("gaze", "activating", "active")]) == [("source", "configure")]
    assert _drive(plan, [("source", "configuring", "inactive")]) == [("source", "activate")]
    assert _drive(plan, [("source", "activating", "active")]) == [] and plan.done()


def test_plan_never_re_drives_a_node_transitioned_by_hand():
    plan = StartupPlan(("source", "face"))
    plan.begin()
    _drive(plan, [("face", "configuring", "inactive"), ("face", "activating", "active"),
                  ("source", "configuring", "inactive"), ("source", "activating", "active")])
    by_hand = [("face", "deactivating", "inactive"), ("face", "activating", "active"),  # deactivate, activate
               ("face", "deactivating", "inactive"), ("face", "cleaningup", "unconfigured"),
               ("face", "configuring", "inactive")]  # cleanup, configure: stays inactive
    assert _drive(plan, by_hand) == []


def test_plan_leaves_out_a_node_that_fails_and_needs_the_face_node():
    plan = StartupPlan(KEYS[:3])
    plan.begin()
    assert _drive(plan, [("emotion", "configuring", "unconfigured"), ("face", "configuring", "inactive")]) == [("face", "activate")]
    assert _drive(plan, [("face", "activating", "active")]) == [("source", "configure")]
    plan = StartupPlan(KEYS[:3])
    plan.begin()
    assert _drive(plan, [("face", "configuring", "unconfigured"), ("emotion", "configuring", "inactive"),
                         ("emotion", "activating", "active")]) == [("emotion", "activate")]
    assert plan.phase["source"] == "failed" and plan.done()


class _LaunchLikeDriver:
    """What launch_ros does for the launch file: transition events in, change_state requests out."""

    def __init__(self, ros: RosHarness, ns: str, names: dict[str, str], plan: StartupPlan):
        self.ros, self.ns, self.names, self.plan = ros, ns, names, plan
        self.requests: queue.Queue = queue.Queue()
        self.order: list[str] = []  # keys in the order they became active
        self.sent: list[tuple[str, str]] = []
        for key, name in names.items():
            ros.node.create_subscription(TransitionEvent, f"/{ns}/{name}/transition_event",
                                         lambda msg, k=key: self._on_event(k, msg), 100)

    def _on_event(self, key: str, msg) -> None:
        if msg.goal_state.label == "active":
            self.order.append(key)
        for request in self.plan.on_transition(key, msg.start_state.label, msg.goal_state.label):
            self.requests.put(request)

    def run_requests(self, until, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not until():
            try:
                key, transition = self.requests.get(timeout=0.05)
            except queue.Empty:
                continue
            self.sent.append((key, transition))
            self.ros.transition(f"{self.ns}/{self.names[key]}", transition)
        return until()


def test_launch_start_up_and_by_hand_transitions_of_the_face_node_with_the_source_running(tmp_path):
    ns = f"su{os.getpid()}"
    clip = write_clip(str(tmp_path / "clip.mp4"), n_frames=30, leave=False)
    ros = RosHarness()
    comp = Composition(CompositionConfig(namespace=ns, source=clip, overrides={"source": {"loop": True, "rate": 30.0}}),
                       context=ros.context, log=print)
    faces = ros.collect(FaceArray, f"/{ns}/faces", output_qos(100))
    try:
        comp.start(drive=False)
        names = {key: node.get_name() for key, node in comp.nodes.items()}
        plan = StartupPlan(tuple(comp.nodes))
        driver = _LaunchLikeDriver(ros, ns, names, plan)
        assert ros.wait_for(lambda: all(ros.node.count_publishers(f"/{ns}/{n}/transition_event") for n in names.values()), 10.0)
        for request in plan.begin():
            driver.requests.put(request)
        assert driver.run_requests(plan.done, 90.0), plan.phase
        assert all(state == "active" for state in comp.states().values()), comp.states()
        assert driver.order[-1] == "source" and set(driver.order) == set(KEYS)  # the source last
        assert ros.wait_for(lambda: len(faces) > 3, 20.0)
        sent = len(driver.sent)

        # README's by-hand steps, with the source running
        face = f"{ns}/face_node"
        assert ros.transition(face, "deactivate") and ros.transition(face, "activate")
        n = len(faces)
        assert ros.wait_for(lambda: len(faces) > n + 3, 20.0), "no faces after re-activating the face node"
        assert comp.state("source") == "active" and comp.nodes["source"].frames_published > 0
        assert ros.transition(face, "deactivate") and ros.transition(face, "cleanup") and ros.transition(face, "configure")
        driver.run_requests(lambda: False, 1.5)
        assert comp.state("face") == "inactive", "a node configured by hand was re-activated"
        assert len(driver.sent) == sent, driver.sent[sent:]
        assert comp.executor_alive() and comp.state("source") == "active"
    finally:
        comp.shutdown()
        ros.close()
