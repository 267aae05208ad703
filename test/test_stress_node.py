"""The stress node through real rclpy: history (seconds) before output, header and ID carried,
the horizon reset when the face is gone, no output for low-quality faces (whose frames lower the
confidence that follows), and what the level does on a steady real face."""
import time

import numpy as np
import pytest
from rclpy.parameter import Parameter
from std_msgs.msg import Header

from sentin_ros.msg import FaceArray, Stress
from sentin_ros.ros.convert.faces import frame_to_msg
from sentin_ros.ros.stress_node import StressNode


@pytest.fixture(scope="module")
def astronaut_frame(astronaut_bgr):
    from sentin_ros.core.face_pipeline import FacePipeline

    p = FacePipeline()
    frame = p.process(astronaut_bgr, 0.0, "bgr8")
    p.close()
    return frame


def _msg(frame, t, with_face=True, presence=None):
    header = Header(frame_id="cam")
    header.stamp.sec, header.stamp.nanosec = int(t), int(round((t % 1) * 1e9))
    msg = frame_to_msg(frame, header)
    if not with_face:
        msg.faces = []
    else:
        msg.faces[0].face_id = 3
        if presence is not None:
            msg.faces[0].presence = presence
    return msg


def test_history_header_and_reset(ros, astronaut_frame):
    # embedding_source own: the frames go straight to the worker, whatever else is on the graph
    node = StressNode(context=ros.context, parameter_overrides=[Parameter("embedding_source", value="own")])
    ros.add(node)
    assert ros.transition("stress_node", "configure") and ros.transition("stress_node", "activate")
    assert node.param("window_seconds") == 3.75 and node.param("min_seconds") == 1.0
    first = 12  # at 15 fps the 13th frame (0.8 s of history) fills the 4th 0.25 s step: 1 s
    pub = ros.node.create_publisher(FaceArray, "faces", 10)
    got = ros.collect(Stress, "stress")
    t = 50.0

    def feed(n, with_face=True, presence=None):
        nonlocal t
        for _ in range(n):
            before = node.stats.processed
            pub.publish(_msg(astronaut_frame, t, with_face, presence))
            t += 1 / 15
            # one message at a time, each processed before the next: none replaced in the node's slot
            assert ros.wait_for(lambda b=before: node.stats.processed > b and node.wait_idle(), 5.0)

    feed(first)
    time.sleep(0.2)
    assert got == [], "published before min_seconds of history"
    feed(60)  # 4.8 s in all: the horizon (3.75 s) is full
    assert ros.wait_for(lambda: len(got) >= 55), len(got)
    last = got[-1]
    assert last.face_id == 3 and last.header.frame_id == "cam" and last.header.stamp.sec == 54
    assert 54 <= last.window_frames <= 57 and last.window_seconds == pytest.approx(56 / 15, abs=0.07)  # ages <= 3.75 s
    assert first - 1 <= got[0].window_frames <= first + 1 and got[0].confidence < last.confidence  # (a loaded machine may drop a frame)
    levels = np.array([m.level for m in got])
    assert ((0 <= levels) & (levels <= 1)).all()
    assert levels[-5:].max() < 0.3 and last.state == Stress.LOW  # a smiling, still face is calm
    assert np.abs(np.diff(levels[-15:])).max() < 0.05  # steady input, steady level
    full = last.confidence

    time.sleep(0.3)  # the last output of the feed above may still be on its way
    n = len(got)
    feed(15, presence=0.2)  # 1 s not a face by the quality gate: no Stress, counted as missing
    assert len(got) == n and int({kv.key: kv.value for kv in node.diagnostic_status().values}["low_quality_faces"]) >= 15
    feed(1)
    assert ros.wait_for(lambda: len(got) >= n + 1)
    assert got[-1].confidence < full - 0.15  # 4 of the 15 steps had no good frame

    n = len(got)
    feed(1, with_face=False)  # a one-frame miss (which the face tracker bridges) keeps the history
    feed(1)
    assert ros.wait_for(lambda: len(got) >= n + 1)

    n = len(got)
    t += 1.0  # the face is gone for longer than max_gap: forgotten, its history starts over
    feed(1, with_face=False)
    assert node.tracker.face_ids == []
    feed(first)
    time.sleep(0.2)
    assert len(got) == n
    feed(1)
    assert ros.wait_for(lambda: len(got) >= n + 1)
    assert first - 1 <= got[-1].window_frames <= first + 1


def _stress_from_its_own_cnn(ros, astronaut_frame, *overrides: Parameter, emotion_publisher: bool = False) -> StressNode:
    """Frames until a Stress comes; the embeddings were all computed in the stress node."""
    from sentin_ros.msg import Emotion

    node = StressNode(context=ros.context, parameter_overrides=[Parameter("min_seconds", value=0.3), *overrides])
    ros.add(node)
    assert ros.transition("stress_node", "configure") and ros.transition("stress_node", "activate")
    if emotion_publisher:  # on the graph (the harness node keeps it), never publishing
        ros.node.create_publisher(Emotion, "emotion", 10)
    pub = ros.node.create_publisher(FaceArray, "faces", 10)
    got = ros.collect(Stress, "stress")
    deadline = time.monotonic() + 15.0
    t = 100.0
    while not got and time.monotonic() < deadline:
        t += 0.1
        pub.publish(_msg(astronaut_frame, t))
        time.sleep(0.1)
    assert got, "no Stress"
    values = {kv.key: kv.value for kv in node.diagnostic_status().values}
    assert int(values["embeddings_computed_here"]) >= 2 and values["embeddings_from_emotion_node"] == "0"
    return node


def test_alone_it_runs_the_emotion_cnn_itself_and_says_so(ros, astronaut_frame):
    """No emotion node on the graph: the stress node computes the embeddings (and counts them)."""
    assert _stress_from_its_own_cnn(ros, astronaut_frame).inbox is not None  # ready for an emotion node


def test_embeddings_that_never_come_are_given_up_on(ros, astronaut_frame):
    """An emotion publisher is on the graph but sends nothing for these frames: each frame waits
    embedding_wait in the inbox, then the stress node runs the CNN itself for it."""
    node = _stress_from_its_own_cnn(ros, astronaut_frame, Parameter("embedding_wait", value=0.05), emotion_publisher=True)
    assert node.inbox.dropped == 0 and ros.wait_for(lambda: node.inbox.waiting() == 0)
