"""A float .tflite graph of MediaPipe's face-landmark or iris model, rebuilt as a TensorFlow
function from its own operators and weights, so that the TFLite converter can quantize it.

MediaPipe ships these models with float16 weights (DEQUANTIZE to float32 at load) and no
training graph. Both use only a handful of operators (CONV_2D, DEPTHWISE_CONV_2D, PRELU, ADD,
MAX_POOL_2D, PAD, RESHAPE); each is mapped to its TensorFlow equivalent with the same padding
rule ("SAME" pads the extra row and column at the bottom and right in both)."""
from __future__ import annotations

import numpy as np

_PADDING = {0: "SAME", 1: "VALID"}
_NUMPY = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}  # tflite TensorType


class TfliteGraph:
    """The operators of a single-subgraph .tflite, with its constant tensors as numpy arrays."""

    def __init__(self, path: str):
        from tensorflow.lite.python import schema_py_generated as schema
        from tensorflow.lite.tools import flatbuffer_utils

        self.model = flatbuffer_utils.read_model(path)
        (self.graph,) = self.model.subgraphs
        op_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
        self.consts: dict[int, np.ndarray] = {}
        for i, t in enumerate(self.graph.tensors):
            data = self.model.buffers[t.buffer].data if t.buffer < len(self.model.buffers) else None
            if data is not None and len(data):
                self.consts[i] = np.frombuffer(bytes(data), _NUMPY[t.type]).reshape(t.shape)
        self.ops = []
        for op in self.graph.operators:
            code = self.model.operatorCodes[op.opcodeIndex]
            name = op_names[max(code.builtinCode, code.deprecatedBuiltinCode)]
            self.ops.append((name, list(op.inputs), list(op.outputs), op.builtinOptions))
        self.inputs = [int(i) for i in self.graph.inputs]
        self.outputs = [int(i) for i in self.graph.outputs]

    def name(self, index: int) -> str:
        return self.graph.tensors[index].name.decode()

    def shape(self, index: int) -> list[int]:
        return [int(d) for d in self.graph.tensors[index].shape]


def build_function(g: TfliteGraph):
    """f(image float32 NHWC in [0, 1]) -> list of output tensors, in the model's output order."""
    import tensorflow as tf

    consts = {i: a.astype(np.float32) if a.dtype == np.float16 else a for i, a in g.consts.items()}
    for name, ins, outs, _ in g.ops:  # float16 weights: their DEQUANTIZE output is a constant
        if name == "DEQUANTIZE" and ins[0] in consts:
            consts[outs[0]] = consts[ins[0]].astype(np.float32)

    def run(image):
        values = {g.inputs[0]: image}

        def val(i):
            return values[i] if i in values else tf.constant(consts[i])

        for name, ins, outs, opt in g.ops:
            if name == "DEQUANTIZE":
                continue
            x = values[ins[0]]
            if name == "CONV_2D":
                w = np.transpose(consts[ins[1]], (1, 2, 3, 0))  # OHWI -> HWIO
                y = tf.nn.conv2d(x, w, [1, opt.strideH, opt.strideW, 1], _PADDING[opt.padding],
                                 dilations=[1, opt.dilationHFactor, opt.dilationWFactor, 1])
                y = tf.nn.bias_add(y, consts[ins[2]])
            elif name == "DEPTHWISE_CONV_2D":
                w = consts[ins[1]]  # 1 H W C*M
                c = int(x.shape[-1])
                w = w.reshape(w.shape[1], w.shape[2], c, w.shape[3] // c)
                y = tf.nn.depthwise_conv2d(x, w, [1, opt.strideH, opt.strideW, 1], _PADDING[opt.padding],
                                           dilations=[opt.dilationHFactor, opt.dilationWFactor])
                y = tf.nn.bias_add(y, consts[ins[2]])
            elif name == "PRELU":
                alpha = consts[ins[1]]
                y = tf.nn.relu(x) + (-alpha) * tf.nn.relu(-x)  # Keras's form: the converter fuses it into PRELU
            elif name == "ADD":
                y = x + val(ins[1])
            elif name == "MAX_POOL_2D":
                y = tf.nn.max_pool2d(x, [opt.filterHeight, opt.filterWidth], [opt.strideH, opt.strideW],
                                     _PADDING[opt.padding])
            elif name == "PAD":
                y = tf.pad(x, consts[ins[1]])
            elif name == "RESHAPE":
                y = tf.reshape(x, g.shape(outs[0]))
            else:
                raise NotImplementedError(f"operator {name} is not rebuilt")
            if getattr(opt, "fusedActivationFunction", 0):
                raise NotImplementedError(f"fused activation on {name}")
            values[outs[0]] = y
        return [values[i] for i in g.outputs]

    return run
