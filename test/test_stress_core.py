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

from sentin_ros.inference import horizon as hz  # noqa: E402
from sentin_ros.inference import stress as st  # noqa: E402
from sentin_ros.runtime import ModelError  # noqa: E402
from training.stress import contract, steps  # noqa: E402
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
    spike[0, -1] = 1.0  # every driver at full strength, last step only
    assert gen.target_from_drivers(spike)[0] < 0.3
    brief = gen.steady_drivers(np.full(5, 0.15))
    brief[0, -2:] = 1.0  # every driver at full strength for 0.5 s after calm: not HIGH
    assert gen.target_from_drivers(brief)[0] < 0.55
    sustained = gen.steady_drivers(np.full(5, 0.15))
    sustained[0, -6:] = 0.7  # all drivers at 0.7 for 1.5 s: HIGH
    assert gen.target_from_drivers(sustained)[0] > 0.75


def test_horizon_leaves_out_a_partial_oldest_slice():
    h = hz.StepHorizon(4, 1.0)  # 0.25 s slices
    # 0.1 s of the oldest slice (1 frame), then two whole slices
    for t, v in [(0.6, 9.0), (0.75, 1.0), (0.85, 1.0), (1.0, 3.0), (1.1, 3.0)]:
        h.push(1, t, np.array([v]))
    s = h.summary(1)
    assert s.filled.tolist() == [False, False, True, True]  # the 9.0 slice covered 0.1 of 0.25 s
    assert s.steps[:, 0].tolist() == [2.0, 2.0, 1.0, 3.0]  # padding: the mean of the filled slices, without the 9.0
    h.push(2, 0.0, np.array([5.0]))
    for t in (0.05, 0.1, 0.2, 0.25, 0.3):
        h.push(2, t, np.array([1.0]))
    s = h.summary(2)  # the slice ending at 0.05 (frames 0.0 and 0.05) had 0.05 s of history: left out
    assert s.filled.tolist() == [False, False, False, True] and s.steps[:, 0].tolist() == [1.0] * 4


@pytest.mark.parametrize("fps", [30.0, 120.0])
def test_horizon_files_late_frames_as_if_they_had_come_in_order(fps):
    """Frames that arrive a frame late (within max_back_s) give the summary of the same frames in
    stamp order, through the row store's growth and compaction (12 s of frames at 30 and 120 fps)."""
    rng = np.random.default_rng(3)
    stamps = np.arange(int(12 * fps)) / fps
    arrival = stamps.copy()
    arrival[5::7], arrival[6::7] = stamps[6::7], stamps[5::7]  # every seventh pair swapped
    values = {t: rng.normal(size=6).astype(np.float32) for t in stamps}
    weights = {t: float(k % 3) for k, t in enumerate(stamps)}
    late, in_order = hz.StepHorizon(), hz.StepHorizon()
    waiting = []
    for t in arrival:
        late.push(1, t, values[t], weights[t])
        waiting.append(t)
        if t != min(waiting):  # it overtook an older frame: feed both once that one is in
            continue
        for u in sorted(waiting):
            in_order.push(1, u, values[u], weights[u])
        waiting.clear()
        a, b = late.summary(1), in_order.summary(1)
        np.testing.assert_array_equal(a.steps, b.steps)
        assert (a.filled.tolist(), a.frames, a.span_s, a.mean_weight) == (b.filled.tolist(), b.frames, b.span_s, b.mean_weight)
    assert late.count(1) == in_order.count(1) > 100


def test_steps_are_frame_means_as_the_runtime_horizon_makes_them(bank, stats):
    """training/stress/steps.py and sentin_ros/inference/horizon.py summarise frames the same way."""
    rng = np.random.default_rng(4)
    d = gen.steady_drivers(np.full(5, 0.2), n=2)
    for fps in (15.0, 30.0):
        k = steps.frames_per_step(fps)
        p = copy.deepcopy(gen.GeneratorParams())
        p.fps = k / p.step_seconds
        frames = gen.render(rng, steps.upsample(d, k), bank, stats, p).x[0]
        want = steps.to_steps(frames[None], k)[0]
        h = hz.StepHorizon(15, 15 * gen.STEP_SECONDS)
        for i, f in enumerate(frames):
            h.push(1, i / p.fps, f)
        got = h.summary(1)
        assert got.filled.all() and got.frames == len(frames)
        assert np.allclose(got.steps, want, atol=1e-5)
    up = steps.upsample(np.arange(15, dtype=float)[None, :, None], 4)
    assert np.allclose(steps.to_steps(up, 4)[0, 1:-1, 0], np.arange(1, 14))


def test_generator_is_seeded_and_well_formed(bank, stats):
    a = gen.generate(np.random.default_rng(3), 20, bank, stats)
    b = gen.generate(np.random.default_rng(3), 20, bank, stats)
    c = steps.generate_steps(np.random.default_rng(3), 20, bank, stats, scenario="talking")
    assert c[0].shape == (20, gen.FRAMES, gen.FEATURES) and np.all(c[1] < 0.3)  # talking is calm
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
        "retrain: make -C training stress (training/README.md)"
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


