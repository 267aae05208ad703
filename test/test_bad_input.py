"""Bad input is refused where it enters, counted, and leaves nothing behind: non-finite model
inputs, decompression bombs, oversize raw images, repeated face IDs, malformed crops, and
stamp jitter (which is not bad input at all). Real models, real rclpy."""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from rclpy.parameter import Parameter
from rclpy.serialization import serialize_message
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from sentin_ros.inference.gaze import GazeModel, GazeTracker
from sentin_ros.inference.gaze_screen import REFERENCE_SCREEN
from sentin_ros.inference.model_paths import default_model_path
from sentin_ros.inference.windows import FaceWindows
from sentin_ros.msg import Emotion, FaceArray, Gaze, Stress
from sentin_ros.ros.convert.faces import frame_to_msg
from sentin_ros.ros.convert.images import (
    MAX_PIXELS,
    ImageError,
    array_to_compressed,
    array_to_image,
    cdr_image_size,
    compressed_to_array,
    encoded_size,
)
from sentin_ros.runtime import NonFiniteInput
from sentin_ros.runtime.tensors import require_finite
from training.gaze import generator as G


def _stamp(header, t: float) -> None:
    header.stamp.sec, header.stamp.nanosec = int(t), int(round((t % 1) * 1e9)) % 1_000_000_000


@pytest.fixture(scope="module")
def faces_msg(astronaut_bgr):
    from sentin_ros.core.face_pipeline import FacePipeline

    p = FacePipeline()
    frame = p.process(astronaut_bgr, 0.0, "bgr8")
    p.close()
    return frame_to_msg(frame, Header(frame_id="cam"))


@pytest.fixture(scope="module")
def gaze_seq():
    rng = np.random.default_rng(7)
    cfg = G.GeneratorConfig(image_sizes=((640, 480),), noise_px=(0.3, 0.3), noise_iris_px=(0.3, 0.3))
    subject, session = G.sample_subject(rng, cfg), G.sample_session(rng, cfg, screen=REFERENCE_SCREEN)
    return G.generate_sequence(rng, subject, session, cfg, targets_xy=np.array([0.3, 0.6]), pose=(0.0, 0.0, 0.0),
                               position_m=(0.0, 0.05, 0.6), head_speed_dps=1.0, blink=False)


# -- non-finite model inputs ------------------------------------------------------------------
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), np.float32("nan"), np.float64("-inf"), (0.0, float("nan")), np.array([[1.0, np.inf]])])
def test_require_finite_refuses_every_kind_of_non_finite_value(bad):
    require_finite("ok", 1, 2.5, np.float32(3), (0.0, 1.0), np.zeros(3), None)  # all finite
    with pytest.raises(NonFiniteInput, match="x is not finite"):
        require_finite("x", 1.0, bad)


def test_the_runtime_never_quantizes_nan_or_inf():
    model = GazeModel(default_model_path("gaze"))
    try:
        seq = np.zeros((15, 10), np.float32)
        seq[3, 2] = np.nan
        with pytest.raises(NonFiniteInput):
            model.predict_reference(seq, (0.0, 0.0, 0.0))
        with pytest.raises(NonFiniteInput):
            model.predict_reference(np.zeros((15, 10), np.float32), (np.inf, 0.0, 0.0))
    finally:
        model.close()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_gaze_frame_is_skipped_and_leaves_the_track_as_it_was(gaze_seq, bad):
    model = GazeModel(default_model_path("gaze"))
    try:
        clean, dirty = GazeTracker(model, min_frames=5), GazeTracker(model, min_frames=5)
        n, broken = len(gaze_seq.eye), 6
        ypr = tuple(float(v) for v in gaze_seq.ypr)
        out_clean, out_dirty = [], []
        for i in range(n):
            t = i / 30
            if i == broken:
                eye = gaze_seq.eye[i].copy()
                eye[0] = bad
                with pytest.raises(NonFiniteInput):
                    dirty.push(1, t, eye, *ypr)
                with pytest.raises(NonFiniteInput):
                    dirty.push(1, t, gaze_seq.eye[i], bad, ypr[1], ypr[2])
                continue
            out_clean.append(clean.push(1, t, gaze_seq.eye[i], *ypr))
            out_dirty.append(dirty.push(1, t, gaze_seq.eye[i], *ypr))
        # the broken frame changed nothing: every later estimate equals the one without it
        for a, b in zip(out_clean, out_dirty):
            assert (a is None) == (b is None)
            if a is not None:
                assert (a.x, a.y, a.confidence) == (b.x, b.y, b.confidence)
                assert np.isfinite([a.x, a.y, a.confidence, *a.direction]).all()
    finally:
        model.close()


