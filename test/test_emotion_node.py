"""The emotion node through real rclpy, on the committed INT8 model and a real face."""
import time

import numpy as np
import pytest
from rclpy.parameter import Parameter
from std_msgs.msg import Header

from sentin_ros.inference.model_paths import default_model_path
from sentin_ros.msg import Emotion, FaceArray
from sentin_ros.ros.convert.faces import frame_to_msg
from sentin_ros.ros.emotion_node import EmotionNode

MODEL = default_model_path("emotion")


@pytest.fixture(scope="module")
def astronaut_faces(astronaut_bgr):
    from sentin_ros.core.face_pipeline import FacePipeline

    p = FacePipeline()
    frame = p.process(astronaut_bgr, 0.0, "bgr8")
    p.close()
    header = Header(frame_id="cam")
    header.stamp.sec, header.stamp.nanosec = 42, 7
    msg = frame_to_msg(frame, header)
    msg.faces[0].face_id = 17
    return msg


def _run(ros, node, msg: FaceArray, n=1, timeout=10.0):
    pub = ros.node.create_publisher(FaceArray, "faces", 10)
    got = ros.collect(Emotion, "emotion")
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        pub.publish(msg)
        time.sleep(0.05)
    return got


def test_astronaut_is_happy_with_header_and_id(ros, astronaut_faces):
    node = EmotionNode(context=ros.context)
    ros.add(node)
    assert ros.transition("emotion_node", "configure") and ros.transition("emotion_node", "activate")
    got = _run(ros, node, astronaut_faces)
    assert got, "no Emotion published"
    e = got[0]
    assert e.label == Emotion.HAPPY and e.confidence > 0.6
    assert e.header.stamp.sec == 42 and e.header.stamp.nanosec == 7 and e.header.frame_id == "cam"
    assert e.face_id == 17 and e.roi.width == astronaut_faces.faces[0].roi.width
    assert abs(sum(e.probabilities) - 1.0) < 1e-3 and e.valence > 0.3
    assert len(e.embedding) == 256  # published by default: the stress node uses it


def test_inactive_publishes_nothing(ros, astronaut_faces):
    node = EmotionNode(context=ros.context)
    ros.add(node)
    assert ros.transition("emotion_node", "configure")
    got = _run(ros, node, astronaut_faces, timeout=1.0)
    assert got == []


def test_uncertain_threshold_and_embedding(ros, astronaut_faces):
    node = EmotionNode(
        context=ros.context,
        parameter_overrides=[Parameter("min_confidence", value=0.999), Parameter("publish_embedding", value=True)],
    )
    ros.add(node)
    assert ros.transition("emotion_node", "configure") and ros.transition("emotion_node", "activate")
    got = _run(ros, node, astronaut_faces)
    assert got and got[0].label == Emotion.UNCERTAIN
    assert np.argmax(got[0].probabilities) == 3  # still reports the probabilities (happy on top)
    assert len(got[0].embedding) == 256 and np.isfinite(got[0].embedding).all()


def test_bad_model_path_fails_configure_cleanly(ros, tmp_path):
    node = EmotionNode(context=ros.context, parameter_overrides=[Parameter("model_path", value=str(tmp_path / "nope.tflite"))])
    ros.add(node)
    assert not ros.transition("emotion_node", "configure")
    assert ros.state("emotion_node") == "unconfigured"
    assert "not found" in node.last_error and node.models is None


@pytest.mark.parametrize("field, value", [("size_px", 20.0), ("yaw", 70.0), ("presence", 0.5)])
def test_low_quality_faces_get_no_emotion(ros, astronaut_faces, field, value):
    """The quality gate (min_face_size, max_abs_yaw, min_presence): the face is skipped and counted."""
    import copy

    msg = copy.deepcopy(astronaut_faces)
    setattr(msg.faces[0], field, value)
    node = EmotionNode(context=ros.context)
    ros.add(node)
    assert ros.transition("emotion_node", "configure") and ros.transition("emotion_node", "activate")
    assert _run(ros, node, msg, timeout=1.5) == []
    assert node.stats.low_quality > 0 and node.stats.bad_input == 0
    assert _run(ros, node, astronaut_faces), "the same face at full quality is published"
