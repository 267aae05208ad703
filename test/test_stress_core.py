"""Stress model: generator, target function, INT8 model behaviour contract, StressTracker.

Runs in the runtime venv on a fresh clone: real LiteRT, no TensorFlow, no ../shared, no
training/out. The generated sequences use the committed fixture training/stress/fixtures/
heldout_bank.npz (emotion-model embeddings of held-out FER2013 Training faces the TCN never saw)
and training/stress/geometry_stats.json (measured geometry statistics).
"""
from __future__ import annotations

import copy
import hashlib
import os
import sys

import numpy as np
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

from sentin_ros.inference import stress as st  # noqa: E402
from sentin_ros.runtime import ModelError  # noqa: E402
from training.stress import contract  # noqa: E402
from training.stress import generator as gen  # noqa: E402

MODEL = os.path.join(ROOT, "models", "affective_tcn_int8.tflite")
WRONG = os.path.join(ROOT, "training", "stress", "fixtures", "wrong_shape_1x10x268.tflite")
T = thresholds = contract.THRESHOLDS


@pytest.fixture(scope="module")
def model():
    m = st.StressModel(MODEL)
    yield m
    m.close()


@pytest.fixture(scope="module")
def bank():
    return gen.EmbeddingBank.load(gen.FIXTURE_BANK)


@pytest.fixture(scope="module")
def stats():
    return gen.GeometryStats.load()


# ------------------------------------------------------------------------------ generator / target
def test_names_match_the_face_core():
    from sentin_ros.core import features

    assert gen.GEOMETRY_NAMES == features.GEOMETRY_NAMES
    assert gen.BLINK_EAR == features.BLINK_EAR
    assert st.FEATURES == gen.FEATURES == 268 and st.WINDOW == gen.FRAMES == 15
    assert st.HEAD_MOTION_INDEX == gen.GEOMETRY_NAMES.index("head_motion")


def test_target_is_monotone_and_needs_sustained_strain():
    rng = np.random.default_rng(0)
    d = rng.uniform(0, 1, (200, gen.FRAMES, len(gen.DRIVERS)))
    base = gen.target_from_drivers(d)
    for k in range(len(gen.DRIVERS)):
        for t in (0, 7, 14):
            up = d.copy()
            up[:, t, k] = np.minimum(1.0, up[:, t, k] + 0.2)
            assert np.all(gen.target_from_drivers(up) >= base)
    assert gen.target_from_drivers(gen.steady_drivers(np.zeros(5)))[0] < 0.05
    assert gen.target_from_drivers(gen.steady_drivers(np.full(5, 0.15)))[0] < 0.2
    assert gen.target_from_drivers(gen.steady_drivers(np.ones(5)))[0] > 0.99
    spike = gen.steady_drivers(np.zeros(5))
    spike[0, -1] = 1.0  # every driver at full strength, last frame only
    assert gen.target_from_drivers(spike)[0] < 0.3


def test_generator_is_seeded_and_well_formed(bank, stats):
    a = gen.generate(np.random.default_rng(3), 20, bank, stats)
    b = gen.generate(np.random.default_rng(3), 20, bank, stats)
    assert a[0].shape == (20, gen.FRAMES, gen.FEATURES) and a[0].dtype == np.float32
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert np.all(np.isfinite(a[0])) and np.all((a[1] >= 0) & (a[1] <= 1))
    g = a[0][..., gen.EMBED_DIM:]
    assert set(np.unique(g[..., gen.G["blink"]])) <= {0.0, 1.0}
    assert np.all(g[..., gen.G["head_motion"]] >= 0)


def test_fixture_is_small_and_from_the_emotion_model(bank):
    assert os.path.getsize(gen.FIXTURE_BANK) < 1_100_000
    assert "STAND-IN" not in bank.source, "the fixture must hold the real emotion model's embeddings"
    assert bank.embeddings.shape[1] == 256 and len(np.unique(bank.labels)) == 7