def test_talking_is_not_strain(model, bank, stats):
    r = contract.talking(model.predict_batch, bank, stats, n=40)
    assert r["frac_below_0.3"] >= T["talking_below_0.3"], r


def test_sustained_strain_rises_above_0_7_within_2_s(model, bank, stats):
    r = contract.strain_onset(model.predict_batch, bank, stats, n=60)
    assert r["frac_above_0.7_within_2s"] == 1.0, r


def test_a_brief_expression_does_not_reach_high(model, bank, stats):
    r = contract.brief(model.predict_batch, bank, stats, n=60)
    assert r["max"] < T["brief_max"], r


def test_level_is_monotone_in_each_driver(model, bank, stats):
    r = contract.monotone(model.predict_batch, bank, stats, n=32)
    for name in gen.DRIVERS:
        means = r[name]["mean_levels"]
        assert r[name]["mean_monotone"], (name, means)
        assert means[-1] > means[0] + 0.05, (name, means)  # every driver matters


def test_steady_input_gives_a_steady_level(model, bank, stats):
    """Over any 1 s the level moves <= 0.1 on steady calm and strained input. NOT met at mid levels
    (drivers 0.45, level ~0.83, the steep part of the target): there ~95 % of the 1 s spans stay
    within 0.1 and the worst moves ~0.2 (the card's contract table; unfinished, see the card)."""
    r = contract.steady(model.predict_batch, bank, stats, n=8)
    for k in ("calm", "strain"):
        assert r[k]["range_1s_max"] <= T["steady_range_1s"], (k, r[k])
    assert r["frac_1s_within_0.1"] >= 0.9, r
    assert r["mid"]["range_1s_max"] <= 0.3, r["mid"]


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


def test_tracker_waits_for_min_seconds_and_covers_the_horizon():
    fake = FakeModel()
    tr = st.StressTracker(fake, window_seconds=3.75, min_seconds=1.0, max_gap_s=0.5)
    assert tr.step_seconds == pytest.approx(0.25) and tr.min_steps == 2
    ests = [tr.push(1, i / 20, *_frame(0.1)) for i in range(20)]  # 20 fps
    assert all(e is None for e in ests[:15]) and ests[15] is not None  # 0.75 s of history: 4 steps
    est = ests[-1]
    assert est.window_frames == 20 and est.window_seconds == pytest.approx(0.95)
    assert est.confidence == pytest.approx(4 / 15)  # 4 of the 15 steps had frames
    w = fake.windows[-1]
    assert w.shape == (15, 268) and np.allclose(w[:, 0], 0.1)  # left padding: the mean of the seen steps
    for i in range(20, 100):
        est = tr.push(1, i / 20, *_frame(0.5 if i >= 95 else 0.1), emotion_confidence=0.8)
    assert est.window_frames == 75 and est.window_seconds == pytest.approx(3.7)  # 3.75 s at 20 fps
    assert est.confidence == pytest.approx(0.8)
    w = fake.windows[-1]
    assert w[-1, 0] == pytest.approx(0.5) and w[-2, 0] == pytest.approx(0.1)
    assert np.allclose(w[:-2, 0], 0.1)  # each step is the mean of its 5 frames


def test_skipped_low_quality_frames_lower_the_confidence_and_keep_the_history():
    tr = st.StressTracker(FakeModel(), min_seconds=1.0, max_gap_s=0.5)
    for i in range(80):  # 4 s at 20 fps
        tr.push(1, i / 20, *_frame(0.2))
    full = tr.push(1, 4.0, *_frame(0.2))
    assert full.confidence == pytest.approx(1.0)
    for i in range(81, 121):  # 2 s of low-quality frames: no estimate, no restart
        tr.skip(1, i / 20)
    assert tr.frames(1) > 0
    est = tr.push(1, 121 / 20, *_frame(0.2))
    assert est is not None and 0.4 < est.confidence < 0.65  # about 7 of the 15 steps had good frames
    for i in range(122, 200):
        tr.skip(1, i / 20)  # low quality for the whole horizon: nothing left
    assert tr.estimate(1) is None


def test_tracker_states_follow_thresholds():
    tr = st.StressTracker(FakeModel(), min_seconds=0.0, elevated=0.4, high=0.7)
    assert tr.push(1, 0.0, *_frame(0.2)).state == st.LOW
    assert tr.push(2, 0.0, *_frame(0.5)).state == st.ELEVATED
    assert tr.push(3, 0.0, *_frame(0.9)).state == st.HIGH


