"""The one-process composition (what `sentin-ros run` and the demo use) through real rclpy.

The scenario of test_launch.py, in CI: the pipeline comes up from the YAML, every node reaches
active, a generated clip through the source node yields Emotion, Stress and Gaze for the same
stamps and face IDs as the faces, deactivating the emotion node stops only its output,
diagnostics report rates and processing times, and the debug image is drawn only while
someone subscribes. Every committed node must come up: nothing is skipped.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from sentin_ros.media.synthetic import write_clip
from sentin_ros.msg import Emotion, FaceArray, Gaze, Stress
from sentin_ros.ros.composition import Composition, CompositionConfig
from sentin_ros.ros.convert.images import array_to_image
from sentin_ros.ros.qos import output_qos
from test.ros_harness import RosHarness

ROOT = Path(__file__).resolve().parents[1]
FRAMES = 24
NS = f"ct{os.getpid()}"  # a namespace of its own: other graphs on this machine stay out
TOPICS = {"faces": FaceArray, "emotion": Emotion, "stress": Stress, "gaze": Gaze}


def _key(msg):
    return (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.face_id)


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("composition")
    clip = write_clip(str(tmp / "clip.mp4"), n_frames=FRAMES, leave=False)
    params = tmp / "params.yaml"  # the shipped file plus one non-default value, to see the YAML applied
    params.write_text((ROOT / "config" / "sentin.yaml").read_text() + "\n/**/face_node:\n  ros__parameters:\n    max_faces: 2\n")
    ros = RosHarness()
    config = CompositionConfig(
        params_file=str(params), namespace=NS, source=clip, lockstep=True, debug_image=True,
        overrides={
            "*": {"diagnostics_period": 0.2},
            "source": {"as_fast_as_possible": True, "stamp_source": "video"},  # stamps 1/15 s apart however slow the machine
            # a short clip: output from the 4th frame of a face (0.2 s + one 0.25 s step); a loaded CI
            # machine's first embeddings can take longer than the default 0.2 s wait
            "stress": {"min_seconds": 0.45, "embedding_wait": 1.0},
        },
    )
    comp = Composition(config, context=ros.context, log=lambda text: print(f"[composition] {text}"))
    got = {name: [] for name in (*TOPICS, "diagnostics")}
    subs = [ros.node.create_subscription(t, f"/{NS}/{name}", got[name].append, output_qos(500)) for name, t in TOPICS.items()]
    ros.node.create_subscription(DiagnosticArray, "/diagnostics", got["diagnostics"].append, 100)
    try:
        comp.start(hold_source=True)
        running = [name for name in TOPICS if name == "faces" or name in comp.nodes]
        assert ros.wait_for(lambda: all(s.get_publisher_count() > 0 for n, s in zip(TOPICS, subs) if n in running), 15.0)
        comp.activate_source()
        assert comp.wait_finished(60.0), "the source did not finish"
        assert ros.wait_for(lambda: len(got["faces"]) >= FRAMES, 15.0)
        yield SimpleNamespace(ros=ros, comp=comp, got=got, clip=clip, debug_subscribed_before=False)
    finally:
        comp.shutdown()
        ros.close()


def _publish_frames(pipe, image, n: int, period: float = 0.06) -> set[tuple[int, int]]:
    """Publish `image` n times with the harness clock's stamps, each once the face node has taken
    the previous one (so a loaded machine does not drop frames); returns the stamps."""
    face = pipe.comp.nodes["face"]
    pub = pipe.ros.publisher(Image, f"/{NS}/image")
    pipe.ros.wait_for(lambda: pub.get_subscription_count() > 0, 3.0)
    stamps = set()
    for _ in range(n):
        header = Header(frame_id="camera_optical")
        header.stamp = pipe.ros.node.get_clock().now().to_msg()
        stamps.add((header.stamp.sec, header.stamp.nanosec))
        before = face.stats.processed
        pub.publish(array_to_image(image, "bgr8", header))
        pipe.ros.wait_for(lambda b=before: face.stats.processed > b, 2.0)
        time.sleep(period)
    face.wait_idle(3.0)
    return stamps


def _stamp(msg) -> tuple[int, int]:
    return msg.header.stamp.sec, msg.header.stamp.nanosec


def test_comes_up_from_the_yaml_and_every_node_is_active(pipe):
    comp, ros = pipe.comp, pipe.ros
    assert comp.skipped == {}
    assert list(comp.nodes) == ["source", "face", "emotion", "stress", "gaze", "debug_view"]
    for key, node in comp.nodes.items():
        assert ros.state(f"{NS}/{node.get_name()}") == "active", key
    assert comp.nodes["face"].get_parameter("max_faces").value == 2  # from the YAML, in a namespace
    # soft biometrics are opt-in: no node, and no colour crop in the FaceArray
    assert "biometrics" not in comp.nodes and comp.nodes["face"].get_parameter("color_crop").value is False
    assert all(len(f.crop_color) == 0 for m in pipe.got["faces"] for f in m.faces)


def test_clip_yields_outputs_for_the_same_stamps_and_face_ids(pipe):
    faces = pipe.got["faces"]
    assert len(faces) == FRAMES == pipe.comp.nodes["source"].frames_published  # lockstep: every frame
    face_keys = {(m.header.stamp.sec, m.header.stamp.nanosec, f.face_id) for m in faces for f in m.faces}
    assert len(face_keys) >= FRAMES - 2  # the astronaut is in every frame
    assert all(m.header.frame_id == "camera_optical" for m in faces)
    for kind in ("emotion", "stress", "gaze"):
        keys = {_key(m) for m in pipe.got[kind]}
        assert keys, f"no {kind} output"
        assert keys <= face_keys, f"{kind} for a stamp/face the face node did not publish"
        if kind == "emotion":
            assert keys == face_keys  # one Emotion per face and frame


def test_the_emotion_cnn_runs_once_per_face(pipe):
    """With both nodes up, the stress node takes the emotion node's embeddings instead of running
    the CNN again (the graph sets publish_embedding on the emotion node)."""
    stress = pipe.comp.nodes["stress"]
    assert pipe.comp.nodes["emotion"].get_parameter("publish_embedding").value is True
    # (an embedding later than the wait is computed here; later frames then wait as long as the
    # embeddings have been taking)
    assert stress.shared_embeddings >= FRAMES - 6 and stress.own_embeddings <= 3


def test_diagnostics_report_rates_and_processing_times(pipe):
    by_node: dict[str, list[dict]] = {}
    for msg in pipe.got["diagnostics"]:
        for status in msg.status:
            by_node.setdefault(status.name, []).append({kv.key: kv.value for kv in status.values})
    for key in ("source", "face", *[k for k in ("emotion", "stress", "gaze") if k in pipe.comp.nodes]):
        name = f"sentin_ros: /{NS}/{pipe.comp.nodes[key].get_name()}"
        assert name in by_node, f"no /diagnostics from {name}"
        assert any(float(v["input_rate_hz"]) > 0 and float(v["output_rate_hz"]) > 0 for v in by_node[name]), key
        med = [float(v["processing_ms_median"]) for v in by_node[name]]
        assert any(math.isfinite(m) and m > 0 for m in med), key
    source = pipe.comp.diagnostics()["source"]
    assert source["frames_published"] == str(FRAMES) and source["finished"] == "true" and source["source_kind"] == "video"


def test_deactivating_emotion_stops_its_output_and_the_rest_keep_running(pipe, astronaut_bgr):
    ros, got = pipe.ros, pipe.got
    assert ros.transition(f"{NS}/emotion_node", "deactivate")
    try:
        n_faces, n_emotion = len(got["faces"]), len(got["emotion"])
        n_other = {k: len(got[k]) for k in ("stress", "gaze") if k in pipe.comp.nodes}
        _publish_frames(pipe, astronaut_bgr, 30, period=0.06)  # stress needs 1 s of history, gaze 5 frames
        assert ros.wait_for(lambda: len(got["faces"]) >= n_faces + 20, 15.0)
        time.sleep(0.3)
        assert len(got["emotion"]) == n_emotion
        for kind, n in n_other.items():  # stress/gaze need a few frames of history first
            assert ros.wait_for(lambda k=kind, n0=n: len(got[k]) > n0, 3.0), f"{kind} stopped with emotion"
        assert ros.transition(f"{NS}/emotion_node", "activate")
        stamps = _publish_frames(pipe, astronaut_bgr, 4)
        assert ros.wait_for(lambda: len(got["emotion"]) > n_emotion, 15.0)
        assert {_stamp(m) for m in got["emotion"][n_emotion:]} <= stamps
    finally:  # a failed attempt leaves the node active for the retry and the tests after it
        if ros.state(f"{NS}/emotion_node") == "inactive":
            ros.transition(f"{NS}/emotion_node", "activate")


def test_debug_image_only_with_a_subscriber(pipe, astronaut_bgr):
    view = pipe.comp.nodes["debug_view"]
    # The whole clip went by without a subscriber: nothing drawn (a retried run finds the frames
    # of its first attempt, drawn while that one subscribed).
    assert view.rendered == 0 or pipe.debug_subscribed_before
    assert pipe.comp.diagnostics()["debug_view"]["subscribed"] == "false"
    images = []
    pipe.debug_subscribed_before = True
    unsubscribe = pipe.ros.subscribe_removably(Image, f"/{NS}/debug_image", images.append)
    assert pipe.ros.wait_for(lambda: view.drawing, 10.0), "the view did not subscribe to its inputs"
    stamps = _publish_frames(pipe, astronaut_bgr, 6)
    assert pipe.ros.wait_for(lambda: len(images) > 0, 15.0)
    out = images[-1]
    assert (out.width, out.height, out.encoding) == (512, 512, "bgr8")
    assert _stamp(out) in stamps
    unsubscribe()
    assert pipe.ros.wait_for(lambda: not view.drawing, 3.0), "the view kept drawing without a subscriber"
