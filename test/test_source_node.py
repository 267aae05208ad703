"""The source node through real rclpy: image folder, CameraInfo, video-timeline stamps, finished, bad source."""
from __future__ import annotations

import os

import cv2
import numpy as np
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Bool

from sentin_ros.ros.source_node import SourceNode

NS = f"src{os.getpid()}"


def _node(ros, **params):
    node = SourceNode(namespace=NS, context=ros.context, parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
    ros.add(node)
    return node


def test_image_folder_publishes_every_frame_with_camera_info_then_finishes(ros, tmp_path):
    for i in range(5):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), np.full((60, 80, 3), 40 * i, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    node = _node(ros, source=str(tmp_path), as_fast_as_possible=True, frame_id="cam", image_transport="both", stamp_source="video")
    images, infos, compressed = (ros.collect(t, f"/{NS}/{topic}", 50) for t, topic in
                                 ((Image, "image"), (CameraInfo, "camera_info"), (CompressedImage, "image/compressed")))
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    finished = ros.collect(Bool, f"/{NS}/source_node/finished", latched)
    assert ros.transition(f"{NS}/source_node", "configure")
    ros.wait_for(lambda: node.image_subscribers() > 0, 3.0)
    assert ros.transition(f"{NS}/source_node", "activate")
    assert node.finished.wait(10.0)
    assert ros.wait_for(lambda: len(images) == 5 and len(infos) == 5 and len(compressed) == 5 and finished, 5.0)
    assert [int(np.frombuffer(bytes(m.data), np.uint8)[0]) for m in images] == [0, 40, 80, 120, 160]
    assert images[0].header.frame_id == "cam" and images[0].encoding == "bgr8" and (images[0].width, images[0].height) == (80, 60)
    assert [(m.header.stamp.sec, m.header.stamp.nanosec) for m in infos] == [(m.header.stamp.sec, m.header.stamp.nanosec) for m in images]
    assert list(infos[0].k) == [80.0, 0.0, 40.0, 0.0, 80.0, 30.0, 0.0, 0.0, 1.0]
    ns = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in images]
    assert [b - a for a, b in zip(ns, ns[1:])] == [100_000_000] * 4  # stamp_source video: the folder's 10 Hz timeline
    assert finished[-1].data is True
    assert node.diagnostic_status().message == "ok"


def test_missing_source_fails_configure_with_the_reason(ros):
    node = _node(ros, source="/nonexistent/clip.mp4")
    assert not ros.transition(f"{NS}/source_node", "configure")
    assert ros.state(f"{NS}/source_node") == "unconfigured"
    assert "not found" in node.last_error


def test_max_frames_and_loop(ros, tmp_path):
    for i in range(2):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.zeros((8, 8, 3), np.uint8))
    node = _node(ros, source=str(tmp_path), loop=True, max_frames=5, rate=200.0)
    assert ros.transition(f"{NS}/source_node", "configure") and ros.transition(f"{NS}/source_node", "activate")
    assert node.finished.wait(5.0)
    assert node.frames_published == 5 and node.loops == 2
