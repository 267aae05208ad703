"""camera_info follows the image topic (as image_transport lays them out), through real rclpy."""
from __future__ import annotations

import os

from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header

from sentin_ros.ros.convert.images import camera_info_msg
from sentin_ros.ros.graph import FACE, GAZE, SOURCE, GraphConfig
from sentin_ros.ros.topics import camera_info_topic

NS = f"tp{os.getpid()}"


def test_camera_info_is_the_sibling_of_the_image_topic():
    assert camera_info_topic("image") == "camera_info"
    assert camera_info_topic("/camera/image_raw") == "/camera/camera_info"
    assert camera_info_topic("front/color/image_raw") == "front/color/camera_info"
    assert camera_info_topic("/camera/image_raw/compressed") == "/camera/camera_info"
    assert camera_info_topic("/camera/image_raw", "/other/info") == "/other/info"
    assert camera_info_topic("/camera/image_raw", "none") == ""


def test_graph_passes_image_and_camera_info_topics_to_the_nodes_that_use_them():
    config = GraphConfig(params_file=None, image_topic="/cam/image_raw")
    for spec in (SOURCE, FACE, GAZE):
        assert config.overrides_for(spec)["image_topic"] == "/cam/image_raw"
        assert "camera_info_topic" not in config.overrides_for(spec)  # derived by the node
    config = GraphConfig(params_file=None, camera_info_topic="/cam/info")
    assert all(config.overrides_for(s)["camera_info_topic"] == "/cam/info" for s in (SOURCE, FACE, GAZE))


def test_face_and_gaze_nodes_follow_a_drivers_camera_info(ros):
    from sentin_ros.ros.face_node import FaceNode
    from sentin_ros.ros.gaze_node import GazeNode

    image_topic = f"/{NS}/camera/image_raw"
    face = FaceNode(context=ros.context, parameter_overrides=[Parameter("image_topic", value=image_topic)])
    gaze = GazeNode(context=ros.context, parameter_overrides=[Parameter("image_topic", value=image_topic)])
    for node in (face, gaze):
        ros.add(node)
        assert ros.transition(node.get_name(), "configure") and ros.transition(node.get_name(), "activate")
        assert node.camera_info_topic() == f"/{NS}/camera/camera_info"
    info_topic = f"/{NS}/camera/camera_info"
    assert ros.wait_for(lambda: ros.node.count_subscribers(info_topic) >= 2, 5.0)
    ours = {(i.node_namespace, i.node_name) for i in ros.node.get_subscriptions_info_by_topic("/camera_info")}
    assert not ours & {("/", "face_node"), ("/", "gaze_node")}, "still subscribed to /camera_info"
    pub = ros.node.create_publisher(CameraInfo, info_topic, 10)
    msg = camera_info_msg(640, 480, Header())
    msg.k = [500.0, 0.0, 320.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0]

    def got_it() -> bool:
        pub.publish(msg)
        return gaze._camera_matrix is not None and abs(float(gaze._camera_matrix[0, 0]) - 500.0) < 1e-6

    assert ros.wait_for(got_it, 5.0), "the gaze node did not take the driver's CameraInfo"
