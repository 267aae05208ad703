"""The LiteRT runtime (sentin_ros/runtime/) and the emotion node's interpreter lifecycle:
bad files, wrong shapes and unloadable delegates fail cleanly; create/close and configure/cleanup
cycles do not leak file descriptors or memory."""
import gc
import glob
import os
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from sentin_ros.inference.emotion import EmotionModel
from sentin_ros.inference.model_paths import default_model_path
from sentin_ros.runtime import LiteModel, ModelError, ModelOptions
from sentin_ros.runtime.tensors import quantize

# SENTIN_TEST_EMOTION_MODEL: run the node tests against a candidate model instead of the committed one.
EMOTION_MODEL = os.environ.get("SENTIN_TEST_EMOTION_MODEL") or default_model_path("emotion")


def _mediapipe_model(name: str = "face_detection_short_range.tflite") -> str:
    import mediapipe

    path = Path(mediapipe.__file__).parent / "modules" / "face_detection" / name
    assert path.is_file(), path
    return str(path)


OTHER_MODEL = _mediapipe_model()  # a real .tflite with other shapes (1×128×128×3 in, anchors out)


def _libm() -> str:
    found = sorted(glob.glob("/lib/*/libm.so.6") + glob.glob("/usr/lib/*/libm.so.6") + glob.glob("/lib64/libm.so.6"))
    return found[0] if found else "libm.so.6"


def test_missing_file_is_a_model_error():
    with pytest.raises(ModelError, match="not found"):
        LiteModel("/nonexistent/model.tflite")
    with pytest.raises(ModelError, match="not found"):
        EmotionModel("")


def test_corrupt_file_is_a_model_error(tmp_path):
    bad = tmp_path / "random.tflite"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ModelError, match="cannot load"):
        LiteModel(str(bad))
    empty = tmp_path / "empty.tflite"
    empty.write_bytes(b"")
    with pytest.raises(ModelError):
        EmotionModel(str(empty))


def test_wrong_input_shape_is_a_model_error():
    with pytest.raises(ModelError, match="input shapes .* do not match"):
        EmotionModel(OTHER_MODEL)


# ai_edge_litert 2.3's Delegate.__del__ raises on a half-built delegate ("Exception ignored in
# Delegate.__del__", printed, harmless); pytest turns that into a warning, which is not what these tests are about.
UNLOADABLE = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@UNLOADABLE
@pytest.mark.parametrize("library", ["/nonexistent/libdelegate.so", _libm()])
def test_unloadable_external_delegate_falls_back_when_allowed(library):
    logged = []
    model = LiteModel(OTHER_MODEL, ModelOptions(f"external:{library}", delegate_fallback=True, log=logged.append))
    try:
        assert model.fell_back and model.delegate == "xnnpack"
        assert library in model.fallback_reason
        assert any("falling back to XNNPACK" in line for line in logged)
        assert "(fallback)" in model.describe()
        inp = model.inputs[0]
        out = model.run({inp.index: np.zeros(inp.shape, np.float32)})  # it runs
        assert all(np.isfinite(v).all() for v in out.values())
    finally:
        model.close()


@UNLOADABLE
@pytest.mark.parametrize("library", ["/nonexistent/libdelegate.so", _libm()])
def test_unloadable_external_delegate_fails_without_fallback(library):
    with pytest.raises(ModelError, match="delegate_fallback is false"):
        LiteModel(OTHER_MODEL, ModelOptions(f"external:{library}", delegate_fallback=False))


def test_bad_delegate_spec_is_a_model_error():
    with pytest.raises(ModelError, match="unknown delegate"):
        LiteModel(OTHER_MODEL, ModelOptions("tpu-please"))
    with pytest.raises(ModelError, match="needs a library path"):
        LiteModel(OTHER_MODEL, ModelOptions("external:"))


def test_released_interpreter_refuses_to_run():
    model = LiteModel(OTHER_MODEL)
    inp = model.inputs[0]
    model.close()
    with pytest.raises(ModelError, match="released"):
        model.run({inp.index: np.zeros(inp.shape, np.float32)})


@pytest.mark.parametrize("path", [OTHER_MODEL, EMOTION_MODEL], ids=["float input", "int8 input"])
def test_run_pixels_matches_run_on_the_scaled_image(path):
    model = LiteModel(path)
    inp = model.inputs[0]
    # every 8-bit value, so the int8 input's fast path (the top bit flipped) is checked on all of them
    pixels = np.random.default_rng(1).permutation(np.resize(np.arange(256, dtype=np.uint8), int(np.prod(inp.shape)))).reshape(inp.shape)
    scale, offset = (2.0 / 255.0, -1.0) if not inp.quantized else (1.0 / 255.0, 0.0)
    want = model.run({inp.index: pixels.astype(np.float32) * np.float32(scale) + np.float32(offset)})
    got = model.run_pixels({inp.index: pixels}, scale, offset)
    for index, value in want.items():
        np.testing.assert_allclose(got[index], value, atol=1e-5)
    if inp.quantized:  # the exact tensor, not only outputs close to it
        np.testing.assert_array_equal(model._interpreter.get_tensor(inp.index), quantize(pixels * np.float32(scale), inp))
    with pytest.raises(TypeError, match="uint8"):
        model.run_pixels({inp.index: pixels.astype(np.float32)}, scale)
    model.close()


