"""`sentin-ros bag eval` on small generated bags: real MediaPipe, LiteRT and rclpy, no mocks.

Every stage runs (the models are committed); a stage is skipped only when not requested.
"""
import json

import numpy as np
import pytest

from sentin_ros.tools import bags
from sentin_ros.tools import eval as ev
from sentin_ros.tools.bags import cli as bag_cli
from test.test_bags import fail, make, tiny_fer_npz


@pytest.fixture(scope="module")
def clip_bag(tmp_path_factory):
    path = tmp_path_factory.mktemp("eval") / "clip"
    # 10 frames of the synthetic clip at 10 Hz; the face is out of view in frames 6 and 7
    assert make(path, "--synthetic", 10, "--rate", 10) == 0
    return path


@pytest.fixture(scope="module")
def labelled_bag(tmp_path_factory):
    d = tmp_path_factory.mktemp("eval_labels")
    npz = tiny_fer_npz(d / "fer.npz")
    assert make(d / "fer", "--npz", npz, "--gap-frames", 1) == 0
    return d / "fer"


@pytest.fixture(scope="module")
def deterministic(clip_bag):
    return ev.evaluate_deterministic(str(clip_bag))


@pytest.fixture(scope="module")
def realtime(clip_bag, tmp_path_factory):
    """One realtime run for the tests below (each run plays the bag on a ROS graph: seconds)."""
    out = tmp_path_factory.mktemp("realtime")
    return ev.evaluate_realtime(str(clip_bag), settle_s=5.0, record_outputs=str(out / "outputs.mcap")), out


