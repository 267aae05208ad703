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
    cal = GazeCalibration(ridge=1e-3, method="affine")  # weak ridge: the default is stronger, for noisy real samples
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
    noisy = GazeCalibration(ridge=1e-3, method="affine")
    p, t = _distorted_samples(DEFAULT_POINTS * 2, noise=0.02, seed=3)
    for pi, ti in zip(p, t):
        noisy.add_sample(pi, ti)
    r = noisy.fit()
    assert 0.003 < r < 0.05
    assert r == pytest.approx(noisy.residual)

    exact = GazeCalibration(ridge=0.0, method="affine")
    p, t = _distorted_samples(DEFAULT_POINTS)
    for pi, ti in zip(p, t):
        exact.add_sample(pi, ti)
    assert exact.fit() < 1e-9


def test_strong_ridge_stays_near_identity():
    cal = GazeCalibration(ridge=100.0, method="affine")
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


# ---- the default method: ridge on the model output and features, penalties by leave-one-out


def _feature_subject(n, seed=0, noise=0.01):
    """A person whose model output keeps only a gain of 0.3 of the vertical target (clipped or
    shrunken), while one of the features (an iris-y like one) still follows it."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.05, 0.95, (n, 2))
    p = np.stack([0.1 + 0.9 * t[:, 0], 0.4 + 0.3 * (t[:, 1] - 0.5)], axis=1) + rng.normal(0, noise, (n, 2))
    f = np.zeros((n, 12))
    f[:, 1] = 2.0 * (t[:, 1] - 0.5) + rng.normal(0, noise * 2, n)
    f[:, 3] = f[:, 1] + rng.normal(0, noise * 2, n)
    f[:, 5:] = rng.normal(0, 0.3, (n, 7))  # features unrelated to the target
    return p, t, f


def test_feature_calibration_recovers_an_axis_the_output_lost():
    train = _feature_subject(25, seed=1)
    test = _feature_subject(200, seed=2)
    cal = GazeCalibration()
    for p, t, f in zip(*train):
        cal.add_sample(p, t, f)
    loo = cal.fit()
    assert cal.calibrated and cal.weights.shape == (2, 12)
    err = np.linalg.norm(cal.apply(test[0], test[2]) - test[1], axis=1).mean()
    affine = GazeCalibration(method="affine")
    for p, t in zip(train[0], train[1]):
        affine.add_sample(p, t)
    affine.fit()
    err_affine = np.linalg.norm(affine.apply(test[0]) - test[1], axis=1).mean()
    assert err < 0.06 and err < 0.5 * err_affine, (err, err_affine)
    # the leave-one-out residual is honest: close to the error on new points, above the in-sample one
    assert cal.fit_residual < loo < 3 * err + 0.02
    assert "leave-one-out" in cal.describe()


def test_more_points_help_and_five_points_stay_sane():
    test = _feature_subject(200, seed=5)
    errs = {}
    for n in (5, 25):
        e = []
        for seed in range(10):
            cal = GazeCalibration()
            for p, t, f in zip(*_feature_subject(n, seed=100 + seed)):
                cal.add_sample(p, t, f)
            cal.fit()
            e.append(np.linalg.norm(cal.apply(test[0], test[2]) - test[1], axis=1).mean())
        errs[n] = float(np.mean(e))
    centre = np.linalg.norm(test[1] - 0.5, axis=1).mean()
    assert errs[25] < errs[5] < centre, (errs, centre)


def test_feature_calibration_needs_features_to_apply_and_round_trips(tmp_path):
    cal = GazeCalibration()
    for p, t, f in zip(*_feature_subject(9, seed=3)):
        cal.add_sample(p, t, f)
    cal.fit()
    if cal.weights.any():
        with pytest.raises(CalibrationError, match="features"):
            cal.apply([0.5, 0.5])
    with pytest.raises(CalibrationError):
        cal.add_sample((0.5, 0.5), (0.5, 0.5), np.zeros(3))  # another length
    path = str(tmp_path / "cal.json")
    cal.save(path)
    back = GazeCalibration.load(path)
    assert back.method == "features" and back.lambdas == cal.lambdas
    assert back.residual == pytest.approx(cal.residual) and back.fit_residual == pytest.approx(cal.fit_residual)
    f = np.random.default_rng(0).normal(0, 0.3, (3, 12))
    np.testing.assert_allclose(back.apply([[0.2, 0.4]] * 3, f), cal.apply([[0.2, 0.4]] * 3, f))


def test_version_1_files_still_load(tmp_path):
    path = tmp_path / "v1.json"
    path.write_text(json.dumps({"format": "sentin_ros.gaze_calibration/1", "ridge": 0.3, "calibrated": True,
                                "matrix": [[1.0, 0.0], [0.0, 1.0]], "offset": [0.1, -0.05], "residual": 0.02,
                                "samples": [{"pred": [0.1, 0.1], "target": [0.2, 0.05]}]}))
    cal = GazeCalibration.load(str(path))
    assert cal.method == "affine" and cal.calibrated
    np.testing.assert_allclose(cal.apply([0.5, 0.5]), [0.6, 0.45])


def test_features_are_clamped_to_the_calibration_range():
    cal = GazeCalibration(selection="min")
    p, t, f = _feature_subject(12, seed=4)
    for pi, ti, fi in zip(p, t, f):
        cal.add_sample(pi, ti, fi)
    cal.fit()
    lo, hi = f.min(axis=0), f.max(axis=0)
    np.testing.assert_allclose(cal.feature_range, [lo, hi], atol=1e-5)
    far = f[0] + 50.0  # a head pose / eye position far outside anything seen while calibrating
    np.testing.assert_allclose(cal.apply(p[0], far), cal.apply(p[0], np.clip(far, lo, hi)), atol=1e-5)
    with pytest.raises(CalibrationError):
        GazeCalibration(selection="best")
