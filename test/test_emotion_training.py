"""The teacher's views for the small emotion model's distillation targets (training/emotion/distill.py)."""
import numpy as np
import pytest

from training.emotion.distill import TEACHER_VIEWS, teacher_probs, view

MODEL = "models/affective_cnn_int8.tflite"


def _faces(n=3):
    return (np.random.default_rng(0).random((n, 48, 48)) * 255).astype(np.uint8)


@pytest.mark.parametrize("dx,dy", [(2, 0), (-2, 0), (0, 2), (0, -2)])
def test_a_shifted_view_moves_the_face_and_repeats_the_edge(dx, dy):
    x = _faces()
    v = view(x, dx, dy, 1.0)
    moved = np.roll(x, (dy, dx), axis=(1, 2))
    inner = np.s_[:, max(dy, 0):48 + min(dy, 0), max(dx, 0):48 + min(dx, 0)]
    assert np.array_equal(v[inner], moved[inner])
    if dx > 0:
        assert np.array_equal(v[:, :, 0], x[:, :, 0]) and np.array_equal(v[:, :, 1], x[:, :, 0])
    if dy < 0:
        assert np.array_equal(v[:, -1], x[:, -1]) and np.array_equal(v[:, -2], x[:, -1])


def test_a_zoomed_view_keeps_the_centre_and_magnifies_about_it():
    x = np.zeros((1, 48, 48), np.uint8)
    x[0, 20:28, 20:28] = 200  # an 8-pixel square about the centre
    big, small = view(x, 0, 0, 1.5), view(x, 0, 0, 0.5)
    assert (big[0] > 100).sum() == 12 * 12
    assert (small[0] > 100).sum() == 4 * 4
    assert big[0, 23, 23] == small[0, 23, 23] == 200


def test_the_seven_view_teacher_is_the_mean_of_its_views():
    x = _faces(2)
    views = [teacher_probs(MODEL, view(x, *v), "single") for v in TEACHER_VIEWS["tta7"]]
    avg = teacher_probs(MODEL, x, "tta7")
    assert np.allclose(avg, np.mean(views, axis=0), atol=1e-6)
    assert np.allclose(avg.sum(1), 1.0, atol=5e-3)  # int8 outputs: each view sums to 1 within a step
    assert not np.allclose(views[0], views[1], atol=1e-3)  # the views do differ for the model
