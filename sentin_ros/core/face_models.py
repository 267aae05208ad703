"""Where the face front end's models live: MediaPipe's BlazeFace, face-landmark and iris models
(Apache-2.0), shipped inside the `mediapipe` wheel. Found without importing mediapipe (its
import is slow and its graphs are not used)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

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
