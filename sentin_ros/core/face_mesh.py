"""MediaPipe FaceMesh (478 landmarks with iris) and BlazeFace detection scores, created once."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .landmarks import NUM_LANDMARKS


@dataclass
class FaceMeshConfig:
    max_faces: int = 4
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    # Run the BlazeFace detector every N frames (and on frames with a new face) to give each
    # face a detection score; FaceMesh itself exposes none. 0 disables it (score = NaN).
    score_interval: int = 10
    # 0: short-range model (faces within ~2 m), 1: full-range model (~5 m).
    detector_model: int = 0


@dataclass
class Detection:
    box: tuple[float, float, float, float]  # normalized xmin, ymin, xmax, ymax
    score: float


class FaceMesh:
    """Wraps mediapipe.solutions.face_mesh; `process` takes an RGB uint8 image."""

    def __init__(self, config: FaceMeshConfig | None = None):
        import mediapipe as mp  # imported here: heavy, and only needed once a mesh is built

        self.config = config or FaceMeshConfig()
        if not 1 <= self.config.max_faces <= 32:
            raise ValueError(f"max_faces must be in [1, 32], got {self.config.max_faces}")
        for name in ("min_detection_confidence", "min_tracking_confidence"):
            value = getattr(self.config, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=False,
            max_num_faces=self.config.max_faces,
            refine_landmarks=True,
            min_detection_confidence=self.config.min_detection_confidence,
            min_tracking_confidence=self.config.min_tracking_confidence,
        )
        self._detector = None
        if self.config.score_interval > 0:
            self._detector = mp.solutions.face_detection.FaceDetection(
                model_selection=self.config.detector_model,
                min_detection_confidence=0.2,
            )

    def landmarks(self, rgb: np.ndarray) -> list[np.ndarray]:
        """478×3 float32 arrays (normalized x, y and relative z), one per face."""
        result = self._mesh.process(rgb)
        faces = []
        for face in result.multi_face_landmarks or []:
            pts = np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float32)
            if len(pts) == NUM_LANDMARKS:
                faces.append(pts)
        return faces

    def detections(self, rgb: np.ndarray) -> list[Detection]:
        if self._detector is None:
            return []
        result = self._detector.process(rgb)
        out = []
        for det in result.detections or []:
            b = det.location_data.relative_bounding_box
            out.append(Detection((b.xmin, b.ymin, b.xmin + b.width, b.ymin + b.height), float(det.score[0])))
        return out

    def close(self) -> None:
        for solution in (self._mesh, self._detector):
            if solution is not None:
                solution.close()
        self._mesh = None
        self._detector = None
