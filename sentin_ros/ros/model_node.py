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
        self.open_input(FaceArray, self.param("faces_topic"), self.enqueue, output_qos(depth=10), count_lost=True)

    def passes_gate(self, face) -> bool:
        """Whether a Face message passes this node's quality gate (always, without one)."""
        q = self.quality
        return q is None or q.expression_ok(float(face.presence), float(face.size_px), float(face.yaw))

    def faces_of(self, msg, with_crop: bool = True, with_color: bool = False):
        """The FaceArray's faces as core FaceObservations. A malformed one (e.g. a crop of the
        wrong length) or a repeated face_id (only its first face counts: one output per stamp and
        ID, one window step per frame) is counted as bad input, logged (throttled) and skipped;
        one the quality gate rejects is skipped silently (counted in low_quality_faces)."""
        seen: set[int] = set()
        for face in msg.faces:
            if face.face_id in seen:
                self.skip_face(f"face_id {face.face_id} appears more than once in one FaceArray")
                continue
            seen.add(face.face_id)
            try:
                obs = face_from_msg(face, with_crop, with_color)
            except FaceMessageError as exc:
                self.skip_face(str(exc))
                continue
            if self.quality is not None and not self.quality.expression_ok(obs.quality.presence, obs.quality.size_px, obs.yaw):
                self.stats.low_quality += 1
                continue
            yield obs

    def skip_face(self, why: str) -> None:
        """One face of a frame cannot be used (the rest of the frame goes on): counted as bad input."""
        self.stats.bad_input += 1
        self.get_logger().error(f"skipping a face: {why}", throttle_duration_sec=2.0)

    def diagnostic_values(self) -> dict[str, str]:
        values = self.model_diagnostics()
        if self.EXPRESSION:
            values["low_quality_faces"] = str(self.stats.low_quality)
        return values