def test_tracker_tolerates_small_reorders_and_resets_on_a_jump_back_or_gap():
    tr = st.StressTracker(FakeModel(), min_seconds=0.5, max_gap_s=0.5, max_back_s=0.25)
    for i in range(20):
        tr.push(1, i / 20, *_frame(0.3))
        tr.push(2, i / 20, *_frame(0.3))
        tr.push(3, i / 20, *_frame(0.3))
    assert tr.frames(1) == 20
    est = tr.push(1, 0.9 - 0.01, *_frame(0.3))  # 0.06 s older than the newest: filed, no restart
    assert est is not None and tr.frames(1) == 21 and est.stamp == pytest.approx(0.95)
    assert tr.push(1, 5.0, *_frame(0.3)) is None  # gap > max_gap_s: starts over
    assert tr.frames(1) == 1
    assert tr.push(2, 0.0, *_frame(0.3)) is None  # a real jump back: starts over
    assert tr.frames(2) == 1
    tr.reset(3)
    assert tr.frames(3) == 0
    tr.push(3, 0.3, *_frame(0.3))
    tr.forget([3])
    assert 3 not in tr.face_ids
    assert tr.prune([2]) == [1] and tr.face_ids == [2]
    assert tr.forget_stale(10.0) == [2]


def test_tracker_rejects_bad_input():
    tr = st.StressTracker(FakeModel(), min_seconds=0.0)
    with pytest.raises(ValueError):
        tr.push(1, 0.0, np.zeros(128), np.zeros(12))
    emb, geo = _frame(0.3)
    geo[0] = np.nan
    with pytest.raises(ValueError, match="not finite"):  # skipped (the node counts it as bad input)
        tr.push(1, 0.0, emb, geo)
    assert tr.frames(1) == 0
    with pytest.raises(ValueError):
        st.StressTracker(FakeModel(), window_seconds=2.0, min_seconds=3.0)
    with pytest.raises(ValueError):
        st.StressTracker(FakeModel(), elevated=0.8, high=0.7)


def test_tracker_with_the_real_model_matches_the_step_summary(model, bank, stats):
    p = copy.deepcopy(gen.GeneratorParams())
    p.fps = 24.0
    frames = gen.render(np.random.default_rng(5), steps.upsample(gen.steady_drivers(np.full(5, 0.3)), 6), bank, stats, p).x[0]
    tr = st.StressTracker(model, min_seconds=1.0)
    est = None
    for i in range(48):  # 2 s at 24 fps: 8 steps, the 7 older ones left-padded
        est = tr.push(7, i / 24, frames[i, :256], frames[i, 256:])
    s8 = steps.to_steps(frames[None, :48], 6)[0]
    padded = np.concatenate([np.repeat(s8.mean(0, keepdims=True), 7, 0), s8])
    assert est.level == pytest.approx(model.predict(padded), abs=1e-6)
    assert 0.0 <= est.level <= 1.0 and est.window_frames == 48


@pytest.mark.parametrize("level", [0.3, 0.45])
def test_level_does_not_jump_while_the_horizon_fills(model, bank, stats, level):
    """From the first estimate (1 s of history, 11-12 of the 15 steps padded) the level follows
    steady input frame by frame. Copying the oldest step into the padding let it jump by ~0.3 at the
    step rate; padding with the mean of the seen steps (horizon and training alike) keeps it near 0.05."""
    p = copy.deepcopy(gen.GeneratorParams())
    p.embedding.run_mean, p.embedding.redraw_tv = 1e9, 2.0
    p.geometry.look_prob = p.geometry.talk_prob = 0.0
    p.fps = 24.0
    for seed in range(3):
        x = gen.render(np.random.default_rng(seed), steps.upsample(gen.steady_drivers(np.full(5, level), frames=16), 6), bank, stats, p).x[0]
        tr = st.StressTracker(model, min_seconds=1.0)
        levels = np.array([e.level for i in range(len(x)) if (e := tr.push(1, i / 24, x[i, :256], x[i, 256:])) is not None])
        assert len(levels) >= 48
        assert np.abs(np.diff(levels[:72])).max() <= 0.1, (seed, np.round(levels[:72], 2))


def test_steady_stream_through_the_tracker(model, bank, stats):
    p = copy.deepcopy(gen.GeneratorParams())
    p.embedding.run_mean, p.embedding.redraw_tv = 1e9, 2.0
    p.geometry.look_prob = p.geometry.talk_prob = 0.0
    p.fps = 24.0
    x = gen.render(np.random.default_rng(6), steps.upsample(gen.steady_drivers(np.full(5, 0.05), frames=28), 6), bank, stats, p).x[0]
    tr = st.StressTracker(model, min_seconds=3.75)
    levels = [e.level for i in range(len(x)) if (e := tr.push(1, i / 24, x[i, :256], x[i, 256:])) is not None]
    assert len(levels) == len(x) - 84  # from 3.5 s of history: the 15th step has its first frame
    assert max(levels) < T["calm_max"]
    levels = np.array(levels)
    assert (levels[24:] - levels[:-24]).__abs__().max() <= T["steady_range_1s"]  # over any 1 s