def test_fixture_matches_the_emotion_model_in_the_repo(bank):
    """The TCN and the fixture were built from the embeddings of the emotion model in models/."""
    path = os.path.join(ROOT, "models", "affective_cnn_int8.tflite")
    h = hashlib.sha256(open(path, "rb").read()).hexdigest()[:16]
    assert h in bank.source, (
        f"the stress model was trained on other embeddings ({bank.source}); the emotion model changed: "
        "retrain with .venv-tf-stress/bin/python training/stress/train.py"
    )


# ----------------------------------------------------------------------------------- the model
def test_model_file_and_io(model):
    assert os.path.getsize(MODEL) <= 200 * 1024
    rt = model.runtime
    assert rt.inputs[0].shape == (1, 15, 268) and rt.inputs[0].dtype == np.int8
    assert rt.outputs[0].shape == (1, 1) and rt.outputs[0].dtype == np.int8
    with pytest.raises(ValueError):
        model.predict(np.zeros((14, 268), np.float32))


def test_wrong_or_missing_model_raises():
    with pytest.raises(ModelError):
        st.StressModel(WRONG)
    with pytest.raises(ModelError):
        st.StressModel(os.path.join(ROOT, "models", "no_such_model.tflite"))


def test_prepare_window_standardises_geometry_only():
    x = np.zeros((15, 268), np.float32)
    x[:, :256] = 3.5
    x[:, 256 + st.HEAD_MOTION_INDEX] = 1e6
    p = st.prepare_window(x)
    assert np.all(p[:, :256] == np.float32(3.5 * st.EMBEDDING_SCALE))
    assert np.all(p[:, 256 + st.HEAD_MOTION_INDEX] == st.GEOMETRY_CLIP)
    assert np.allclose(p[:, 256], (0 - st.GEOMETRY_MEAN[0]) / st.GEOMETRY_STD[0])


# ------------------------------------------------------------------------- behaviour contract
def test_calm_neutral_happy_sequences_stay_low(model, bank, stats):
    r = contract.calm(model.predict_batch, bank, stats, n=120)
    assert r["max"] < T["calm_max"], r


def test_sustained_strain_rises_above_0_7_within_15_frames(model, bank, stats):
    r = contract.strain_onset(model.predict_batch, bank, stats, n=60)
    assert r["frac_above_0.7_within_15"] == 1.0, r
    assert r["frac_above_0.7_at_15"] >= 0.95, r


def test_level_is_monotone_in_each_driver(model, bank, stats):
    r = contract.monotone(model.predict_batch, bank, stats, n=32)
    for name in gen.DRIVERS:
        means = r[name]["mean_levels"]
        assert r[name]["mean_monotone"], (name, means)
        assert means[-1] > means[0] + 0.05, (name, means)  # every driver matters


def test_steady_input_gives_a_steady_level(model, bank, stats):
    r = contract.steady(model.predict_batch, bank, stats, n=4)
    assert r["median_abs_delta"] <= T["steady_median_delta"], r
    assert r["p95_abs_delta"] <= T["steady_p95_delta"], r


def test_one_frame_spike_does_not_reach_high(model, bank, stats):
    rng = np.random.default_rng(11)
    d = gen.steady_drivers(np.full(5, 0.05), n=40)
    d[:, -1] = 1.0  # every driver at full strength on the newest frame only
    y = model.predict_batch(gen.render(rng, d, bank, stats).x)
    assert y.max() < 0.7, y.max()


# ------------------------------------------------------------------------------- StressTracker
class FakeModel:
    """Level = mean of the window's first embedding value; records the windows it saw."""

    def __init__(self):
        self.windows = []

    def predict(self, window):
        self.windows.append(window.copy())
        return float(np.clip(window[:, 0].mean(), 0, 1))


def _frame(v: float):
    return np.full(256, v, np.float32), np.full(12, v, np.float32)


