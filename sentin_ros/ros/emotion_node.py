"""Emotion node: sentin_ros/FaceArray -> one sentin_ros/Emotion per face (INT8 CNN on the crop)."""
from __future__ import annotations

from typing import Any

from ..inference.emotion import EmotionModel, ProbabilitySmoother, interpret
from .convert.outputs import emotion_fields, emotion_msg
from .model_node import ModelNode


class EmotionNode(ModelNode):
    MODEL_PATH_PARAMETERS = {"model_path": "emotion"}
    EXPRESSION = True

    def __init__(self, node_name: str = "emotion_node", **kwargs):
        super().__init__(node_name, **kwargs)
        self.declare("emotion_topic", "emotion", "Output Emotion topic (one message per face and frame).")
        self.declare("min_confidence", 0.4, "Top-class probability below which the label is 'uncertain'.", (0.0, 1.0))
        self.declare("smoothing", 0.0, "Per-face exponential smoothing of the probabilities: 0 = off, 0.9 = heavy.", (0.0, 0.99))
        self.declare("test_time_mirror", False, "Average the probabilities of the face and its mirror image: two CNN runs a face (the model card says what it gains; a model that mirrors inside, as the large one does, gains nothing).")
        self.declare("publish_embedding", True, "Fill Emotion.embedding with the 256-d CNN features (the stress node uses them instead of running the CNN again; 1 KB a face).")
        self._smoother: ProbabilitySmoother | None = None

    def build_models(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"emotion": EmotionModel(params["model_path"], self.model_options(params))}

    def configure_core(self) -> None:
        from sentin_ros.msg import Emotion

        self.configure_models()
        self._smoother = ProbabilitySmoother(1.0 - float(self.param("smoothing")))
        self.open_output(Emotion, self.param("emotion_topic"))

    def release_state(self) -> None:
        self._smoother = None

    def process(self, msg) -> None:
        with self.using_models() as models:
            smoother, pub = self._smoother, self._pub
            if models is None or smoother is None or pub is None:
                return
            model = models["emotion"]
            min_conf = float(self.param("min_confidence"))
            with_embedding, mirror = bool(self.param("publish_embedding")), bool(self.param("test_time_mirror"))
            for face in self.faces_of(msg):
                probs, embedding = model.infer(face.crop, mirror)
                result = interpret(smoother.update(face.face_id, probs), embedding, min_conf)
                pub.publish(emotion_msg(msg.header, emotion_fields(face.face_id, result, face.roi, with_embedding)))
                self.published()
            smoother.retain(f.face_id for f in msg.faces)


def main(args=None) -> None:
    from .runner import run_single

    run_single(EmotionNode, args)
