"""The smoothers: ProbabilitySmoother (emotion, the node's `smoothing` parameter) and OneEuroFilter (gaze)."""
import copy
import time

import numpy as np
import pytest
from rclpy.parameter import Parameter

from sentin_ros.inference.emotion import EmotionModel, ProbabilitySmoother
from sentin_ros.inference.gaze import OneEuroFilter
from sentin_ros.inference.model_paths import default_model_path
from sentin_ros.msg import Emotion, FaceArray
from sentin_ros.ros.emotion_node import EmotionNode
from test.test_emotion_node import astronaut_faces  # noqa: F401 - the fixture


def test_probability_smoother_blends_per_face_and_forgets():
    s = ProbabilitySmoother(alpha=0.25)
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    np.testing.assert_allclose(s.update(1, a), a)  # the first frame of a face is taken as is
    np.testing.assert_allclose(s.update(1, b), 0.25 * b + 0.75 * a)
    np.testing.assert_allclose(s.update(2, b), b)  # faces are independent
    s.retain([2])
    np.testing.assert_allclose(s.update(1, b), b)  # face 1 was dropped: starts over
    off = ProbabilitySmoother(1.0)
    off.update(1, a)
    np.testing.assert_allclose(off.update(1, b), b)
    for alpha in (0.0, 1.5):
        with pytest.raises(ValueError):
            ProbabilitySmoother(alpha)


def test_one_euro_filter_smooths_jitter_and_follows_jumps():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(min_cutoff_hz=1.0, beta=0.5)
    t = np.arange(60) / 30.0
    noisy = 0.5 + rng.normal(0, 0.02, (60, 2))
    out = np.array([f(ti, xi) for ti, xi in zip(t, noisy)])
    np.testing.assert_allclose(out[0], noisy[0])  # the first sample passes unchanged
    assert np.std(out[20:], axis=0).max() < 0.5 * np.std(noisy[20:], axis=0).min()  # fixation jitter is damped
    slow, fast = OneEuroFilter(1.0, beta=0.0), OneEuroFilter(1.0, beta=5.0)
    for ti in t[:30]:
        slow(ti, (0.2, 0.2))
        fast(ti, (0.2, 0.2))
    step_slow = [slow(ti, (0.8, 0.8)) for ti in t[30:35]][-1]
    step_fast = [fast(ti, (0.8, 0.8)) for ti in t[30:35]][-1]
    assert step_fast[0] > step_slow[0] > 0.2  # a saccade: the speed term raises the cut-off
    np.testing.assert_allclose(f(0.0, (0.1, 0.9)), (0.1, 0.9))  # time went back: starts over


def _outputs(ros, node, msgs, timeout=10.0):
    """Publish each message once its predecessor's Emotion has arrived; the Emotions, in order."""
    pub = ros.node.create_publisher(FaceArray, "faces", 10)
    got = ros.collect(Emotion, "emotion")
    ros.wait_for(lambda: pub.get_subscription_count() > 0, 3.0)
    for n, msg in enumerate(msgs, 1):
        deadline = time.monotonic() + timeout
        pub.publish(msg)
        while len(got) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(got) == n, f"no Emotion for message {n}"
    return list(got)


@pytest.mark.parametrize("smoothing", [0.0, 0.8])
def test_emotion_node_smoothing_parameter(ros, astronaut_faces, smoothing):  # noqa: F811
    grey = copy.deepcopy(astronaut_faces)
    grey.faces[0].crop = np.full(48 * 48, 128, np.uint8).tobytes()
    model = EmotionModel(default_model_path("emotion"))
    try:
        raw_face = model.infer(np.frombuffer(bytes(astronaut_faces.faces[0].crop), np.uint8).reshape(48, 48))[0]
        raw_grey = model.infer(np.full((48, 48), 128, np.uint8))[0]
    finally:
        model.close()
    node = EmotionNode(context=ros.context, parameter_overrides=[Parameter("smoothing", value=smoothing)])
    ros.add(node)
    assert ros.transition("emotion_node", "configure") and ros.transition("emotion_node", "activate")
    first, second = _outputs(ros, node, [astronaut_faces, grey])
    np.testing.assert_allclose(first.probabilities, raw_face, atol=1e-5)
    want = (1 - smoothing) * raw_grey + smoothing * raw_face  # p <- a * p_new + (1 - a) * p, a = 1 - smoothing
    np.testing.assert_allclose(second.probabilities, want, atol=1e-5)