def test_tracker_waits_for_min_frames_and_pads_with_the_oldest_frame():
    fake = FakeModel()
    tr = st.StressTracker(fake, min_frames=5, max_gap_s=0.5)
    for i in range(4):
        assert tr.push(1, i * 0.04, *_frame(0.1 * (i + 1))) is None
    est = tr.push(1, 0.16, *_frame(0.5))
    assert est is not None and est.window_frames == 5
    assert est.window_seconds == pytest.approx(0.16)
    w = fake.windows[-1]
    assert w.shape == (15, 268)
    assert np.all(w[:11, 0] == np.float32(0.1)) and w[-1, 0] == np.float32(0.5)
    assert est.confidence == pytest.approx(5 / 15)
    for i in range(5, 20):
        est = tr.push(1, i * 0.04, *_frame(0.5), emotion_confidence=0.8)
    assert est.window_frames == 15 and est.window_seconds == pytest.approx(14 * 0.04)
    assert est.confidence == pytest.approx(0.8)


def test_tracker_states_follow_thresholds():
    tr = st.StressTracker(FakeModel(), min_frames=1, elevated=0.4, high=0.7)
    assert tr.push(1, 0.0, *_frame(0.2)).state == st.LOW
    assert tr.push(2, 0.0, *_frame(0.5)).state == st.ELEVATED
    assert tr.push(3, 0.0, *_frame(0.9)).state == st.HIGH


def test_tracker_resets_on_gap_reset_forget_and_prune():
    tr = st.StressTracker(FakeModel(), min_frames=3, max_gap_s=0.5)
    for i in range(5):
        tr.push(1, i * 0.04, *_frame(0.3))
        tr.push(2, i * 0.04, *_frame(0.3))
        tr.push(3, i * 0.04, *_frame(0.3))
    assert tr.frames(1) == 5
    assert tr.push(1, 5.0, *_frame(0.3)) is None  # gap > max_gap_s: starts over
    assert tr.frames(1) == 1
    assert tr.push(2, 0.16 - 0.017, *_frame(0.3)) is not None and tr.frames(2) == 6  # stamp jitter back: kept
    assert tr.push(2, -1.0, *_frame(0.3)) is None  # a jump back of more than max_gap_s: starts over
    tr.reset(3)
    assert tr.frames(3) == 0
    tr.push(3, 0.3, *_frame(0.3))
    tr.forget([3])
    assert 3 not in tr.face_ids
    assert tr.prune([2]) == [1] and tr.face_ids == [2]


def test_tracker_rejects_bad_input():
    tr = st.StressTracker(FakeModel(), min_frames=1)
    with pytest.raises(ValueError):
        tr.push(1, 0.0, np.zeros(128), np.zeros(12))
    emb, geo = _frame(0.3)
    geo[0] = np.nan
    with pytest.raises(ValueError, match="not finite"):  # skipped (the node counts it as bad input)
        tr.push(1, 0.0, emb, geo)
    assert tr.frames(1) == 0
    with pytest.raises(ValueError):
        st.StressTracker(FakeModel(), min_frames=0)
    with pytest.raises(ValueError):
        st.StressTracker(FakeModel(), elevated=0.8, high=0.7)


def test_tracker_with_the_real_model_matches_a_padded_window(model, bank, stats):
    x = gen.render(np.random.default_rng(5), gen.steady_drivers(np.full(5, 0.3)), bank, stats).x[0]
    tr = st.StressTracker(model, min_frames=8)
    est = None
    for i in range(10):
        est = tr.push(7, i / 25, x[i, :256], x[i, 256:])
    padded = np.concatenate([np.repeat(x[:1], 5, 0), x[:10]])
    assert est.level == pytest.approx(model.predict(padded))
    assert 0.0 <= est.level <= 1.0 and est.window_frames == 10


def test_steady_stream_through_the_tracker(model, bank, stats):
    p = copy.deepcopy(gen.GeneratorParams())
    p.embedding.run_mean, p.embedding.redraw_tv = 1e9, 2.0
    x = gen.render(np.random.default_rng(6), gen.steady_drivers(np.full(5, 0.05), frames=45), bank, stats, p).x[0]
    tr = st.StressTracker(model, min_frames=15)
    levels = [e.level for i in range(45) if (e := tr.push(1, i / 25, x[i, :256], x[i, 256:])) is not None]
    assert len(levels) == 31
    assert max(levels) < T["calm_max"]
    assert np.median(np.abs(np.diff(levels))) <= T["steady_median_delta"]