def test_deterministic_round_trip_and_report(clip_bag, tmp_path, capsys):
    out = tmp_path / "report"
    assert bag_cli.main(["eval", str(clip_bag), "--deterministic", "--out", str(out), "--quiet"]) == 0
    assert "deterministic: 10/10 frames, 0 dropped" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["frames_processed"] == 10 and report["dropped"] == 0
    assert report["faces_per_frame"][6:8] == [0, 0] and sum(report["faces_per_frame"]) >= 7
    assert report["stages"] == {"emotion": "on", "stress": "on", "gaze": "on"}
    assert report["timings_ms"]["face"]["n"] == 10 and report["resources"]["rss_mb_max"] > 0
    outputs = json.loads((out / "outputs.json").read_text())
    assert len(outputs) == 10 and outputs[0]["stamp_ns"] == int(bags.DEFAULT_START_S * 1e9)
    html = (out / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html and "src=\"http" not in html


def test_deterministic_mode_reproduces_exactly(clip_bag, deterministic):
    again = ev.evaluate_deterministic(str(clip_bag))
    assert again["outputs_json"] == deterministic["outputs_json"]  # byte-identical
    assert again["outputs_sha256"] == deterministic["outputs_sha256"]
    faces = [f for fr in deterministic["frames"] for f in fr["faces"]]
    assert faces and all(f["face_id"] >= 1 and f["roi"][2] > 20 for f in faces)
    assert all(abs(sum(f["emotion"]["probabilities"]) - 1) < 1e-3 for f in faces)


def test_label_topic_aligns_with_outputs(labelled_bag, tmp_path):
    from sentin_ros.tools.eval.report import write_report

    result = ev.evaluate_deterministic(str(labelled_bag))
    labelled = [f for f in result["frames"] if "label" in f]
    assert len(labelled) == 3 and len(result["frames"]) == 6
    for frame in labelled:  # the label is the one stamped like the frame's outputs
        st = frame["label"]["stamp"]
        assert bags.stamp_ns(st["sec"], st["nanosec"]) == frame["stamp_ns"]
    acc = result["accuracy"]
    assert acc["labelled_frames"] == 3 and acc["detector_missed"] <= 1
    assert acc["detected"]["n"] + acc["detector_missed"] == 3
    assert len(acc["detected"]["confusion_matrix"]) == 7
    html = (tmp_path / "report.html").read_text() if write_report(result, tmp_path) else ""
    assert 'alt="confusion_matrix"' in html and "Emotion accuracy" in html


def test_realtime_mode_reports_latency_and_drops(realtime):
    result, tmp_path = realtime
    drops = result["drops"]
    assert drops["images_published"] == 10
    assert result["frames_processed"] + drops["frames_without_output"] == 10
    assert result["dropped"] == drops["frames_without_output"]
    lat = result["latency_ms"]["faces"]
    assert lat["n"] == result["frames_processed"] > 0 and 0 < lat["p50"] <= lat["p99"]
    assert result["node_stats"]["faces"]["received"] >= result["frames_processed"]
    # the listener is another process: every FaceArray the face node published reached it
    assert result["frames_processed"] == result["node_stats"]["faces"]["processed"]
    assert result["stages"] == {"emotion": "on", "stress": "on", "gaze": "on"}
    assert result["latency_ms"]["emotion"]["n"] > 0
    # the outputs went to a bag typed with the sentin_ros messages from msg/*.msg
    info = bags.bag_topics(tmp_path / "outputs")
    assert info["topics"]["/faces"] == "sentin_ros/msg/FaceArray"
    assert info["counts"]["/faces"] == result["frames_processed"]
    from rosbags.rosbag2 import Reader

    store = bags.typestore()
    with Reader(tmp_path / "outputs") as r:
        msgs = [store.deserialize_cdr(raw, c.msgtype) for c, _, raw in r.messages()]
    stamps = {bags.stamp_ns(m.header.stamp.sec, m.header.stamp.nanosec) for m in msgs}
    assert stamps <= {f["stamp_ns"] for f in result["frames"]}


def test_deterministic_outputs_recorded_to_bag(clip_bag, tmp_path):
    result = ev.evaluate_deterministic(str(clip_bag), max_frames=3, record_outputs=str(tmp_path / "o.mcap"))
    counts = bags.bag_topics(tmp_path / "o")["counts"]
    assert counts["/faces"] == 3
    assert counts["/emotion"] == sum(len(f["faces"]) for f in result["frames"])


def test_eval_errors_are_clean(clip_bag, tmp_path, capsys):
    assert "no bag at" in fail(capsys, ["eval", str(tmp_path / "missing"), "--quiet"])
    assert "is not in" in fail(capsys, ["eval", str(clip_bag), "--image-topic", "/camera/nothing", "--realtime", "--quiet"])
    assert "unknown stage" in fail(capsys, ["eval", str(clip_bag), "--stages", "emotion,mood", "--quiet"])


def test_metrics_are_right_on_a_known_case():
    m = ev.classification_metrics([0, 0, 3, 3, 6], [0, 3, 3, 3, 6])
    assert m["accuracy"] == pytest.approx(0.8)
    assert m["per_class"]["angry"]["recall"] == pytest.approx(0.5) and m["per_class"]["angry"]["precision"] == 1.0
    assert m["per_class"]["happy"]["precision"] == pytest.approx(2 / 3)
    assert np.array(m["confusion_matrix"]).sum() == 5 and m["confusion_matrix"][0][3] == 1


def test_both_modes_write_the_same_record_schema(realtime, deterministic):
    from sentin_ros.tools.eval.records import KEYS

    realtime = realtime[0]

    def shape(result):
        """{(level, keys)}; each output part must have exactly its schema keys in either mode."""
        keys = set()
        for frame in result["frames"]:
            keys.add(("frame", tuple(sorted(k for k in frame if k != "faces"))))
            for face in frame["faces"]:
                keys.add(("face", tuple(sorted(k for k in face if k not in KEYS))))
                for part in set(face) & set(KEYS):
                    assert tuple(face[part]) == KEYS[part], (result["mode"], part, face[part])
        return keys

    assert shape(realtime) == shape(deterministic) == {
        ("frame", ("height", "stamp_ns", "width")), ("face", ("face_id", "pitch", "roi", "roll", "score", "yaw"))}
    assert any("emotion" in f for fr in realtime["frames"] for f in fr["faces"])
    assert any("emotion" in f for fr in deterministic["frames"] for f in fr["faces"])


def test_output_tap_in_its_own_process_receives_every_message_in_order():
    import time

    import rclpy
    from std_msgs.msg import Header

    from sentin_ros.ros.qos import output_qos
    from sentin_ros.tools.eval.tap import OutputTap

    ctx = rclpy.Context()
    rclpy.init(context=ctx, args=[], domain_id=231)
    try:
        node = rclpy.create_node("tap_test_publisher", context=ctx)
        pub = node.create_publisher(Header, "/tap_test", output_qos())
        tap = OutputTap({"faces": ("/tap_test", "std_msgs/msg/Header")}, 231)
        deadline = time.monotonic() + 5.0
        while pub.get_subscription_count() < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        sent = []
        for i in range(20):
            sent.append(time.perf_counter())
            pub.publish(Header(frame_id=f"frame {i}"))
            time.sleep(0.005)
        time.sleep(0.3)
        received = tap.stop()["faces"]
    finally:
        rclpy.shutdown(context=ctx)
    assert [m.frame_id for _, m in received] == [f"frame {i}" for i in range(20)]
    # arrival times are on this process's perf_counter clock: after each publish, within a second
    assert all(0 <= t - s < 1.0 for (t, _), s in zip(received, sent))
