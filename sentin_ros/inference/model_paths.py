"""Where the committed models live: share/sentin_ros/models in a ROS install, models/ in a checkout."""
from __future__ import annotations

from pathlib import Path

MODELS = {
    "emotion": "affective_cnn_int8.tflite",
    "stress": "affective_tcn_int8.tflite",
    "gaze": "gaze_hybrid_int8.tflite",
}


def models_dir() -> Path:
    checkout = Path(__file__).resolve().parents[2] / "models"
    if checkout.is_dir():
        return checkout
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("sentin_ros")) / "models"
    except Exception:  # not in a ROS install either: report the checkout path in the error
        return checkout


def default_model_path(kind: str) -> str:
    return str(models_dir() / MODELS[kind])
