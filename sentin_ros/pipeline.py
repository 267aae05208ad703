"""The whole perception pipeline in one process, without ROS: frame -> faces -> emotion,
stress and gaze per face. Used by the demo, the deterministic bag evaluation and the benchmark;
the ROS nodes run the same core pieces one per node.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .core.face_pipeline import FaceObservation, FacePipeline, FacePipelineConfig
from .inference.emotion import EmotionModel, EmotionResult, interpret
from .inference.gaze import GazeEstimate, GazeModel, GazeTracker
from .inference.model_paths import default_model_path
from .inference.stress import StressEstimate, StressModel, StressTracker
from .runtime import ModelOptions


@dataclass
class PipelineConfig:
    face: FacePipelineConfig = field(default_factory=FacePipelineConfig)
    emotion: bool = True
    stress: bool = True
    gaze: bool = True
    emotion_model: str = field(default_factory=lambda: default_model_path("emotion"))
    stress_model: str = field(default_factory=lambda: default_model_path("stress"))
    gaze_model: str = field(default_factory=lambda: default_model_path("gaze"))
    delegate: str = "xnnpack"
    num_threads: int = 1
    min_confidence: float = 0.4
    test_time_mirror: bool = False  # the emotion node's parameter of the same name


@dataclass
class FaceResult:
    face: FaceObservation
    emotion: EmotionResult | None = None
    stress: StressEstimate | None = None
    gaze: GazeEstimate | None = None


@dataclass
class FrameResult:
    stamp: float
    width: int
    height: int
    faces: list[FaceResult]
    retired_ids: list[int]
    timings_ms: dict[str, float]


class PerceptionPipeline:
    def __init__(self, config: PipelineConfig | None = None):
        self.config = c = config or PipelineConfig()
        self.faces = FacePipeline(c.face)
        options = ModelOptions(c.delegate, c.num_threads)
        self.emotion = EmotionModel(c.emotion_model, options) if (c.emotion or c.stress) else None
        self.stress = None
        self.gaze = None
        self._models = [m for m in (self.emotion,) if m is not None]
        if c.stress:
            stress_model = StressModel(c.stress_model, options)
            self._models.append(stress_model)
            self.stress = StressTracker(stress_model)
        if c.gaze:
            gaze_model = GazeModel(c.gaze_model, options)
            self._models.append(gaze_model)
            self.gaze = GazeTracker(gaze_model)

    def process(self, image: np.ndarray, stamp: float, encoding: str = "bgr8") -> FrameResult:
        t0 = time.perf_counter()
        frame = self.faces.process(image, stamp, encoding)
        timings = {"face": (time.perf_counter() - t0) * 1e3, "emotion": 0.0, "stress": 0.0, "gaze": 0.0}
        results = []
        for face in frame.faces:
            r = FaceResult(face)
            if self.emotion is not None:
                t = time.perf_counter()
                probs, emb = self.emotion.infer(face.crop, self.config.test_time_mirror)
                r.emotion = interpret(probs, emb, self.config.min_confidence)
                timings["emotion"] += (time.perf_counter() - t) * 1e3
            if self.stress is not None:
                t = time.perf_counter()
                if face.quality.expression_ok:
                    r.stress = self.stress.push(face.face_id, stamp, r.emotion.embedding, face.geometry, r.emotion.confidence)
                else:  # low quality or not a face (as the stress node's gate): no stress, a missing slice
                    self.stress.skip(face.face_id, stamp)
                timings["stress"] += (time.perf_counter() - t) * 1e3
            if self.gaze is not None:
                t = time.perf_counter()
                r.gaze = self.gaze.push(
                    face.face_id, stamp, face.eye, face.yaw, face.pitch, face.roll, image_size=(frame.width, frame.height),
                    head_position_m=face.head_position if face.head_position[2] > 0 else None,
                    camera_matrix=self.faces.pose.camera_matrix,
                )
                timings["gaze"] += (time.perf_counter() - t) * 1e3
            results.append(r)
        for tracker in (self.stress, self.gaze):
            if tracker is not None:
                tracker.forget_stale(stamp)
        timings["total"] = (time.perf_counter() - t0) * 1e3
        return FrameResult(stamp, frame.width, frame.height, results, frame.retired_ids, timings)

    def close(self) -> None:
        self.faces.close()
        for m in self._models:
            m.close()
