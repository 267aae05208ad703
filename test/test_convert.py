"""ros/convert: the same builders make rclpy messages (nodes) and rosbags ones (recorder); every
family reads back into what it was built from, and every output carries the header it was given."""
import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from std_msgs.msg import Header

from sentin_ros.core.face_pipeline import FaceObservation, FaceQuality, FrameFaces
from sentin_ros.inference.emotion import interpret
from sentin_ros.inference.gaze import GazeEstimate
from sentin_ros.inference.stress import StressEstimate
from sentin_ros.msg import Emotion, FaceArray, Gaze, Stress
from sentin_ros.ros.convert import outputs
from sentin_ros.ros.convert.faces import FaceMessageError, face_from_msg, frame_to_msg
from sentin_ros.ros.convert.images import camera_from_info, camera_info_msg, header_msg, stamp_to_ns, stamp_to_seconds
from sentin_ros.ros.convert.types import RosbagsTypes
from sentin_ros.tools import bags


def _face(fid=3) -> FaceObservation:
    rng = np.random.default_rng(fid)
    return FaceObservation(
        face_id=fid, roi=(10, 20, 30, 40), score=0.9, landmarks=rng.random((478, 3), np.float32), yaw=10.0, pitch=-5.0, roll=2.0,
        head_position=(0.01, 0.02, 0.6), crop=rng.integers(0, 255, (48, 48), np.uint8), geometry=rng.random(12, np.float32),
        eye=rng.random(10, np.float32), quality=FaceQuality(0.99, 120.0, True),
    )


def _header(sec=7, nanosec=11) -> Header:
    h = Header(frame_id="cam")
    h.stamp.sec, h.stamp.nanosec = sec, nanosec
    return h


def _results(fid=3):
    emotion = interpret(np.array([0.05, 0.0, 0.05, 0.7, 0.1, 0.0, 0.1], np.float32), np.ones(256, np.float32), 0.4)
    stress = StressEstimate(fid, 7.0, 0.5, 0.8, 1, 12, 0.4)
    gaze = GazeEstimate(fid, 7.0, 0.2, 0.7, 0.21, 0.69, True, True, np.array([0.0, 0.6, -0.8]), np.zeros(3), 0.9, 15, 10.0, -5.0, 2.0)
    return emotion, stress, gaze


def test_faces_round_trip_through_the_wire():
    face = _face()
    msg = frame_to_msg(FrameFaces(7.0, 640, 480, [face]), _header())
    back = deserialize_message(serialize_message(msg), FaceArray)
    assert back.header.stamp.sec == 7 and back.header.stamp.nanosec == 11 and back.header.frame_id == "cam"
    assert (back.image_width, back.image_height) == (640, 480)
    got = face_from_msg(back.faces[0])
    assert got.face_id == 3 and got.roi == face.roi and (got.yaw, got.pitch, got.roll) == (10.0, -5.0, 2.0)
    np.testing.assert_array_equal(got.crop, face.crop)
    np.testing.assert_allclose(got.landmarks, face.landmarks)
    np.testing.assert_allclose(got.geometry, face.geometry)
    np.testing.assert_allclose(got.head_position, face.head_position, atol=1e-7)
    assert got.quality.expression_ok and got.quality.presence == pytest.approx(0.99)
    back.faces[0].crop = b"\x00" * 10
    with pytest.raises(FaceMessageError, match="crop has 10 bytes"):
        face_from_msg(back.faces[0])
    assert face_from_msg(back.faces[0], with_crop=False).face_id == 3


@pytest.mark.parametrize("kind,msg_type", [("emotion", Emotion), ("stress", Stress), ("gaze", Gaze)])
def test_outputs_carry_the_header_and_read_back_to_their_fields(kind, msg_type):
    emotion, stress, gaze = _results()
    fields = {"emotion": outputs.emotion_fields(3, emotion, (10, 20, 30, 40)), "stress": outputs.stress_fields(stress),
              "gaze": outputs.gaze_fields(gaze)}[kind]
    msg = deserialize_message(serialize_message(outputs.BUILDERS[kind](_header(), fields)), msg_type)
    assert msg.header.stamp.sec == 7 and msg.header.stamp.nanosec == 11 and msg.header.frame_id == "cam" and msg.face_id == 3
    back = outputs.fields_of(kind, msg)
    assert back.keys() == fields.keys()
    for name, value in fields.items():
        if isinstance(value, str | bool | int):
            assert back[name] == value, name
        else:
            np.testing.assert_allclose(back[name], value, rtol=1e-6, atol=1e-7, err_msg=name)


def test_the_recorder_types_build_the_same_messages():
    store = bags.typestore()
    types = RosbagsTypes(store)
    emotion, stress, gaze = _results()
    header = header_msg(7_000_000_011, "cam", types)
    frame = frame_to_msg(FrameFaces(7.0, 640, 480, [_face()]), header, types)
    for kind, name, msg_type, fields in (
        ("emotion", "sentin_ros/msg/Emotion", Emotion, outputs.emotion_fields(3, emotion, (10, 20, 30, 40))),
        ("stress", "sentin_ros/msg/Stress", Stress, outputs.stress_fields(stress)),
        ("gaze", "sentin_ros/msg/Gaze", Gaze, outputs.gaze_fields(gaze)),
    ):
        rec = store.deserialize_cdr(store.serialize_cdr(outputs.BUILDERS[kind](header, fields, types), name), name)
        rcl = deserialize_message(serialize_message(outputs.BUILDERS[kind](_header(), fields)), msg_type)
        assert outputs.fields_of(kind, rec) == outputs.fields_of(kind, rcl)  # one schema, both factories
    raw = store.serialize_cdr(frame, "sentin_ros/msg/FaceArray")
    back = deserialize_message(raw.tobytes() if hasattr(raw, "tobytes") else bytes(raw), FaceArray)  # rosbags bytes, read by rclpy
    assert stamp_to_ns(back.header.stamp) == 7_000_000_011 and face_from_msg(back.faces[0]).face_id == 3


def test_stamps_and_camera_info():
    assert stamp_to_seconds(_header(3, 500_000_000).stamp) == pytest.approx(3.5)
    info = camera_info_msg(640, 480, _header())
    k, dist = camera_from_info(info)
    np.testing.assert_allclose(k, [[640, 0, 320], [0, 640, 240], [0, 0, 1]])
    assert list(dist) == [0.0] * 5 and info.header.frame_id == "cam"
    info.k = [0.0] * 9
    assert camera_from_info(info) is None
