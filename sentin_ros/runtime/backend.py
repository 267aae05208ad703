"""Which TFLite backend runs the models, and which delegate it loads (ROS-free).

Backends, in order of preference: ai_edge_litert (LiteRT), tflite_runtime, tensorflow.lite.
Delegates: XNNPACK (built in), GPU, Edge TPU, or any external delegate library.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

_BACKENDS = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter", "tensorflow.lite")
# Shared-library names tried for the named delegates.
DELEGATE_LIBRARIES = {
    "gpu": ("libtensorflowlite_gpu_delegate.so", "libLiteRtGpuAccelerator.so"),
    "edgetpu": ("libedgetpu.so.1", "libedgetpu.so"),
}


class ModelError(RuntimeError):
    """The model cannot be used as asked; the message says why (shown in the failed transition)."""


@dataclass
class DelegateSpec:
    kind: str  # xnnpack | gpu | edgetpu | external
    library: str | None = None
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> DelegateSpec:
        """'xnnpack' | 'gpu' | 'edgetpu' | 'external:/path/lib.so[;key=value...]'."""
        text = (text or "xnnpack").strip()
        if text in ("xnnpack", "cpu"):
            return cls("xnnpack")
        if text in DELEGATE_LIBRARIES:
            return cls(text)
        if text.startswith("external:"):
            path, *pairs = text[len("external:"):].split(";")
            if not path:
                raise ModelError("delegate 'external:' needs a library path, e.g. external:/usr/lib/libdelegate.so;key=value")
            options = {}
            for pair in filter(None, pairs):
                if "=" not in pair:
                    raise ModelError(f"delegate option {pair!r} is not key=value")
                key, value = pair.split("=", 1)
                options[key.strip()] = value.strip()
            return cls("external", path, options)
        raise ModelError(f"unknown delegate {text!r}: use xnnpack, gpu, edgetpu or external:<path.so>[;key=value...]")


def load_backend() -> tuple[str, object]:
    """(backend module name, module exposing Interpreter and load_delegate)."""
    errors = []
    for name in _BACKENDS:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:  # try the next one
            errors.append(f"{name}: {exc}")
            continue
        return name.split(".")[0] if name != "tensorflow.lite" else name, module
    raise ModelError("no TFLite runtime found (pip install ai-edge-litert): " + "; ".join(errors))


def check_delegate_library(path: str) -> None:
    """Fail with a reason before load_delegate when `path` is not a loadable TFLite delegate.

    load_delegate on a missing or wrong library raises, but the half-made Delegate object then
    prints a traceback from its __del__; checking first keeps the node's log to one clear line.
    """
    import ctypes

    try:
        lib = ctypes.CDLL(path)
    except OSError as exc:
        raise ModelError(f"cannot open delegate library {path!r}: {exc}") from exc
    missing = [sym for sym in ("tflite_plugin_create_delegate", "tflite_plugin_destroy_delegate") if not hasattr(lib, sym)]
    if missing:
        raise ModelError(f"{path!r} is not a TFLite external delegate (missing {', '.join(missing)})")


def load_delegate(module, spec: DelegateSpec):
    """The delegate object for `spec` from the backend `module` (raises on failure)."""
    load = getattr(module, "load_delegate", None)
    if load is None:
        raise ModelError("this TFLite backend has no load_delegate")
    if spec.kind == "external":
        check_delegate_library(spec.library)
        return load(spec.library, spec.options)
    errors = []
    for lib in DELEGATE_LIBRARIES[spec.kind]:
        try:
            check_delegate_library(lib)
            return load(lib, spec.options)
        except (ValueError, OSError, RuntimeError) as exc:
            errors.append(f"{lib}: {exc}")
    raise ModelError("; ".join(errors))