def test_gaze_node_counts_a_nan_face_as_bad_input_and_publishes_only_finite_gaze(ros, gaze_seq):
    from sentin_ros.msg import Face
    from sentin_ros.ros.gaze_node import GazeNode

    node = GazeNode(context=ros.context)
    ros.add(node)
    got = ros.collect(Gaze, "gaze", 100)
    pub = ros.node.create_publisher(FaceArray, "faces", 100)
    assert ros.transition("gaze_node", "configure") and ros.transition("gaze_node", "activate")
    assert ros.wait_for(lambda: pub.get_subscription_count() > 0, 5.0)
    n = len(gaze_seq.eye)
    for i in range(n):
        m = FaceArray(header=Header(frame_id="cam"), image_width=640, image_height=480)
        _stamp(m.header, 100 + i / 30)
        f = Face(face_id=5, eye=gaze_seq.eye[i].astype(np.float32))
        f.pitch, f.yaw, f.roll = (float(v) for v in gaze_seq.pyr)
        if i == 8:
            f.eye[1] = np.nan
        m.faces = [f]
        pub.publish(m)
        before = node.stats.processed
        ros.wait_for(lambda b=before: node.stats.processed > b, 2.0)
    assert node.wait_idle(5.0)
    assert ros.wait_for(lambda: len(got) >= n - 5, 5.0)
    assert node.stats.bad_input == 1
    assert all(np.isfinite([g.x, g.y, g.confidence, g.direction.x, g.direction.y, g.direction.z]).all() for g in got)
    bad_stamp = (100 + 8 // 30, int(round(((100 + 8 / 30) % 1) * 1e9)))
    assert bad_stamp not in {(g.header.stamp.sec, g.header.stamp.nanosec) for g in got}


# -- images -------------------------------------------------------------------------------------
def test_compressed_size_is_read_from_the_header_before_decoding():
    small = np.zeros((30, 40, 3), np.uint8)
    for ext in (".png", ".jpg"):
        ok, buf = cv2.imencode(ext, small)
        assert encoded_size(buf.tobytes()) == (40, 30)
    ok, png = cv2.imencode(".png", small)
    bomb = bytearray(png.tobytes())
    bomb[16:24] = (20000).to_bytes(4, "big") + (20000).to_bytes(4, "big")  # IHDR says 20000×20000
    msg = CompressedImage(format="png", data=bytes(bomb))
    with pytest.raises(ImageError, match="20000x20000.*not decoded"):
        compressed_to_array(msg)
    with pytest.raises(ImageError, match="accepted: JPEG, PNG"):
        compressed_to_array(CompressedImage(format="gif", data=b"GIF89a" + bytes(20)))
    img, enc = compressed_to_array(array_to_compressed(small, Header()))
    assert img.shape == (30, 40, 3) and enc == "bgr8"


@pytest.mark.parametrize("frame_id", ["", "c", "ca", "cam", "camera_optical"])
def test_raw_image_size_is_read_from_the_serialized_message(frame_id):
    msg = array_to_image(np.zeros((7, 13, 3), np.uint8), "bgr8", Header(frame_id=frame_id))
    assert cdr_image_size(serialize_message(msg)) == (13, 7)


def test_face_node_refuses_oversize_images_before_decoding_and_keeps_working(ros, astronaut_bgr):
    from sentin_ros.ros.face_node import FaceNode

    faces = ros.collect(FaceArray, "faces", 10)
    raw = FaceNode(context=ros.context)
    ros.add(raw)
    assert ros.transition("face_node", "configure") and ros.transition("face_node", "activate")
    pub = ros.node.create_publisher(Image, "image", 10)
    assert ros.wait_for(lambda: pub.get_subscription_count() > 0, 5.0)
    side = int(MAX_PIXELS ** 0.5) + 1  # one pixel per side over the limit (16.8 MB as mono8)
    pub.publish(Image(height=side, width=side, encoding="mono8", step=side, data=bytes(side * side)))
    assert ros.wait_for(lambda: raw.stats.bad_input == 1, 10.0)
    assert raw.stats.processed == 0  # refused before it reached the worker
    pub.publish(array_to_image(astronaut_bgr, "bgr8", Header(frame_id="cam")))
    assert ros.wait_for(lambda: faces and faces[-1].faces, 15.0), "the face node stopped after an oversize image"

    comp = FaceNode("face_node_c", context=ros.context, parameter_overrides=[Parameter("image_transport", value="compressed")])
    ros.add(comp)
    assert ros.transition("face_node_c", "configure") and ros.transition("face_node_c", "activate")
    cpub = ros.node.create_publisher(CompressedImage, "image/compressed", 10)
    assert ros.wait_for(lambda: cpub.get_subscription_count() > 0, 5.0)
    ok, png = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))
    bomb = bytearray(png.tobytes())
    bomb[16:24] = (20000).to_bytes(4, "big") * 2
    cpub.publish(CompressedImage(format="png", data=bytes(bomb)))
    assert ros.wait_for(lambda: comp.stats.bad_input == 1, 10.0)


