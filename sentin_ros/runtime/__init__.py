"""LiteRT runtime shared by every model (the bottom layer, ROS-free): interpreter, delegate,
(de)quantization, shape checks, and the one options object every model wrapper takes."""
from .backend import DELEGATE_LIBRARIES, DelegateSpec, ModelError, check_delegate_library, load_backend, load_delegate
from .model import LiteModel, ModelOptions
from .tensors import NonFiniteInput, TensorInfo, dequantize, quantize, require_finite

__all__ = [
    "DELEGATE_LIBRARIES", "DelegateSpec", "LiteModel", "ModelError", "ModelOptions", "NonFiniteInput", "TensorInfo",
    "check_delegate_library", "dequantize", "load_backend", "load_delegate", "quantize", "require_finite",
]
