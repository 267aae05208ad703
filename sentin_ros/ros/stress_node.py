"""Stress node: sentin_ros/FaceArray -> sentin_ros/Stress per face once a face has enough history.

It runs its own copy of the emotion CNN for the 256-d embedding (about 0.3 ms a face), so its
output does not depend on the emotion node's lifecycle state or on matching two topics.
What the level means: models/affective_tcn_int8.md (a learned index of visible facial strain, not a
physiological or medical measure).
"""
from __future__ import annotations

from typing import Any

from ..inference.emotion import EmotionModel
from ..inference.stress import StressModel, StressTracker
from ..runtime import NonFiniteInput
from .convert.images import stamp_to_seconds
from .convert.outputs import stress_fields, stress_msg
from .model_node import ModelNode


class StressNode(ModelNode):
    MODEL_PATH_PARAMETERS = {"model_path": "stress", "emotion_model_path": "emotion"}
    EXPRESSION = True

    def __init__(self, node_name: str = "stress_node", **kwargs):
        super().__init__(node_name, **kwargs)
        self.declare("stress_topic", "stress", "Output Stress topic (one message per face and frame, once it has min_frames of history).")
        self.declare("min_frames", 8, "Frames of history before a level is published (the window holds 15).", (1, 15))
        self.declare("max_gap", 0.5, "Seconds without a face after which its window restarts.", (0.01, 60.0))
        self.declare("elevated_threshold", 0.4, "Level at or above which the state is ELEVATED.", (0.0, 1.0))
        self.declare("high_threshold", 0.7, "Level at or above which the state is HIGH.", (0.0, 1.0))
        self.tracker: StressTracker | None = None

    def build_models(self, params: dict[str, Any]) -> dict[str, Any]:
        options = self.model_options(params)
        emotion = EmotionModel(params["emotion_model_path"], options)
        try:
            stress = StressModel(params["model_path"], options)
        except Exception:
            emotion.close()  # never leave half of the pair built
            raise
        return {"emotion": emotion, "stress": stress}

    def models_swapped(self, old, new) -> None:
        if self.tracker is not None:  # a hot swap keeps the per-face windows
            self.tracker.model = new["stress"]

    def configure_core(self) -> None:
        from sentin_ros.msg import Stress

        elevated, high = float(self.param("elevated_threshold")), float(self.param("high_threshold"))
        if not elevated <= high:
            raise ValueError(f"elevated_threshold ({elevated}) must not exceed high_threshold ({high})")
        self.configure_models()
        self.tracker = StressTracker(
            self.models["stress"], min_frames=int(self.param("min_frames")), elevated=elevated, high=high,
            max_gap_s=float(self.param("max_gap")),
        )
        self.open_output(Stress, self.param("stress_topic"))

    def release_state(self) -> None:
        self.tracker = None

    def process(self, msg) -> None:
        with self.using_models() as models:
            tracker, pub = self.tracker, self._pub
            if models is None or tracker is None or pub is None:
                return
            stamp = stamp_to_seconds(msg.header.stamp)
            for face in self.faces_of(msg):
                probs, embedding = models["emotion"].infer(face.crop)
                try:
                    est = tracker.push(face.face_id, stamp, embedding, face.geometry, float(probs.max()))
                except NonFiniteInput as exc:
                    self.skip_face(str(exc))
                    continue
                if est is None:
                    continue
                pub.publish(stress_msg(msg.header, stress_fields(est)))
                self.published()
            # A face unseen for longer than max_gap is gone: its window is dropped (and would restart
            # anyway on its return). A one-frame miss the face tracker bridges keeps the window.
            tracker.forget_stale(stamp)

    def diagnostic_values(self) -> dict[str, str]:
        values = super().diagnostic_values()
        values["faces_tracked"] = str(len(self.tracker.face_ids) if self.tracker is not None else 0)
        return values


def main(args=None) -> None:
    from .runner import run_single

    run_single(StressNode, args)