def _usage():
    gc.collect()
    p = psutil.Process()
    return p.num_fds(), p.memory_info().rss / 2**20


def test_create_close_cycles_do_not_leak():
    path = EMOTION_MODEL if os.path.isfile(EMOTION_MODEL) else OTHER_MODEL

    def cycle():
        m = LiteModel(path, ModelOptions(num_threads=2))
        m.warm_up(1)
        m.close()

    for _ in range(5):  # allocator and thread pools settle
        cycle()
    fds0, rss0 = _usage()
    for _ in range(50):
        cycle()
    fds1, rss1 = _usage()
    assert fds1 - fds0 <= 2, f"file descriptors grew {fds0} -> {fds1} over 50 cycles"
    assert rss1 - rss0 < 25, f"RSS grew {rss1 - rss0:.1f} MB over 50 cycles"


# -- through rclpy ----------------------------------------------------------------------------
def _emotion_node(ros, **params):
    from rclpy.parameter import Parameter

    from sentin_ros.ros.emotion_node import EmotionNode

    node = EmotionNode(context=ros.context, parameter_overrides=[Parameter(k, value=v) for k, v in params.items()])
    ros.add(node)
    return node


def test_emotion_node_bad_model_path_fails_configure(ros, tmp_path):
    bad = tmp_path / "junk.tflite"
    bad.write_bytes(os.urandom(1000))
    node = _emotion_node(ros, model_path=str(bad))
    assert not ros.transition("emotion_node", "configure")
    assert ros.state("emotion_node") == "unconfigured"
    assert node.models is None and "junk.tflite" in node.last_error


def test_emotion_node_wrong_shape_model_fails_configure(ros):
    node = _emotion_node(ros, model_path=OTHER_MODEL)
    assert not ros.transition("emotion_node", "configure")
    assert ros.state("emotion_node") == "unconfigured" and "shapes" in node.last_error


def test_emotion_node_configure_cleanup_cycles_do_not_leak(ros):
    node = _emotion_node(ros, model_path=EMOTION_MODEL)
    for _ in range(3):
        assert ros.transition("emotion_node", "configure") and ros.transition("emotion_node", "cleanup")
    fds0, rss0 = _usage()
    for _ in range(50):
        assert ros.transition("emotion_node", "configure")
        assert node.models is not None
        assert ros.transition("emotion_node", "cleanup")
        assert node.models is None
    fds1, rss1 = _usage()
    assert fds1 - fds0 <= 3, f"file descriptors grew {fds0} -> {fds1} over 50 configure/cleanup cycles"
    assert rss1 - rss0 < 30, f"RSS grew {rss1 - rss0:.1f} MB over 50 configure/cleanup cycles"


def test_emotion_node_parameter_changes_while_active(ros, astronaut_bgr):
    from rclpy.parameter import Parameter
    from std_msgs.msg import Header

    from sentin_ros.core.face_pipeline import FacePipeline
    from sentin_ros.msg import Emotion, FaceArray
    from sentin_ros.ros.convert.faces import frame_to_msg

    node = _emotion_node(ros, model_path=EMOTION_MODEL)
    got = ros.collect(Emotion, "emotion")
    pub = ros.node.create_publisher(FaceArray, "faces", 10)
    assert ros.transition("emotion_node", "configure") and ros.transition("emotion_node", "activate")
    old = node.models["emotion"]
    assert old.runtime.num_threads == 1

    result = node.set_parameters([Parameter("num_threads", value=2)])[0]
    assert result.successful
    new = node.models["emotion"]
    assert new is not old and new.runtime.num_threads == 2  # the interpreter was re-created

    result = node.set_parameters([Parameter("model_path", value="/nonexistent/model.tflite")])[0]
    assert not result.successful and "not found" in result.reason
    assert node.models["emotion"] is new and node.param("model_path") == EMOTION_MODEL

    pipeline = FacePipeline()
    try:
        frame = pipeline.process(astronaut_bgr, 5.0, "bgr8")
    finally:
        pipeline.close()
    header = Header(frame_id="cam")
    header.stamp.sec = 5
    msg = frame_to_msg(frame, header)
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:  # the kept model still serves
        pub.publish(msg)
        time.sleep(0.1)
    assert got and got[0].header.stamp.sec == 5 and abs(sum(got[0].probabilities) - 1) < 1e-3
    assert ros.transition("emotion_node", "deactivate") and ros.transition("emotion_node", "cleanup")
