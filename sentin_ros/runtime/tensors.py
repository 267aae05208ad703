"""Tensor descriptions and the float <-> integer (de)quantization of LiteRT tensors."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


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

    @classmethod
    def from_detail(cls, detail: dict) -> TensorInfo:
        """From one entry of Interpreter.get_input_details() / get_output_details()."""
        scale, zero_point = detail.get("quantization", (0.0, 0))
        return cls(detail["name"], detail["index"], tuple(int(v) for v in detail["shape"]), detail["dtype"], float(scale), int(zero_point))


class NonFiniteInput(ValueError):
    """A model input holds NaN or inf. It is never fed to a model: cast to int8 a NaN becomes an
    arbitrary value, and the output looks valid (finite, wrong)."""


def require_finite(what: str, *values) -> None:
    """Raise NonFiniteInput unless every value (scalars, arrays; None skipped) is finite."""
    for value in values:
        if value is None:
            continue
        if type(value) is float or type(value) is int:  # the common case, without an array a value
            finite = math.isfinite(value)
        else:
            finite = bool(np.all(np.isfinite(np.asarray(value, dtype=np.float64))))
        if not finite:
            raise NonFiniteInput(f"{what} is not finite (NaN or inf)")


def quantize(x: np.ndarray, info: TensorInfo) -> np.ndarray:
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise NonFiniteInput(f"input {info.name!r} is not finite (NaN or inf)")
    if not info.quantized:
        return x.astype(info.dtype, copy=False)
    lo, hi = np.iinfo(info.dtype).min, np.iinfo(info.dtype).max
    return np.clip(np.round(x / info.scale) + info.zero_point, lo, hi).astype(info.dtype)


def dequantize(q: np.ndarray, info: TensorInfo) -> np.ndarray:
    if not info.quantized:
        return q.astype(np.float32, copy=False)  # get_tensor already returns a copy
    return (q.astype(np.float32) - info.zero_point) * np.float32(info.scale)
