"""The committed emotion model on FER2013 PrivateTest, through the runtime users run.

Fails when the accuracy drops below what the model card claims minus 0.5 points.
"""
import json
import re
from pathlib import Path

import numpy as np
import pytest

from sentin_ros.inference.emotion import CLASSES, EmotionModel
from sentin_ros.inference.model_paths import default_model_path
from test.conftest import SHARED, needs_shared

ROOT = Path(__file__).resolve().parents[1]
METRICS = json.loads((ROOT / "models" / "affective_cnn.metrics.json").read_text())
CLAIMED = METRICS["int8"]["PrivateTest"]["accuracy"]
# (model, metrics, card): the default and the large model kept selectable by model_path (issue 13)
MODELS = {
    "default": (default_model_path("emotion"), "affective_cnn.metrics.json", "affective_cnn_int8.md"),
    "large": (str(ROOT / "models" / "affective_cnn_large_int8.tflite"), "affective_cnn_large.metrics.json", "affective_cnn_large_int8.md"),
}


def _claimed(which: str) -> float:
    return json.loads((ROOT / "models" / MODELS[which][1]).read_text())["int8"]["PrivateTest"]["accuracy"]


@pytest.mark.parametrize("which", MODELS)
def test_card_states_the_measured_accuracy(which):
    card = (ROOT / "models" / MODELS[which][2]).read_text()
    assert f"{100 * _claimed(which):.2f}" in card, "the card and the metrics JSON disagree"
    assert re.search(r"not a (medical|lie)", card, re.I)


def test_the_default_model_is_at_least_the_shipping_bar():
    assert CLAIMED >= 0.71  # issue 13: ship below 72.0 % only from 71.0 %


@needs_shared
@pytest.mark.parametrize("which", MODELS)
def test_private_test_accuracy_holds(which):
    claimed = _claimed(which)
    data = np.load(SHARED / "datasets" / "fer2013.npz", allow_pickle=False)
    private = data["usage"] == 2
    pixels, labels = data["pixels"][private], data["label"][private].astype(int)
    model = EmotionModel(MODELS[which][0])
    try:
        pred = np.array([np.argmax(model.infer(p)[0]) for p in pixels])
    finally:
        model.close()
    accuracy = float((pred == labels).mean())
    assert accuracy >= claimed - 0.005, f"PrivateTest accuracy {accuracy:.4f} < card {claimed:.4f} - 0.5 points"
    assert len(np.unique(pred)) == len(CLASSES)  # every class is predicted somewhere


@pytest.mark.parametrize("shape", [(47, 48), (48, 48, 3)])
def test_wrong_crop_shape_is_refused(shape):
    model = EmotionModel(default_model_path("emotion"))
    with pytest.raises(ValueError, match="48"):
        model.infer(np.zeros(shape, np.uint8))
    model.close()


def test_test_time_mirror_averages_both_views_and_keeps_the_face_s_embedding():
    import cv2
    from skimage import data

    face = cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)[30:230, 130:330], (48, 48))
    model = EmotionModel(default_model_path("emotion"))
    try:
        own, own_emb = model.infer(face)
        flipped, _ = model.infer(np.ascontiguousarray(face[:, ::-1]))
        both, both_emb = model.infer(face, mirror=True)
    finally:
        model.close()
    arch = METRICS["architecture"]
    if not (arch.get("flip_tta_in_model") or arch.get("mirror_in_model")):  # (a model that mirrors inside sees one view)
        assert not np.allclose(own, flipped, atol=1e-3)  # the two views differ, so the average is seen
    expected = (own + flipped) / np.sum(own + flipped)
    assert np.allclose(both, expected, atol=1e-5) and np.isclose(both.sum(), 1.0)
    assert np.array_equal(both_emb, own_emb)


def test_the_default_card_is_rendered_from_its_metrics():
    """Every figure of the card comes from the metrics JSON (small_card): an edit to one alone fails."""
    from training.emotion.small_card import render

    large = json.loads((ROOT / "models" / "affective_cnn_large.metrics.json").read_text())
    assert (ROOT / "models" / "affective_cnn_int8.md").read_text() == render(METRICS, large)
