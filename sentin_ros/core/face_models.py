"""Where the face front end's models live: MediaPipe's BlazeFace, face-landmark and iris models
(Apache-2.0). The detectors are run as the `mediapipe` wheel ships them, found without importing
mediapipe (its import is slow and its graphs are not used); the landmark and iris models run as
derived in models/ (same weights, uint8 input, iris output only: models/face_landmark_u8.md, models/iris_landmark_u8.md)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from ..runtime.paths import share_path

DERIVED = {"landmarks": "face_landmark_u8.tflite", "iris": "iris_landmark_u8.tflite"}

FILES = {
    "near": "face_detection/face_detection_short_range.tflite",
    "far": "face_detection/face_detection_full_range_sparse.tflite",
    "landmarks": "face_landmark/face_landmark.tflite",
    "iris": "iris_landmark/iris_landmark.tflite",
}


def mediapipe_model(kind: str) -> str:
    """Path of the named model in the installed mediapipe wheel ('' when it is not installed)."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        return ""
    return str(Path(list(spec.submodule_search_locations)[0]) / "modules" / FILES[kind])


def front_end_model(kind: str) -> str:
    """The model the front end runs by default for `kind` (near, far, landmarks, iris)."""
    return str(share_path("models", DERIVED[kind])) if kind in DERIVED else mediapipe_model(kind)