# -- faces ----------------------------------------------------------------------------------------
def test_repeated_face_ids_and_malformed_crops_are_bad_input(ros, faces_msg):
    from sentin_ros.ros.emotion_node import EmotionNode
    from sentin_ros.ros.stress_node import StressNode

    emotion, stress = EmotionNode(context=ros.context), StressNode(context=ros.context,
                                                                  parameter_overrides=[Parameter("min_seconds", value=0.0)])
    for node in (emotion, stress):
        ros.add(node)
        assert ros.transition(node.get_name(), "configure") and ros.transition(node.get_name(), "activate")
    emotions, stresses = ros.collect(Emotion, "emotion", 100), ros.collect(Stress, "stress", 100)
    pub = ros.node.create_publisher(FaceArray, "faces", 10)
    assert ros.wait_for(lambda: pub.get_subscription_count() >= 2, 5.0)
    face = faces_msg.faces[0]
    for i in range(4):
        m = FaceArray(header=Header(frame_id="cam"), image_width=faces_msg.image_width, image_height=faces_msg.image_height)
        _stamp(m.header, 50 + i / 30)
        m.faces = [face, face, face]  # the same face_id three times
        pub.publish(m)
        ros.wait_for(lambda k=i: emotion.stats.processed > k and stress.stats.processed > k, 5.0)
    assert ros.wait_for(lambda: len(emotions) >= 4 and len(stresses) >= 4, 5.0)
    time.sleep(0.2)
    assert len(emotions) == 4  # one per stamp and face_id
    assert len({(s.header.stamp.nanosec, s.face_id) for s in stresses}) == len(stresses) == 4
    assert stresses[-1].window_frames == 4  # the horizon took one frame per frame
    assert emotion.stats.bad_input == 8 and stress.stats.bad_input == 8

    broken = FaceArray(header=Header(frame_id="cam"))
    _stamp(broken.header, 60)
    short = type(face)()
    short.face_id, short.crop = 9, bytes(100)  # a crop of the wrong length
    broken.faces = [short]
    before = emotion.stats.bad_input
    pub.publish(broken)
    assert ros.wait_for(lambda: emotion.stats.bad_input == before + 1, 5.0)


# -- stamps -----------------------------------------------------------------------------------------
def test_small_stamp_jitter_backwards_keeps_the_windows():
    w = FaceWindows(15, max_gap_s=0.5)
    t = 0.0
    for step in (0.033, -0.017, 0.05, -0.017, 0.033):  # +33 ms / -17 ms jitter
        assert not w.push(1, t, t) or t == 0.0
        t += step
    assert w.count(1) == 5
    assert w.forget_stale(t) == []
    assert w.push(1, t - 2.0, 0)  # a real jump back (bag loop): starts over
    assert w.count(1) == 1


def test_stress_node_publishes_through_stamp_jitter(ros, faces_msg):
    from sentin_ros.ros.stress_node import StressNode

    node = StressNode(context=ros.context, parameter_overrides=[Parameter("min_seconds", value=0.2),
                                                                Parameter("embedding_source", value="own")])
    ros.add(node)
    assert ros.transition("stress_node", "configure") and ros.transition("stress_node", "activate")
    got = ros.collect(Stress, "stress", 100)
    pub = ros.node.create_publisher(FaceArray, "faces", 10)
    assert ros.wait_for(lambda: pub.get_subscription_count() > 0, 5.0)
    t = 10.0
    for i in range(14):
        t += 0.033 if i % 3 != 2 else -0.017
        _stamp(faces_msg.header, t)
        pub.publish(faces_msg)
        ros.wait_for(lambda k=i: node.stats.processed > k, 5.0)
    assert ros.wait_for(lambda: len(got) >= 14 - 8, 5.0), f"{len(got)} Stress messages: the jitter reset the history"
    assert got[-1].window_frames >= 12  # the history kept (a reset would leave a few frames); a frame may be replaced in the slot
