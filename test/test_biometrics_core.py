"""Soft biometrics without ROS nodes: the UTKFace-aligned colour crop, the Face message's
crop_color both ways, the per-track smoother, the graph (off by default), and the model card's
figures against the data (when ../shared is there)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from std_msgs.msg import Header

from sentin_ros.core.alignment import UTK_CROP, aligned_color_crop, crop_transform, eye_centres
from sentin_ros.core.face_pipeline import FacePipelineConfig
from sentin_ros.inference.biometrics import AGE_CENTRES, BiometricsSmoother, age_group, age_stats, estimate
from sentin_ros.media.synthetic import astronaut_rgb, place_face
from sentin_ros.ros.convert.faces import FaceMessageError, face_from_msg, frame_to_msg
from sentin_ros.ros.graph import BIOMETRICS, FACE, GraphConfig
from test.conftest import SHARED

ROOT = Path(__file__).resolve().parents[1]
UTK = SHARED / "datasets" / "utkface64.npz"


@pytest.fixture(scope="module")
def colour_faces(face_pipeline_factory, astronaut_bgr):
    return face_pipeline_factory(config=FacePipelineConfig(color_crop=True)).process(astronaut_bgr, 0.0, "bgr8")


def test_colour_crop_puts_the_eyes_where_utkface_has_them(face_pipeline_factory):
    for angle in (0.0, 20.0):
        img = place_face(astronaut_rgb(), (640, 480), (320, 240), 1.0, angle)
        face = face_pipeline_factory(config=FacePipelineConfig(color_crop=True)).process(img, 0.0, "bgr8").faces[0]
        pts = face.landmarks[:, :2] * (640, 480)
        m = crop_transform(pts, UTK_CROP)
        right, left = (m[:, :2] @ p + m[:, 2] for p in eye_centres(pts))
        assert abs(right[1] - left[1]) < 0.5 and right[0] < left[0]
        np.testing.assert_allclose((right + left) / 2, UTK_CROP.eye_mid, atol=0.5)
        assert np.linalg.norm(left - right) == pytest.approx(UTK_CROP.interocular, rel=0.15)
        assert face.crop_color.shape == (64, 64, 3) and face.crop_color.dtype == np.uint8


def test_colour_crop_is_bgr_for_rgb_and_bgr_frames(face_pipeline_factory, astronaut_bgr):
    pipe = face_pipeline_factory(config=FacePipelineConfig(color_crop=True))
    from_bgr = pipe.process(astronaut_bgr, 0.0, "bgr8").faces[0].crop_color
    pipe.reset()
    from_rgb = pipe.process(np.ascontiguousarray(astronaut_bgr[..., ::-1]), 0.0, "rgb8").faces[0].crop_color
    same, swapped = np.abs(from_bgr.astype(int) - from_rgb).mean(), np.abs(from_bgr.astype(int) - from_rgb[..., ::-1]).mean()
    assert same < 6.0 and same < swapped / 2  # (sub-pixel landmark differences between the two runs aside)
    # a large face is area-averaged before the warp: the crop is a smooth copy, not aliased
    big = aligned_color_crop(astronaut_bgr, pipe.process(astronaut_bgr, 1.0, "bgr8").faces[0].landmarks * (512, 512, 512))
    assert big.shape == (64, 64, 3) and big.std() > 10


def test_crop_color_off_by_default_and_both_directions_in_the_message(face_pipeline_factory, astronaut_bgr, colour_faces):
    plain = face_pipeline_factory().process(astronaut_bgr, 0.0, "bgr8")
    assert plain.faces[0].crop_color.size == 0
    msg = frame_to_msg(plain, Header())
    assert len(msg.faces[0].crop_color) == 0  # FaceArray stays small
    assert face_from_msg(msg.faces[0], with_color=True).crop_color.shape == (0, 0, 3)
    msg = frame_to_msg(colour_faces, Header())
    assert len(msg.faces[0].crop_color) == 64 * 64 * 3
    back = face_from_msg(msg.faces[0], with_color=True)
    np.testing.assert_array_equal(back.crop_color, colour_faces.faces[0].crop_color)
    assert face_from_msg(msg.faces[0]).crop_color.size == 0  # only when asked for
    msg.faces[0].crop_color = msg.faces[0].crop_color[:100]
    with pytest.raises(FaceMessageError):
        face_from_msg(msg.faces[0], with_color=True)


def test_crop_color_through_a_rosbags_message(colour_faces):
    from sentin_ros.ros.convert.types import RosbagsTypes
    from sentin_ros.tools.bags import typestore

    store = typestore()
    types = RosbagsTypes(store)
    header = types("std_msgs/msg/Header", stamp=types("builtin_interfaces/msg/Time", sec=1, nanosec=2), frame_id="cam")
    msg = frame_to_msg(colour_faces, header, types)
    raw = store.serialize_cdr(msg, "sentin_ros/msg/FaceArray")
    back = face_from_msg(store.deserialize_cdr(raw, "sentin_ros/msg/FaceArray").faces[0], with_color=True)
    np.testing.assert_array_equal(back.crop_color, colour_faces.faces[0].crop_color)


def test_age_statistics_groups_and_confidence():
    p = np.zeros(len(AGE_CENTRES))
    p[[7, 8]] = 0.5  # 28 and 32 years
    assert age_stats(p) == pytest.approx((30.0, 2.0))
    assert [age_group(a) for a in (5, 15, 25, 40, 70)] == ["child", "teen", "young_adult", "adult", "senior"]
    sure, unsure = estimate(1, p, 0.99, 10), estimate(1, np.full(len(AGE_CENTRES), 1 / len(AGE_CENTRES)), 0.55, 1)
    assert sure.confidence > 0.7 > 0.1 > unsure.confidence


def test_gender_is_withheld_for_apparent_children_only():
    child, adult = np.eye(len(AGE_CENTRES))[2], np.eye(len(AGE_CENTRES))[8]  # 8 and 32 years
    kid = estimate(1, child, 0.95, 5)
    assert not kid.gender_estimated and np.isnan(kid.gender_female_probability)
    grown = estimate(1, adult, 0.95, 5)
    assert grown.gender_estimated and grown.gender_female_probability == pytest.approx(0.95)
    # without the gender margin the confidence is the age part's alone: not lowered by it
    assert kid.confidence == pytest.approx(grown.confidence / 0.9)
    assert estimate(1, child, 0.95, 5, gender_min_age=0.0).gender_estimated
    s = BiometricsSmoother(horizon=4, gender_min_age=40.0)
    assert not s.update(1, adult, 0.9).gender_estimated  # 32 < 40: the node's parameter decides


def test_smoother_averages_per_track_and_forgets_retired_tracks():
    s = BiometricsSmoother(horizon=4)
    young, old = np.eye(len(AGE_CENTRES))[5], np.eye(len(AGE_CENTRES))[15]  # 20 and 60 years
    assert s.update(1, young, 0.9).age == pytest.approx(20.0)
    e = s.update(1, old, 0.1)
    assert e.age == pytest.approx(40.0) and e.gender_female_probability == pytest.approx(0.5) and e.frames == 2
    for _ in range(40):
        e = s.update(1, old, 0.1)
    assert e.age == pytest.approx(60.0, abs=0.1)  # the horizon lets it follow, slowly
    assert s.update(2, young, 0.9).frames == 1  # another track starts on its own
    s.retain([2])
    assert s.update(1, young, 0.9).frames == 1


def test_biometrics_is_off_by_default_and_turns_the_colour_crop_on():
    graph = GraphConfig(params_file=str(ROOT / "config" / "sentin.yaml"))
    sections = graph.sections()
    assert BIOMETRICS not in graph.wanted(sections)
    assert graph.parameters(sections, FACE).get("color_crop") is False
    on = GraphConfig(params_file=str(ROOT / "config" / "sentin.yaml"), models=("face", "emotion", "biometrics"))
    assert BIOMETRICS in on.wanted(sections)
    assert on.parameters(sections, FACE)["color_crop"] is True
    from sentin_ros.cli import build_parser

    args = build_parser().parse_args(["run"])
    assert "biometrics" not in args.models
    assert "biometrics" in build_parser().parse_args(["run", "--models", "face,biometrics"]).models
    launch = (ROOT / "launch" / "sentin.launch.py").read_text()
    assert '("models", "face,emotion,stress,gaze",' in launch and '"biometrics": "biometrics_node"' in launch


@pytest.mark.skipif(not UTK.exists(), reason="needs ../shared/datasets/utkface64.npz beside the checkout (developers' data; not in a fresh clone)")
def test_card_figures_match_the_test_split():
    from training.biometrics.evaluate import evaluate

    metrics = json.loads((ROOT / "models" / "soft_biometrics.metrics.json").read_text())
    got = evaluate(str(ROOT / "models" / "soft_biometrics_int8.tflite"), str(UTK), "test")
    want = metrics["test"]["int8"]
    shown, want_shown = got["published"], metrics["test_published_int8"]
    assert shown["gender_min_age"] == want_shown["gender_min_age"]
    assert shown["coverage"] == pytest.approx(want_shown["coverage"], abs=1e-9)
    assert shown["race_gender_accuracy_gap"]["gap"] == pytest.approx(want_shown["race_gender_accuracy_gap"]["gap"], abs=1e-9)
    assert got["n"] == want["n"]
    assert got["age_mae"] == pytest.approx(want["age_mae"], abs=1e-6)
    assert got["gender_accuracy"] == pytest.approx(want["gender_accuracy"], abs=1e-9)
    for race, g in want["per_race"].items():
        assert got["per_race"][race]["n"] == g["n"]
        assert got["per_race"][race]["gender_accuracy"] == pytest.approx(g["gender_accuracy"], abs=1e-9)
    card = (ROOT / "models" / "soft_biometrics_int8.md").read_text()
    figures = {f"{got['age_mae']:.2f}", f"{100 * got['gender_accuracy']:.2f}",
               *(f"{100 * g['gender_accuracy']:.2f}" for g in got["per_race"].values() if g["n"]),
               *(f"{g['age_mae']:.2f}" for g in got["per_age_group"].values() if g["n"]),
               f"{100 * shown['gender_accuracy']:.2f}", f"{100 * shown['race_gender_accuracy_gap']['gap']:.2f}",
               *(f"{100 * g['gender_accuracy']:.2f}" for g in shown["per_race"].values()),
               *(f"{100 * g['coverage']:.1f}" for g in shown["per_race"].values())}
    missing = sorted(f for f in figures if not re.search(rf"(?<![\d.]){re.escape(f)}(?![\d])", card))
    assert not missing, f"the card does not state {missing}"
