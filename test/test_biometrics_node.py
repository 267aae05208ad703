"""The (opt-in) biometrics node through real rclpy, on the committed INT8 model and a real face."""
import math
import time

import pytest
from rclpy.parameter import Parameter
from std_msgs.msg import Header

from sentin_ros.core.face_pipeline import FacePipelineConfig
from sentin_ros.inference.biometrics import AGE_GROUPS
from sentin_ros.msg import Biometrics, FaceArray
from sentin_ros.ros.biometrics_node import BiometricsNode
from sentin_ros.ros.convert.faces import frame_to_msg


def _faces(face_pipeline_factory, image, color_crop=True, face_id=23):
    frame = face_pipeline_factory(config=FacePipelineConfig(color_crop=color_crop)).process(image, 0.0, "bgr8")
    header = Header(frame_id="cam")
    header.stamp.sec, header.stamp.nanosec = 42, 7
    msg = frame_to_msg(frame, header)
    msg.faces[0].face_id = face_id
    return msg


@pytest.fixture(scope="module")
def astronaut_faces(face_pipeline_factory, astronaut_bgr):
    return _faces(face_pipeline_factory, astronaut_bgr)


def _run(ros, msg: FaceArray, n=1, timeout=10.0):
    pub = ros.node.create_publisher(FaceArray, "faces", 10)
    got = ros.collect(Biometrics, "biometrics")
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        pub.publish(msg)
        time.sleep(0.05)
    return got


def _active(ros, **params):
    node = BiometricsNode(context=ros.context, parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
    ros.add(node)
    assert ros.transition("biometrics_node", "configure") and ros.transition("biometrics_node", "activate")
    return node


def test_astronaut_gets_an_age_and_a_gender_probability_with_header_and_id(ros, astronaut_faces):
    _active(ros)
    got = _run(ros, astronaut_faces, n=3)
    assert len(got) >= 3, "no Biometrics published"
    b = got[0]
    assert b.header.stamp.sec == 42 and b.header.stamp.nanosec == 7 and b.header.frame_id == "cam"
    assert b.face_id == 23 and b.frames == 1
    # Eileen Collins, about 40 in the NASA portrait, annotated "female" by any UTKFace annotator
    assert 22.0 < b.age < 60.0 and 0.5 < b.age_uncertainty < 25.0
    assert b.age_group in {name for _, name in AGE_GROUPS}
    assert b.gender_estimated and b.gender_female_probability > 0.5 and 0.0 <= b.confidence <= 1.0
    last = got[-1]
    assert last.frames >= 3 and abs(last.age - b.age) < 1e-3  # the same face: the average does not move
    assert last.confidence > b.confidence  # more frames, more settled


def test_gender_is_withheld_below_gender_min_age(ros, astronaut_faces):
    _active(ros, gender_min_age=110.0)  # every face looks younger than that
    got = _run(ros, astronaut_faces, n=2)
    assert got, "no Biometrics published"
    assert all(not b.gender_estimated and math.isnan(b.gender_female_probability) for b in got)
    assert 22.0 < got[0].age < 60.0 and 0.0 < got[-1].confidence <= 1.0  # the age is still given


def test_low_quality_faces_get_nothing(ros, astronaut_faces):
    node = _active(ros, min_face_size=5000.0)  # the astronaut's face is ~200 px: below the gate
    assert _run(ros, astronaut_faces, timeout=1.5) == []
    assert node.stats.low_quality > 0


def test_faces_without_the_colour_crop_get_nothing_and_are_counted(ros, face_pipeline_factory, astronaut_bgr):
    node = _active(ros)
    assert _run(ros, _faces(face_pipeline_factory, astronaut_bgr, color_crop=False), timeout=1.5) == []
    assert node.faces_without_crop > 0
    assert node.diagnostic_values()["faces_without_color_crop"] == str(node.faces_without_crop)


def test_inactive_publishes_nothing_and_a_bad_model_fails_configure(ros, astronaut_faces, tmp_path):
    node = BiometricsNode(context=ros.context)
    ros.add(node)
    assert ros.transition("biometrics_node", "configure")
    assert _run(ros, astronaut_faces, timeout=1.0) == []
    assert ros.transition("biometrics_node", "cleanup")
    node.set_parameters([Parameter("model_path", value=str(tmp_path / "nope.tflite"))])
    assert not ros.transition("biometrics_node", "configure")
    assert ros.state("biometrics_node") == "unconfigured"
