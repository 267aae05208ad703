"""Lifecycle plumbing for nodes that own LiteRT interpreters.

Interpreters are built (and warmed up) in on_configure and released in on_cleanup/on_shutdown.
Changing model_path / delegate / num_threads / delegate_fallback while configured rebuilds them:
the new interpreters are built first and swapped in only if that succeeds; otherwise the
parameter change is rejected with the reason and the old ones keep running.
"""
from __future__ import annotations

import threading
from typing import Any

from rcl_interfaces.msg import SetParametersResult

from ..runtime import ModelError, ModelOptions
from .base_node import PerceptionNode
from .convert.faces import FaceMessageError, face_from_msg
from .qos import output_qos

MODEL_PARAMETERS = ("delegate", "num_threads", "delegate_fallback")


class ModelNode(PerceptionNode):
    """A node that reads sentin_ros/FaceArray, runs LiteRT models and publishes one output topic."""

    #: parameter name -> model kind, e.g. {"model_path": "emotion"}
    MODEL_PATH_PARAMETERS: dict[str, str] = {}

    def __init__(self, node_name: str, **kwargs):
        super().__init__(node_name, **kwargs)
        from ..inference.model_paths import default_model_path

        for param, kind in self.MODEL_PATH_PARAMETERS.items():
            self.declare(param, default_model_path(kind), f"Path of the {kind} .tflite model (default: the package's committed model).")
        self.declare("delegate", "xnnpack", "xnnpack | gpu | edgetpu | external:<path.so>[;key=value...]")
        self.declare("num_threads", 1, "CPU threads for XNNPACK.", (1, 64))
        self.declare("delegate_fallback", True, "If the delegate cannot be loaded: true = fall back to XNNPACK (logged, in diagnostics); false = fail the transition.")
        self.declare("faces_topic", "faces", "Input FaceArray topic (from the face node).")
        self.models: dict[str, Any] | None = None
        self._pub = None
        self._faces_sub = None
        self._models_lock = threading.Lock()
        self.add_on_set_parameters_callback(self._on_set_parameters)

    # Subclasses: build {name: model} from a parameter view (dict name -> value).
    def build_models(self, params: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def model_params(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        names = list(self.MODEL_PATH_PARAMETERS) + list(MODEL_PARAMETERS)
        values = {n: self.param(n) for n in names}
        values.update(overrides or {})
        return values

    def model_options(self, params: dict[str, Any]) -> ModelOptions:
        """The one options object every model wrapper takes, from a parameter view."""
        return ModelOptions(str(params["delegate"]), int(params["num_threads"]), bool(params["delegate_fallback"]),
                            self.get_logger().warning)

    def configure_models(self) -> None:
        self.models = self.build_models(self.model_params())
        for name, model in self.models.items():
            self.get_logger().info(f"{name}: {model.describe()}")

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

    def faces_of(self, msg, with_crop: bool = True):
        """The FaceArray's faces as core FaceObservations; a malformed one is logged (throttled) and skipped."""
        for face in msg.faces:
            try:
                yield face_from_msg(face, with_crop)
            except FaceMessageError as exc:
                self.get_logger().error(f"{exc}; skipped", throttle_duration_sec=2.0)

    def release_models(self) -> None:
        with self._models_lock:
            models, self.models = self.models, None
        for model in (models or {}).values():
            model.close()

    def _on_set_parameters(self, params) -> SetParametersResult:
        changed = {p.name: p.value for p in params if p.name in self.MODEL_PATH_PARAMETERS or p.name in MODEL_PARAMETERS}
        if not changed or self.models is None:
            return SetParametersResult(successful=True)  # read at the next configure
        try:
            new = self.build_models(self.model_params(changed))
        except (ModelError, ValueError, OSError) as exc:
            self.get_logger().error(f"parameter change rejected, keeping the current models: {exc}")
            return SetParametersResult(successful=False, reason=str(exc))
        with self._models_lock:
            old, self.models = self.models, new
        for model in (old or {}).values():
            model.close()
        self.get_logger().info("models re-created: " + ", ".join(f"{k}: {m.describe()}" for k, m in new.items()))
        return SetParametersResult(successful=True)

    def diagnostic_values(self) -> dict[str, str]:
        values = {}
        for name, wrapper in (self.models or {}).items():
            model = wrapper.runtime
            values[f"{name}_model"] = model.path
            values[f"{name}_delegate"] = model.delegate
            values[f"{name}_backend"] = model.backend
            values[f"{name}_delegate_fell_back"] = str(model.fell_back).lower()
            if model.fell_back:
                values[f"{name}_fallback_reason"] = model.fallback_reason
        return values
