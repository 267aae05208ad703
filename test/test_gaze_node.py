"""The gaze node through real rclpy: outputs from generated eye sequences, the calibration
service end to end, missing faces and short histories."""
import time

import numpy as np
from std_msgs.msg import Header

from sentin_ros.inference.gaze_screen import REFERENCE_SCREEN
from sentin_ros.msg import Face, FaceArray, Gaze
from sentin_ros.ros.gaze_node import GazeNode
from sentin_ros.srv import CalibrateGaze
from training.gaze import generator as G

TARGETS = [(0.05, 0.05), (0.95, 0.05), (0.5, 0.5), (0.05, 0.95), (0.95, 0.95)]


class Feeder:
    """Publishes FaceArrays built from generator sequences with increasing stamps."""

    def __init__(self, ros):
        self.ros = ros
        self.pub = ros.node.create_publisher(FaceArray, "faces", 10)
        self.got = ros.collect(Gaze, "gaze")
        self.t = 100.0
        rng = np.random.default_rng(7)
        self.cfg = G.GeneratorConfig(image_sizes=((640, 480),), noise_px=(0.3, 0.3), noise_iris_px=(0.3, 0.3))
        self.rng = rng
        self.subject = G.sample_subject(rng, self.cfg)
        self.session = G.sample_session(rng, self.cfg, screen=REFERENCE_SCREEN)

    def msg(self, seq=None, i=0, face_id=5):
        m = FaceArray()
        m.header = Header(frame_id="cam")
        m.header.stamp.sec, m.header.stamp.nanosec = int(self.t), int((self.t % 1) * 1e9)
        m.image_width, m.image_height = 640, 480
        if seq is not None:
            f = Face()
            f.face_id = face_id
            f.eye = seq.eye[i].astype(np.float32)
            f.pitch, f.yaw, f.roll = (float(v) for v in seq.pyr)
            f.head_position.x, f.head_position.y, f.head_position.z = (float(v) for v in seq.head_position_m)
            m.faces = [f]
        self.t += 1 / 30
        return m

    def fixate(self, x, y):
        seq = G.generate_sequence(self.rng, self.subject, self.session, self.cfg, targets_xy=np.array([x, y]), pose=(0.0, 0.0, 0.0),
                                  position_m=(0.0, 0.05, 0.6), head_speed_dps=1.0, blink=False)
        n0 = len(self.got)
        for i in range(len(seq.eye)):
            self.pub.publish(self.msg(seq, i))
            time.sleep(0.02)
        assert self.ros.wait_for(lambda: len(self.got) >= n0 + 5), "no gaze output"
        time.sleep(0.1)
        return self.got[-1]


def _call(ros, command, **kw):
    req = CalibrateGaze.Request(command=command, **kw)
    return ros.call(CalibrateGaze, "/gaze_node/calibrate", req)


def test_calibration_service_end_to_end(ros, tmp_path):
    node = GazeNode(context=ros.context)
    ros.add(node)
    assert ros.transition("gaze_node", "configure") and ros.transition("gaze_node", "activate")
    feed = Feeder(ros)

    first = feed.fixate(0.2, 0.5)
    assert not first.calibrated and first.face_id == 5 and first.header.frame_id == "cam"
    assert abs(np.linalg.norm([first.direction.x, first.direction.y, first.direction.z]) - 1) < 1e-4

    early = _call(ros, CalibrateGaze.Request.FIT)
    assert not early.success and "at least" in early.message

    for x, y in TARGETS:
        feed.fixate(x, y)
        r = _call(ros, CalibrateGaze.Request.ADD_SAMPLE, target_x=x, target_y=y)
        assert r.success, r.message
    assert r.num_samples == 5
    fit = _call(ros, CalibrateGaze.Request.FIT)
    assert fit.success and fit.calibrated and np.isfinite(fit.residual) and fit.residual < 0.6, fit.message  # leave-one-out on 5 points: a sanity bound
    assert "leave-one-out" in fit.message  # residual: the leave-one-out RMS of the samples
    assert feed.fixate(0.5, 0.5).calibrated

    path = str(tmp_path / "cal.json")
    assert _call(ros, CalibrateGaze.Request.SAVE, path=path).success
    reset = _call(ros, CalibrateGaze.Request.RESET)
    assert reset.success and not reset.calibrated and reset.num_samples == 0
    assert not feed.fixate(0.5, 0.5).calibrated
    loaded = _call(ros, CalibrateGaze.Request.LOAD, path=path)
    assert loaded.success and loaded.calibrated and loaded.num_samples == 5
    assert feed.fixate(0.5, 0.5).calibrated


def test_left_right_missing_faces_and_short_history(ros):
    node = GazeNode(context=ros.context)
    ros.add(node)
    assert ros.transition("gaze_node", "configure") and ros.transition("gaze_node", "activate")
    feed = Feeder(ros)
    left, right = feed.fixate(0.15, 0.5), feed.fixate(0.85, 0.5)
    assert left.x < 0.5 < right.x and left.on_screen and right.on_screen

    feed.t += 1.0  # the face is gone for a second (> max_gap): the node forgets it
    for _ in range(5):  # frames without faces: nothing published, node fine
        feed.pub.publish(feed.msg())
        time.sleep(0.02)
    time.sleep(0.3)
    assert node.tracker.face_ids == []
    n = len(feed.got)
    seq = G.generate_sequence(feed.rng, feed.subject, feed.session, feed.cfg, targets_xy=np.array([0.5, 0.5]), pose=(0.0, 0.0, 0.0),
                              position_m=(0.0, 0.05, 0.6), head_speed_dps=1.0, blink=False)
    for i in range(3):  # the face came back: its history restarted, 3 < min_frames (5)
        feed.pub.publish(feed.msg(seq, i))
        time.sleep(0.03)
    time.sleep(0.3)
    assert len(feed.got) == n
    assert ros.state("gaze_node") == "active"
