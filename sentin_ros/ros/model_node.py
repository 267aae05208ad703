"""Base of the nodes that read sentin_ros/FaceArray, run LiteRT models and publish one output topic."""
from __future__ import annotations

from ..core.face_pipeline import QualityThresholds
from .base_node import PerceptionNode
from .convert.faces import FaceMessageError, face_from_msg
from .model_owner import ModelOwner
from .qos import output_qos


class ModelNode(ModelOwner, PerceptionNode):
    """Models from ModelOwner; FaceArray in, one output topic out."""

    #: whether the node reads faces' expression (then it skips faces the quality gate rejects)
    EXPRESSION = False

    def __init__(self, node_name: str, **kwargs):
        super().__init__(node_name, **kwargs)
        self.declare_model_parameters()
        self.declare("faces_topic", "faces", "Input FaceArray topic (from the face node).")
        if self.EXPRESSION:
            q = QualityThresholds()
            self.declare("min_presence", q.min_presence, "Faces whose landmark face-presence probability is below this get no output.", (0.0, 1.0))
            self.declare("min_face_size", q.min_size_px, "Faces smaller than this (landmark extent, pixels) get no output: too few pixels for expression.", (0.0, 10000.0))
            self.declare("max_abs_yaw", q.max_abs_yaw, "Faces turned further than this from frontal (degrees) get no output.", (0.0, 180.0))
        self.quality: QualityThresholds | None = None
        self._pub = None
        self._faces_sub = None

    def configure_models(self) -> None:
        super().configure_models()
        if self.EXPRESSION:
            self.quality = QualityThresholds(float(self.param("min_presence")), float(self.param("min_face_size")), float(self.param("max_abs_yaw")))

    def open_output(self, msg_type, topic: str) -> None:
        self._pub = self.create_lifecycle_publisher(msg_type, topic, output_qos())

    def release_state(self) -> None:
        """Drop per-face state (windows, smoothers); called by release_core."""

    def release_core(self) -> None:
        self.release_models()
        if self._pub is not None:
            self.destroy_lifecycle_publisher(self._pub)
            self._pub = None
        self.release_state()

    def activate_io(self) -> None:
        from sentin_ros.msg import FaceArray

        # Depth 10, not 1: stale frames are dropped (and counted) by the newest-only worker slot
        # rather than silently inside DDS, so diagnostics see every drop.
        self._faces_sub = self.create_subscription(FaceArray, self.param("faces_topic"), self.enqueue, output_qos(depth=10))

    def deactivate_io(self) -> None:
        if self._faces_sub is not None:
            self.destroy_subscription(self._faces_sub)
            self._faces_sub = None

    def faces_of(self, msg, with_crop: bool = True, with_color: bool = False):
        """The FaceArray's faces as core FaceObservations; a malformed one is logged (throttled)
        and skipped, and so (silently, counted) is one the quality gate rejects."""
        for face in msg.faces:
            try:
                obs = face_from_msg(face, with_crop, with_color)
            except FaceMessageError as exc:
                self.get_logger().error(f"{exc}; skipped", throttle_duration_sec=2.0)
                continue
            if self.quality is not None and not self.quality.expression_ok(obs.quality.presence, obs.quality.size_px, obs.yaw):
                self.stats.low_quality += 1
                continue
            yield obs

    def diagnostic_values(self) -> dict[str, str]:
        values = self.model_diagnostics()
        if self.EXPRESSION:
            values["low_quality_faces"] = str(self.stats.low_quality)
        return values
