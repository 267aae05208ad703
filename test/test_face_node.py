"""The face node through real rclpy: lifecycle services, outputs, bad input."""
import time

import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from sentin_ros.msg import FaceArray
from sentin_ros.ros.convert.images import array_to_image
from sentin_ros.ros.face_node import FaceNode


def _header(sec, frame="camera_optical"):
    header = Header(frame_id=frame)
    header.stamp.sec, header.stamp.nanosec = sec, 500
    return header


def _publish_until(ros, pub, msg, got, n=1, timeout=10.0):
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        pub.publish(msg)
        time.sleep(0.05)
    return len(got) >= n


def test_lifecycle_and_outputs(ros, astronaut_bgr):
    node = FaceNode(context=ros.context)
    ros.add(node)
    pub = ros.node.create_publisher(Image, "image", 10)
    got = ros.collect(FaceArray, "faces")
    assert ros.state("face_node") == "unconfigured"
    assert ros.transition("face_node", "configure")
    assert ros.state("face_node") == "inactive"

    msg = array_to_image(astronaut_bgr, "bgr8", _header(7))
    for _ in range(5):  # inactive: nothing comes out
        pub.publish(msg)
        time.sleep(0.05)
    time.sleep(0.3)
    assert got == []

    assert ros.transition("face_node", "activate")
    assert ros.state("face_node") == "active"
    assert _publish_until(ros, pub, msg, got)
    out = got[0]
    assert out.header.stamp.sec == 7 and out.header.stamp.nanosec == 500 and out.header.frame_id == "camera_optical"
    assert (out.image_width, out.image_height) == (512, 512)
    assert len(out.faces) == 1
    face = out.faces[0]
    assert len(face.landmarks) == 478 * 3 and len(face.crop) == 48 * 48
    assert face.face_id >= 1 and face.roi.width > 50

    assert ros.transition("face_node", "deactivate")
    assert ros.wait_for(lambda: node.wait_idle())
    time.sleep(0.2)
    n = len(got)
    for _ in range(5):
        pub.publish(msg)
        time.sleep(0.05)
    time.sleep(0.3)
    assert len(got) == n
    assert ros.transition("face_node", "cleanup")
    assert node.pipeline is None
    assert ros.state("face_node") == "unconfigured"
    assert ros.transition("face_node", "shutdown")
    assert ros.state("face_node") == "finalized"


def _raw(h, w, enc, step, data, sec=1):
    return Image(header=_header(sec), height=h, width=w, encoding=enc, step=step, data=data)


def test_malformed_images_are_skipped_and_node_keeps_serving(ros, astronaut_bgr):
    node = FaceNode(context=ros.context)
    ros.add(node)
    pub = ros.node.create_publisher(Image, "image", 10)
    got = ros.collect(FaceArray, "faces")
    assert ros.transition("face_node", "configure") and ros.transition("face_node", "activate")
    bad = [
        _raw(4, 4, "bgr8", 8, bytes(64)),  # step too small
        _raw(4, 4, "bgr8", 12, bytes(20)),  # data shorter than height*step
        _raw(4, 4, "yuv422_weird", 8, bytes(32)),  # unknown encoding
        _raw(0, 0, "bgr8", 0, b""),  # 0x0
        _raw(3000, 4000, "bgr8", 12000, bytes(100)),  # 4000x3000 header with a short buffer
    ]
    for msg in bad:
        before = node.stats.received
        pub.publish(msg)  # each one taken before the next (a newer one would replace it unprocessed)
        assert ros.wait_for(lambda b=before: node.stats.received > b and node.wait_idle())
    assert ros.wait_for(lambda: node.stats.bad_input >= len(bad), 5.0), node.stats.bad_input
    assert got == []
    assert ros.state("face_node") == "active"
    assert _publish_until(ros, pub, array_to_image(astronaut_bgr, "bgr8", _header(9)), got)
    assert got[-1].header.stamp.sec == 9 and len(got[-1].faces) == 1


