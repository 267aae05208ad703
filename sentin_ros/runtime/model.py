"""One .tflite interpreter with its delegate (LiteModel) and how to build it (ModelOptions).

An instance is one interpreter; the model nodes create it in on_configure and close it in
on_cleanup/on_shutdown, so "configured" and "has an interpreter" are the same thing.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .backend import DelegateSpec, ModelError, load_backend, load_delegate
from .tensors import TensorInfo, dequantize, quantize


@dataclass(frozen=True)
class ModelOptions:
    """How every model is run: the one options object all model wrappers take."""

    delegate: str = "xnnpack"  # xnnpack | gpu | edgetpu | external:<path.so>[;key=value...]
    num_threads: int = 1
    delegate_fallback: bool = True  # delegate cannot be loaded: True = XNNPACK (logged), False = ModelError
    log: Callable[[str], None] | None = None  # where the fallback is reported (default: the logging module)


class LiteModel:
    """One .tflite interpreter with its delegate; `run` takes and returns float arrays."""

    def __init__(
        self,
        path: str,
        options: ModelOptions | None = None,
        expected_inputs: Sequence[tuple[int, ...]] | None = None,
        expected_outputs: Sequence[tuple[int, ...]] | None = None,
    ):
        options = options or ModelOptions()
        self.path = path
        self.options = options
        self.num_threads = int(options.num_threads)
        self._log = options.log or logging.getLogger("sentin_ros.runtime").warning
        self.fallback_reason = ""
        self._interpreter = None
        if self.num_threads < 1:
            raise ModelError(f"num_threads must be >= 1, got {options.num_threads}")
        if not path or not os.path.isfile(path):
            raise ModelError(f"model file not found: {path!r}")
        spec = DelegateSpec.parse(options.delegate)
        self.backend, module = load_backend()

        delegates = []
        self.delegate = "xnnpack"
        if spec.kind != "xnnpack":
            try:
                delegates = [load_delegate(module, spec)]
                self.delegate = spec.kind if spec.kind != "external" else f"external:{spec.library}"
            except Exception as exc:  # the delegate libraries raise ValueError/OSError/RuntimeError
                reason = f"delegate {options.delegate!r} could not be loaded: {exc}"
                if not options.delegate_fallback:
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
        self.inputs = [TensorInfo.from_detail(d) for d in interpreter.get_input_details()]
        self.outputs = [TensorInfo.from_detail(d) for d in interpreter.get_output_details()]
        self._check_shapes("input", self.inputs, expected_inputs)
        self._check_shapes("output", self.outputs, expected_outputs)

    @property
    def fell_back(self) -> bool:
        return bool(self.fallback_reason)

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

    def run_pixels(self, pixels: dict[int, np.ndarray], scale: float, offset: float = 0.0) -> dict[int, np.ndarray]:
        """Like `run`, for 8-bit image inputs fed as `pixels * scale + offset`.

        A float input is filled in place in the interpreter's own buffer: no float copy of the
        image, and no finiteness check (8-bit pixels are always finite). Per face this is a
        measurable share of a 1.5 ms landmark model.
        """
        if self._interpreter is None:
            raise ModelError("the interpreter was released (node not configured)")
        for info in self.inputs:
            image = pixels[info.index]
            if image.dtype != np.uint8:
                raise TypeError(f"run_pixels takes uint8 images, got {image.dtype}")
            if not offset and abs(info.scale - scale) <= 1e-6 * scale:
                if info.dtype == np.uint8 and info.zero_point == 0:
                    self._interpreter.set_tensor(info.index, image.reshape(info.shape))  # the pixels are the tensor
                    continue
                if info.dtype == np.int8 and info.zero_point == -128:  # q = pixel - 128: the top bit flipped
                    self._interpreter.set_tensor(info.index, (image.reshape(info.shape) ^ np.uint8(0x80)).view(np.int8))
                    continue
            if info.quantized or info.dtype != np.float32:
                self._interpreter.set_tensor(info.index, quantize(image * np.float32(scale) + np.float32(offset), info))
                continue
            buffer = self._interpreter.tensor(info.index)()  # a view: must not outlive invoke()
            np.multiply(image.reshape(buffer.shape), np.float32(scale), out=buffer, casting="unsafe")
            if offset:
                buffer += np.float32(offset)
            del buffer
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
