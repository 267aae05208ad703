"""Biometrics node (opt-in): sentin_ros/FaceArray -> one sentin_ros/Biometrics per good face.

Apparent age and annotated gender presentation from the INT8 soft-biometrics model on the
face node's UTKFace-aligned colour crop (Face.crop_color, sent only while the face node's
`color_crop` parameter is on; the graph builder turns it on when this node runs). Averaged
per track. Faces below the quality thresholds get no output. Not for identification or for
decisions about a person (README, models/soft_biometrics_int8.md).
"""
from __future__ import annotations

from typing import Any

from ..inference.biometrics import GENDER_MIN_AGE, BiometricsModel, BiometricsSmoother
from .convert.outputs import biometrics_fields, biometrics_msg
from .model_node import ModelNode


class BiometricsNode(ModelNode):
    MODEL_PATH_PARAMETERS = {"model_path": "biometrics"}
    EXPRESSION = True  # the face stage's quality gate (min_presence, min_face_size, max_abs_yaw)

    def __init__(self, node_name: str = "biometrics_node", **kwargs):
        super().__init__(node_name, **kwargs)
        self.declare("biometrics_topic", "biometrics", "Output Biometrics topic (one message per good face and frame).")
        self.declare("smoothing_frames", 30, "Per-track averaging: a running mean over the track's first N frames, then an exponential average with an N-frame horizon. 1 = off.", (1, 100000))
        self.declare("gender_min_age", GENDER_MIN_AGE, "Apparent age (years, smoothed) under which gender is withheld: gender_female_probability NaN, gender_estimated false. The model's gender is close to a guess for children (74.7 % on UTKFace ages 0-12). 0 = never withheld.", (0.0, 120.0))
        self._smoother: BiometricsSmoother | None = None
        self.faces_without_crop = 0

    def build_models(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"biometrics": BiometricsModel(params["model_path"], self.model_options(params))}

    def configure_core(self) -> None:
        from sentin_ros.msg import Biometrics

        self.configure_models()
        self._smoother = BiometricsSmoother(int(self.param("smoothing_frames")), float(self.param("gender_min_age")))
        self.open_output(Biometrics, self.param("biometrics_topic"))

    def release_state(self) -> None:
        self._smoother = None

    def process(self, msg) -> None:
        with self.using_models() as models:
            smoother, pub = self._smoother, self._pub
            if models is None or smoother is None or pub is None:
                return
            model = models["biometrics"]
            for face in self.faces_of(msg, with_crop=False, with_color=True):
                if face.crop_color.size == 0:
                    self.faces_without_crop += 1
                    self.get_logger().warning("faces arrive without crop_color: set the face node's color_crop parameter to true", throttle_duration_sec=5.0)
                    continue
                probs, p_female = model.infer(face.crop_color)
                pub.publish(biometrics_msg(msg.header, biometrics_fields(smoother.update(face.face_id, probs, p_female))))
                self.published()
            smoother.retain(f.face_id for f in msg.faces)

    def diagnostic_values(self) -> dict[str, str]:
        return {**super().diagnostic_values(), "faces_without_color_crop": str(self.faces_without_crop)}


def main(args=None) -> None:
    from .runner import run_single

    run_single(BiometricsNode, args)
