"""Lifecycle plumbing for nodes that own LiteRT interpreters (the face node and the model nodes).

Interpreters are built (and warmed up) in on_configure and released in on_cleanup/on_shutdown.
Changing a model parameter (model paths, delegate, num_threads, delegate_fallback, and what a
node adds to REBUILD_PARAMETERS) while configured rebuilds them: the new interpreters are
built first and swapped in only if that succeeds; otherwise the change is rejected with the
reason and the old ones keep running. `models_lock` is the node's `frame_lock`, which the
worker holds for the whole frame it processes, so a swap or a release waits for that frame and
no interpreter is closed under it: the old ones are closed only after the swap, outside it.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rcl_interfaces.msg import SetParametersResult

from ..runtime import LiteModel, ModelError, ModelOptions

MODEL_PARAMETERS = ("delegate", "num_threads", "delegate_fallback")


class ModelOwner:
    """Mixin for a PerceptionNode: call `declare_model_parameters()` in __init__."""

    #: parameter name -> kind of a committed model, e.g. {"model_path": "emotion"}
    MODEL_PATH_PARAMETERS: dict[str, str] = {}
    #: further parameters whose change rebuilds the models
    REBUILD_PARAMETERS: tuple[str, ...] = ()

    def declare_model_parameters(self) -> None:
        from ..inference.model_paths import default_model_path

        for param, kind in self.MODEL_PATH_PARAMETERS.items():
            self.declare(param, default_model_path(kind), f"Path of the {kind} .tflite model (default: the package's committed model).")
        self.declare("delegate", "xnnpack", "xnnpack | gpu | edgetpu | external:<path.so>[;key=value...]")
        self.declare("num_threads", 1, "CPU threads for XNNPACK.", (1, 64))
        self.declare("delegate_fallback", True, "If the delegate cannot be loaded: true = fall back to XNNPACK (logged, in diagnostics); false = fail the transition.")
        self.models: dict[str, Any] | None = None
        # The base node's frame_lock (held by the worker for the whole frame), so that a swap or a
        # release waits for the frame in progress.
        self.models_lock = getattr(self, "frame_lock", None) or threading.RLock()
        self.add_on_set_parameters_callback(self._on_set_model_parameters)

    # Subclasses: build {name: model} from a parameter view (dict name -> value).
    def build_models(self, params: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def runtimes(self) -> dict[str, LiteModel]:
        """Every interpreter the node holds, by name (for diagnostics)."""
        return {name: model.runtime for name, model in (self.models or {}).items()}

    def _model_parameter_names(self) -> list[str]:
        return [*self.MODEL_PATH_PARAMETERS, *MODEL_PARAMETERS, *self.REBUILD_PARAMETERS]

    def model_params(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        values = {n: self.param(n) for n in self._model_parameter_names()}
        values.update(overrides or {})
        return values

    def model_options(self, params: dict[str, Any]) -> ModelOptions:
        """The one options object every model wrapper takes, from a parameter view."""
        return ModelOptions(str(params["delegate"]), int(params["num_threads"]), bool(params["delegate_fallback"]),
                            self.get_logger().warning)

    def configure_models(self) -> None:
        models = self.build_models(self.model_params())
        with self.models_lock:
            self.models = models
        for name, model in models.items():
            self.get_logger().info(f"{name}: {model.describe()}")

    @contextmanager
    def using_models(self) -> Iterator[dict[str, Any] | None]:
        """The current models, held for the duration of the block (None when released)."""
        with self.models_lock:
            yield self.models

    def release_models(self) -> None:
        with self.models_lock:
            models, self.models = self.models, None
        for model in (models or {}).values():
            model.close()

    def _on_set_model_parameters(self, params) -> SetParametersResult:
        names = set(self._model_parameter_names())
        changed = {p.name: p.value for p in params if p.name in names}
        if not changed or self.models is None:
            return SetParametersResult(successful=True)  # read at the next configure
        try:
            new = self.build_models(self.model_params(changed))
        except (ModelError, ValueError, OSError) as exc:
            self.get_logger().error(f"parameter change rejected, keeping the current models: {exc}")
            return SetParametersResult(successful=False, reason=str(exc))
        with self.models_lock:
            old = self.models
            if old is not None:  # (released by a cleanup while the new ones were built: keep it released)
                self.models = new
                self.models_swapped(old, new)
        for model in (new if old is None else old).values():
            model.close()
        if old is None:
            return SetParametersResult(successful=True)
        self.get_logger().info("models re-created: " + ", ".join(f"{k}: {m.describe()}" for k, m in new.items()))
        return SetParametersResult(successful=True)

    def models_swapped(self, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
        """Called under the lock once `new` replaced `old` (carry state over here)."""

    def model_diagnostics(self) -> dict[str, str]:
        values = {}
        for name, model in self.runtimes().items():
            values[f"{name}_model"] = model.path
            values[f"{name}_delegate"] = model.delegate
            values[f"{name}_backend"] = model.backend
            values[f"{name}_delegate_fell_back"] = str(model.fell_back).lower()
            if model.fell_back:
                values[f"{name}_fallback_reason"] = model.fallback_reason
        return values