def test_full_size_4000x3000_frame_is_processed(ros):
    node = FaceNode(context=ros.context)
    ros.add(node)
    pub = ros.node.create_publisher(Image, "image", 10)
    got = ros.collect(FaceArray, "faces")
    assert ros.transition("face_node", "configure") and ros.transition("face_node", "activate")
    big = array_to_image(np.full((3000, 4000, 3), 100, np.uint8), "bgr8", _header(3))
    assert _publish_until(ros, pub, big, got, timeout=20.0)
    assert got[0].faces == [] and got[0].image_width == 4000


def test_bad_parameter_fails_configure_and_leaves_node_unconfigured(ros):
    from rclpy.parameter import Parameter

    node = FaceNode(context=ros.context, parameter_overrides=[Parameter("image_transport", value="h264")])
    ros.add(node)
    assert not ros.transition("face_node", "configure")
    assert ros.state("face_node") == "unconfigured"
    assert "image_transport" in node.last_error and node.pipeline is None


def _diagnostics(node) -> dict:
    return {kv.key: kv.value for kv in node.diagnostic_status().values}


def test_delegate_fallback_and_failed_configure_like_the_model_nodes(ros):
    """The face node's three interpreters follow delegate / delegate_fallback as the model nodes' do."""
    from rclpy.parameter import Parameter

    missing = "external:/nonexistent/libdelegate.so"
    node = FaceNode("face_fallback", context=ros.context, parameter_overrides=[Parameter("delegate", value=missing)])
    ros.add(node)
    assert ros.transition("face_fallback", "configure")
    diag = _diagnostics(node)
    for name in ("detector", "landmarks", "iris"):
        assert diag[f"{name}_delegate_fell_back"] == "true" and diag[f"{name}_delegate"] == "xnnpack"
        assert "/nonexistent/libdelegate.so" in diag[f"{name}_fallback_reason"]

    strict = FaceNode("face_strict", context=ros.context,
                      parameter_overrides=[Parameter("delegate", value=missing), Parameter("delegate_fallback", value=False)])
    ros.add(strict)
    assert not ros.transition("face_strict", "configure")
    assert ros.state("face_strict") == "unconfigured"
    assert "delegate_fallback is false" in strict.last_error and strict.pipeline is None and strict.models is None

    bad = FaceNode("face_bad_model", context=ros.context, parameter_overrides=[Parameter("landmark_model_path", value="/nonexistent/x.tflite")])
    ros.add(bad)
    assert not ros.transition("face_bad_model", "configure")
    assert "/nonexistent/x.tflite" in bad.last_error and bad.models is None


def test_interpreter_parameters_rebuild_or_are_rejected_while_serving(ros, astronaut_bgr):
    from rclpy.parameter import Parameter

    node = FaceNode(context=ros.context)
    ros.add(node)
    pub = ros.node.create_publisher(Image, "image", 10)
    got = ros.collect(FaceArray, "faces")
    assert ros.transition("face_node", "configure") and ros.transition("face_node", "activate")
    msg = array_to_image(astronaut_bgr, "bgr8", _header(1))
    assert _publish_until(ros, pub, msg, got)
    old = node.models["face"]
    assert node.set_parameters([Parameter("num_threads", value=2)])[0].successful
    assert node.models["face"] is not old and node.models["face"].detector.runtime.num_threads == 2
    current = node.models["face"]
    result = node.set_parameters([Parameter("iris_model_path", value="/nonexistent/iris.tflite")])[0]
    assert not result.successful and "/nonexistent/iris.tflite" in result.reason
    assert node.models["face"] is current  # the old interpreters keep serving
    n = len(got)
    assert _publish_until(ros, pub, msg, got, n + 1)
    assert len(got[-1].faces) == 1 and got[-1].faces[0].presence > 0.9 and got[-1].faces[0].expression_ok
