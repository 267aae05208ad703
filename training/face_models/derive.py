"""The face front end's landmark and iris models, derived from MediaPipe's by editing the graph
(same operators, same float16 weights; nothing retrained or requantized):

- the input is uint8 pixels with scale 1/255, turned to float by a DEQUANTIZE operator inside
  the graph, so the warped crop is copied into the interpreter as bytes instead of being scaled
  into a float tensor by NumPy (and XNNPACK converts it with the rest of the graph);
- the iris model keeps only its iris output: its 71-point eye-contour head, which nothing here
  reads, is removed with the operators that only it needed.

    .venv/bin/python -m training.face_models.derive --out-dir models

Runs in the runtime venv (the LiteRT wheel ships the .tflite schema; `flatbuffers` comes with
it). It checks each derived model against the shipped one on random-noise and smooth random crops and
writes the largest difference into the cards' figures (models/face_front_end_models.metrics.json).
"""
from __future__ import annotations

import argparse
import json
import os
import time

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from sentin_ros.core.face_models import DERIVED, mediapipe_model

# model kind -> (the outputs kept, by their shape; None: all), input side; file names: face_models.DERIVED
EDITS = {"landmarks": (None, 192), "iris": ([[1, 15]], 64)}
PIXEL_SCALE = 1.0 / 255.0


def read(path: str) -> schema.ModelT:
    with open(path, "rb") as f:
        return schema.ModelT.InitFromPackedBuf(bytearray(f.read()), 0)


def write(model: schema.ModelT) -> bytes:
    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _opcode(model: schema.ModelT, builtin: int) -> int:
    for i, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return i
    code = schema.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, 127)
    code.version = 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def keep_outputs(model: schema.ModelT, shapes: list[list[int]]) -> None:
    """Only the outputs of these shapes, and the operators they depend on."""
    (g,) = model.subgraphs
    wanted = [list(s) for s in shapes]
    g.outputs = [int(i) for i in g.outputs if list(g.tensors[i].shape) in wanted]
    needed = set(int(i) for i in g.outputs)
    kept = []
    for op in reversed(g.operators):
        if any(int(o) in needed for o in op.outputs):
            kept.append(op)
            needed.update(int(i) for i in op.inputs if i >= 0)
    g.operators = kept[::-1]
    _compact(model)


def uint8_input(model: schema.ModelT, scale: float) -> None:
    """The float input becomes uint8 (value = pixel × scale), dequantized by the graph's first operator."""
    (g,) = model.subgraphs
    (old,) = [int(i) for i in g.inputs]
    t = schema.TensorT()
    t.shape = list(g.tensors[old].shape)
    t.type = schema.TensorType.UINT8
    t.name = g.tensors[old].name + b"_uint8"
    t.buffer = 0
    t.quantization = schema.QuantizationParametersT()
    t.quantization.scale = [scale]
    t.quantization.zeroPoint = [0]
    g.tensors.append(t)
    op = schema.OperatorT()
    op.opcodeIndex = _opcode(model, schema.BuiltinOperator.DEQUANTIZE)
    op.inputs = [len(g.tensors) - 1]
    op.outputs = [old]
    g.operators.insert(0, op)
    g.inputs = [len(g.tensors) - 1]


def _compact(model: schema.ModelT) -> None:
    """Drops the tensors and weight buffers no operator uses any more, and renumbers the rest."""
    (g,) = model.subgraphs
    used = sorted({int(i) for i in g.inputs} | {int(i) for i in g.outputs}
                  | {int(i) for op in g.operators for i in (*op.inputs, *op.outputs) if i >= 0})
    tensor_id = {old: new for new, old in enumerate(used)}
    g.tensors = [g.tensors[i] for i in used]
    g.inputs = [tensor_id[int(i)] for i in g.inputs]
    g.outputs = [tensor_id[int(i)] for i in g.outputs]
    for op in g.operators:
        op.inputs = [tensor_id[int(i)] if i >= 0 else -1 for i in op.inputs]
        op.outputs = [tensor_id[int(i)] for i in op.outputs]
    metadata_buffers = {m.buffer for m in model.metadata or []}
    buffers = sorted({0} | {t.buffer for t in g.tensors} | metadata_buffers)
    buffer_id = {old: new for new, old in enumerate(buffers)}
    model.buffers = [model.buffers[b] for b in buffers]
    for t in g.tensors:
        t.buffer = buffer_id[t.buffer]
    for m in model.metadata or []:
        m.buffer = buffer_id[m.buffer]


def derive(key: str, outputs: list[list[int]] | None) -> bytes:
    model = read(mediapipe_model(key))
    if outputs:
        keep_outputs(model, outputs)
    uint8_input(model, PIXEL_SCALE)
    model.description = (model.description or b"") + b" | sentin_ros: uint8 input (x/255 in the graph)" + (
        b", iris output only" if outputs else b"")
    return write(model)


def compare(shipped: str, derived: str, side: int, n: int = 64) -> dict:
    """Largest output difference between the shipped model (fed pixels/255) and the derived one (fed pixels)."""
    from ai_edge_litert.interpreter import Interpreter

    a, b = Interpreter(model_path=shipped, num_threads=1), Interpreter(model_path=derived, num_threads=1)
    a.allocate_tensors()
    b.allocate_tensors()
    rng = np.random.default_rng(0)
    worst = 0.0
    for i in range(n):
        # random noise and smooth images: both extremes of what a crop can hold
        img = rng.integers(0, 256, (1, side, side, 3), dtype=np.uint8)
        if i % 2:
            img = np.clip(np.cumsum(rng.normal(0, 4, img.shape), axis=2) + 128, 0, 255).astype(np.uint8)
        a.set_tensor(a.get_input_details()[0]["index"], img.astype(np.float32) * np.float32(PIXEL_SCALE))
        b.set_tensor(b.get_input_details()[0]["index"], img)
        a.invoke()
        b.invoke()
        outs = {tuple(d["shape"]): a.get_tensor(d["index"]) for d in a.get_output_details()}
        for d in b.get_output_details():
            worst = max(worst, float(np.abs(b.get_tensor(d["index"]) - outs[tuple(d["shape"])]).max()))
    times = {"shipped": [], "derived": []}
    for _ in range(60):  # in turns of 5: this VM's speed drifts within seconds
        for key, it in (("shipped", a), ("derived", b)):
            for _ in range(5):
                t = time.perf_counter()
                it.invoke()
                times[key].append((time.perf_counter() - t) * 1e3)
    return {"largest_output_difference": worst, "crops_compared": n, "file_bytes": os.path.getsize(derived),
            "operators": {"shipped": len(a._get_ops_details()), "derived": len(b._get_ops_details())},
            "invoke_ms_p50_1_thread": {k: round(float(np.median(v)), 3) for k, v in times.items()}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", default="models")
    args = ap.parse_args()
    from sentin_ros.tools.bench.common import machine

    figures = {"machine": machine()}
    for key, (outputs, side) in EDITS.items():
        name = DERIVED[key]
        path = os.path.join(args.out_dir, name)
        with open(path, "wb") as f:
            f.write(derive(key, outputs))
        figures[name] = {"from": os.path.basename(mediapipe_model(key)), **compare(mediapipe_model(key), path, side)}
        print(name, figures[name])
    with open(os.path.join(args.out_dir, "face_front_end_models.metrics.json"), "w") as f:
        json.dump(figures, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
