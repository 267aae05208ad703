"""Per-user gaze calibration (sentin_ros.inference.gaze_calibration), ROS-free."""
import json

import numpy as np
import pytest

from sentin_ros.inference.gaze_calibration import DEFAULT_POINTS, CalibrationError, GazeCalibration

A_TRUE = np.array([[1.12, 0.06], [-0.04, 0.9]])
B_TRUE = np.array([-0.05, 0.08])


def _distorted_samples(points, noise=0.0, seed=0):
    """The model's predictions p for targets t under a known distortion t = A p + b."""
    rng = np.random.default_rng(seed)
    t = np.asarray(points, float)
    p = np.linalg.solve(A_TRUE, (t - B_TRUE).T).T
    return p + rng.normal(0, noise, p.shape), t


def test_fit_recovers_a_known_affine_distortion():
    cal = GazeCalibration(ridge=1e-3)  # weak ridge: the default is stronger, for noisy real samples
    assert not cal.calibrated
    p, t = _distorted_samples(DEFAULT_POINTS)
    for pi, ti in zip(p, t):
        cal.add_sample(pi, ti)
    assert cal.num_samples == 5
    residual = cal.fit()
    assert cal.calibrated
    # a weak ridge toward the identity shrinks very little
    assert residual < 0.01
    np.testing.assert_allclose(cal.matrix, A_TRUE, atol=0.02)
    np.testing.assert_allclose(cal.offset, B_TRUE, atol=0.02)
    # points never used in the fit are corrected too
    grid = np.random.default_rng(1).uniform(0, 1, (50, 2))
    pg, tg = _distorted_samples(grid)
    assert np.max(np.linalg.norm(cal.apply(pg) - tg, axis=1)) < 0.02
    # and a single point keeps its shape
    assert cal.apply(pg[0]).shape == (2,)


def test_residual_reports_noise_and_exact_fit_without_ridge():
    noisy = GazeCalibration(ridge=1e-3)
    p, t = _distorted_samples(DEFAULT_POINTS * 2, noise=0.02, seed=3)
    for pi, ti in zip(p, t):
        noisy.add_sample(pi, ti)
    r = noisy.fit()
    assert 0.003 < r < 0.05
    assert r == pytest.approx(noisy.residual)

    exact = GazeCalibration(ridge=0.0)
    p, t = _distorted_samples(DEFAULT_POINTS)
    for pi, ti in zip(p, t):
        exact.add_sample(pi, ti)
    assert exact.fit() < 1e-9


def test_strong_ridge_stays_near_identity():
    cal = GazeCalibration(ridge=100.0)
    p, t = _distorted_samples(DEFAULT_POINTS)
    for pi, ti in zip(p, t):
        cal.add_sample(pi, ti)
    cal.fit()
    np.testing.assert_allclose(cal.matrix, np.eye(2), atol=0.01)


def test_default_ridge_corrects_offsets_fully():
    """Whatever the default ridge, a pure offset (the main per-user error) is removed exactly."""
    cal = GazeCalibration()
    for t in DEFAULT_POINTS:
        cal.add_sample(np.asarray(t) - (0.07, -0.04), t)
    assert cal.fit() < 1e-9
    np.testing.assert_allclose(cal.apply([0.3, 0.6]), [0.37, 0.56])


def test_uncalibrated_apply_is_identity_and_reset_clears():
    cal = GazeCalibration()
    np.testing.assert_array_equal(cal.apply([0.3, 0.7]), [0.3, 0.7])
    p, t = _distorted_samples(DEFAULT_POINTS)
    for pi, ti in zip(p, t):
        cal.add_sample(pi, ti)
    cal.fit()
    assert not np.allclose(cal.apply([0.3, 0.7]), [0.3, 0.7])
    cal.reset()
    assert not cal.calibrated and cal.num_samples == 0 and np.isnan(cal.residual)
    np.testing.assert_array_equal(cal.apply([0.3, 0.7]), [0.3, 0.7])


def test_too_few_samples_is_a_clear_error():
    cal = GazeCalibration()
    cal.add_sample((0.1, 0.1), (0.1, 0.1))
    cal.add_sample((0.9, 0.9), (0.9, 0.9))
    with pytest.raises(CalibrationError, match="at least 3 samples, got 2"):
        cal.fit()
    assert not cal.calibrated
    with pytest.raises(CalibrationError):
        cal.add_sample((0.1, float("nan")), (0.1, 0.1))
    with pytest.raises(CalibrationError):
        cal.add_sample((0.1, 0.2, 0.3), (0.1, 0.1))


def test_save_load_round_trip(tmp_path):
    cal = GazeCalibration()
    p, t = _distorted_samples(DEFAULT_POINTS, noise=0.01)
    for pi, ti in zip(p, t):
        cal.add_sample(pi, ti)
    residual = cal.fit()
    path = str(tmp_path / "user" / "gaze_calibration.json")
    cal.save(path)
    data = json.load(open(path))
    assert data["calibrated"] is True and len(data["samples"]) == 5
    back = GazeCalibration.load(path)
    assert back.calibrated and back.num_samples == 5
    assert back.residual == pytest.approx(residual)
    np.testing.assert_allclose(back.apply([[0.2, 0.4], [0.8, 0.1]]), cal.apply([[0.2, 0.4], [0.8, 0.1]]))
    # an uncalibrated state round-trips too
    GazeCalibration().save(path)
    assert not GazeCalibration.load(path).calibrated


def test_load_rejects_bad_files(tmp_path):
    with pytest.raises(CalibrationError, match="cannot load"):
        GazeCalibration.load(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    with pytest.raises(CalibrationError, match="not a gaze calibration"):
        GazeCalibration.load(str(bad))
    bad.write_text("{not json")
    with pytest.raises(CalibrationError):
        GazeCalibration.load(str(bad))
