"""LiteRT runtime shared by every model: interpreter, delegate, (de)quantization, shape checks.

An instance is one interpreter; the model nodes create it in on_configure and close it in
on_cleanup/on_shutdown, so "configured" and "has an interpreter" are the same thing.
Backends, in order of preference: ai_edge_litert (LiteRT), tflite_runtime, tensorflow.lite.
"""
from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

_BACKENDS = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter", "tensorflow.lite")
# Shared-library names tried for the named delegates.
_DELEGATE_LIBRARIES = {
    "gpu": ("libtensorflowlite_gpu_delegate.so", "libLiteRtGpuAccelerator.so"),
    "edgetpu": ("libedgetpu.so.1", "libedgetpu.so"),
}


class ModelError(RuntimeError):
    """The model cannot be used as asked; the message says why (shown in the failed transition)."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    index: int
    shape: tuple[int, ...]
    dtype: type
    scale: float
    zero_point: int

    @property
    def quantized(self) -> bool:
        return self.scale > 0 and self.dtype in (np.int8, np.uint8, np.int16)


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
        if text in _DELEGATE_LIBRARIES:
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


class LiteModel:
    """One .tflite interpreter with its delegate; `run` takes and returns float arrays."""

    def __init__(
        self,
        path: str,
        delegate: str = "xnnpack",
        num_threads: int = 1,
        delegate_fallback: bool = True,
        expected_inputs: Sequence[tuple[int, ...]] | None = None,
        expected_outputs: Sequence[tuple[int, ...]] | None = None,
        log: Callable[[str], None] | None = None,
    ):
        self.path = path
        self.num_threads = int(num_threads)
        self._log = log or logging.getLogger("sentin_ros.runtime").warning
        self.fallback_reason = ""
        self._interpreter = None
        if self.num_threads < 1:
            raise ModelError(f"num_threads must be >= 1, got {num_threads}")
        if not path or not os.path.isfile(path):
            raise ModelError(f"model file not found: {path!r}")
        spec = DelegateSpec.parse(delegate)
        self.backend, module = load_backend()

        delegates = []
        self.delegate = "xnnpack"
        if spec.kind != "xnnpack":
            try:
                delegates = [self._load_delegate(module, spec)]
                self.delegate = spec.kind if spec.kind != "external" else f"external:{spec.library}"
            except Exception as exc:  # the delegate libraries raise ValueError/OSError/RuntimeError
                reason = f"delegate {delegate!r} could not be loaded: {exc}"
                if not delegate_fallback:
                    raise ModelError(reason + " (delegate_fallback is false)") from exc
                self.fallback_reason = reason
                self._log(f"{reason}; falling back to XNNPACK with {self.num_threads} thread(s)")
        try:
            # Loaded from bytes, not memory-mapped: replacing the file under a running node
            # (a retrain, a deploy) must not pull pages out from under the interpreter.
            with open(path, "rb") as f:
                content = f.read()
            interpreter = module.Interpreter(
                model_content=content, num_threads=self.num_threads, experimental_delegates=delegates or None
            )
            interpreter.allocate_tensors()
        except Exception as exc:  # corrupt flatbuffers raise ValueError, unsupported ops RuntimeError
            raise ModelError(f"cannot load {path!r} with {self.backend}: {exc}") from exc
        self._interpreter = interpreter
        self.inputs = [self._info(d) for d in interpreter.get_input_details()]
        self.outputs = [self._info(d) for d in interpreter.get_output_details()]
        self._check_shapes("input", self.inputs, expected_inputs)
        self._check_shapes("output", self.outputs, expected_outputs)

    @property
    def fell_back(self) -> bool:
        return bool(self.fallback_reason)

    @staticmethod
    def _load_delegate(module, spec: DelegateSpec):
        load = getattr(module, "load_delegate", None)
        if load is None:
            raise ModelError("this TFLite backend has no load_delegate")
        if spec.kind == "external":
            check_delegate_library(spec.library)
            return load(spec.library, spec.options)
        errors = []
        for lib in _DELEGATE_LIBRARIES[spec.kind]:
            try:
                check_delegate_library(lib)
                return load(lib, spec.options)
            except (ValueError, OSError, RuntimeError) as exc:
                errors.append(f"{lib}: {exc}")
        raise ModelError("; ".join(errors))

    @staticmethod
    def _info(detail: dict) -> TensorInfo:
        scale, zero_point = detail.get("quantization", (0.0, 0))
        return TensorInfo(
            detail["name"], detail["index"], tuple(int(v) for v in detail["shape"]), detail["dtype"], float(scale), int(zero_point)
        )

    def _check_shapes(self, kind: str, actual: list[TensorInfo], expected) -> None:
        if expected is None:
            return
        got = sorted(t.shape for t in actual)
        want = sorted(tuple(s) for s in expected)
        if got != want:
            self.close()
            raise ModelError(f"{self.path}: {kind} shapes {got} do not match the expected {want}")

    def input_by_shape(self, shape: tuple[int, ...]) -> TensorInfo:
        return next(t for t in self.inputs if t.shape == tuple(shape))

    def output_by_shape(self, shape: tuple[int, ...]) -> TensorInfo:
        return next(t for t in self.outputs if t.shape == tuple(shape))

    def run(self, feeds: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        """feeds: {input tensor index: float array}; returns {output tensor index: float array}."""
        if self._interpreter is None:
            raise ModelError("the interpreter was released (node not configured)")
        for info in self.inputs:
            self._interpreter.set_tensor(info.index, quantize(np.asarray(feeds[info.index]), info))
        self._interpreter.invoke()
        return {info.index: dequantize(self._interpreter.get_tensor(info.index), info) for info in self.outputs}

    def warm_up(self, runs: int = 2) -> None:
        feeds = {t.index: np.zeros(t.shape, np.float32) for t in self.inputs}
        for _ in range(runs):
            self.run(feeds)

    def describe(self) -> str:
        how = f"{self.delegate}, {self.num_threads} thread(s)"
        if self.fell_back:
            how += " (fallback)"
        return f"{os.path.basename(self.path)} on {self.backend} [{how}]"

    def close(self) -> None:
        self._interpreter = None


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


def quantize(x: np.ndarray, info: TensorInfo) -> np.ndarray:
    if not info.quantized:
        return x.astype(info.dtype, copy=False)
    lo, hi = np.iinfo(info.dtype).min, np.iinfo(info.dtype).max
    return np.clip(np.round(x / info.scale) + info.zero_point, lo, hi).astype(info.dtype)


def dequantize(q: np.ndarray, info: TensorInfo) -> np.ndarray:
    if not info.quantized:
        return q.astype(np.float32, copy=True)
    return (q.astype(np.float32) - info.zero_point) * np.float32(info.scale)
