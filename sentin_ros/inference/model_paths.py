"""Where the committed models live: share/sentin_ros/models in a ROS install, models/ in a checkout."""
from __future__ import annotations

from pathlib import Path

from ..runtime.paths import share_path

MODELS = {
    "emotion": "affective_cnn_int8.tflite",
    "stress": "affective_tcn_int8.tflite",
    "gaze": "gaze_hybrid_int8.tflite",
    "biometrics": "soft_biometrics_int8.tflite",
}


def models_dir() -> Path:
    return share_path("models")


def default_model_path(kind: str) -> str:
    return str(models_dir() / MODELS[kind])
