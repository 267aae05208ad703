r"""Latency sweep of small emotion-CNN architectures: which ones fit <= 0.8 ms per face
(full-integer INT8 LiteRT, 1 thread, XNNPACK) on an AVX2-only CPU?

    nice -n 5 /work/venv-train/bin/python -m training.emotion.tools.latency_sweep \
        [--out training/out/latency_sweep] [--rounds 10] [--per-round 60]

 1. every small_model.CONFIGS entry plus the candidates in NEW_CONFIGS (registered into
    CONFIGS at run time), built with seeded random weights (torch init, BatchNorm at its
    initial statistics) through small_keras.build_keras + load_torch_weights;
 2. each converted like small_export: FP32 .tflite and full-integer INT8 .tflite (int8
    input and outputs), calibrated on 100 seeded uniform [0, 1] 48x48x1 images;
 3. all .tflite files timed in ONE fresh process per CPU mode (native, and CPUID masked to
    AVX2 by benchmarks/avx2only.c through LD_PRELOAD; XNNPACK reads CPUID once per process):
    50 warm-up invokes each, then ROUNDS rounds in which every model (shuffled order) runs
    PER_ROUND timed invokes (set_tensor + invoke + get_tensor), so that the drift of a
    shared machine hits every model alike; per model the median over all timed invokes,
    its ratio to b4's median in the same process, and the median over rounds of the ratio
    of its round median to b4's (less sensitive to b4's own noise);
 4. a table (MACs, deployed params, ms and ratios to b4) and a least-squares split of
    each latency column over MACs of four layer kinds: dense 3x3 convolutions with a 48x48
    output (a stride-1 first stem conv, 1 input channel), other dense 3x3 convolutions,
    1x1 convolutions + dense layers, depthwise convolutions (when there are more models
    than unknowns); the estimate "quiet AVX2" is the INT8 AVX2 by-round ratio times
    --b4-int8-avx2-ms (b4 measured on a quiet machine), compared with --goal-ms;
 5. OUT/sweep.json with the same.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
REF = "b4"

# candidates meant for XNNPACK's int8 kernels on AVX2 (same format as small_model.CONFIGS):
# early stride-2 stem, fewer depthwise layers, narrower expansions, dense 3x3 at low resolution
NEW_CONFIGS = {
    # b4 with a single stride-2 stem conv (48 -> 24 at once)
    "s2_b4": ((24, 2), [(2, 32, 1, 1), (3, 48, 2, 2), (4, 96, 3, 2)], 384),
    # stride-2 stem, 4 instead of 6 depthwise layers, smaller head
    "s2_lite": ((24, 2), [(2, 32, 1, 1), (3, 48, 1, 2), (4, 96, 2, 2)], 256),
    # b4 with expansion 2 everywhere
    "t2_b4": ([(16, 1), (32, 2)], [(2, 32, 1, 1), (2, 48, 2, 2), (2, 96, 3, 2)], 384),
    # plain dense 3x3 convolutions only (24, 12, 6 px), no depthwise
    "dense_s": ([(16, 2), (32, 1), (48, 2), (64, 1), (96, 2)], [], 256),
    "dense_ms": ([(24, 2), (32, 1), (48, 2), (64, 1), (96, 2), (128, 1)], [], 384),
    "dense_m": ([(24, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1)], [], 384),
    # dense 3x3 at 24 and 12 px, inverted residuals only at 6 px
    "hyb_s": ([(24, 2), (32, 1), (64, 2)], [(3, 96, 2, 2)], 384),
    "hyb_m": ([(32, 2), (48, 1), (96, 2), (96, 1)], [(2, 128, 2, 2)], 384),
}
MAC_KINDS = ("stem48x48", "dense3x3", "pointwise", "depthwise")
COLUMNS = [(p, m) for p in ("int8", "fp32") for m in ("native", "avx2")]


def mac_split(net) -> dict:
    """MACs per layer kind: dense 3x3 conv with a 48x48 output (a stride-1 first stem
    conv), other dense 3x3 conv, 1x1 conv + linear, depthwise conv."""
    import torch
    from torch import nn
    out = dict.fromkeys(MAC_KINDS, 0)

    def conv_hook(m, i, o):
        if m.groups == 1 and m.kernel_size[0] == 3 and o.shape[-1] == 48:
            kind = "stem48x48"
        elif m.groups > 1:
            kind = "depthwise"
        else:
            kind = "dense3x3" if m.kernel_size[0] == 3 else "pointwise"
        out[kind] += o[0].numel() * (m.in_channels // m.groups) * \
            m.kernel_size[0] * m.kernel_size[1]

    def lin_hook(m, i, o):
        out["pointwise"] += m.in_features * m.out_features

    hs = [m.register_forward_hook(conv_hook if isinstance(m, nn.Conv2d) else lin_hook)
          for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        net(torch.zeros(1, 1, 48, 48))
    for h in hs:
        h.remove()
    return out


def build(config: str, out_dir: str, calib: np.ndarray, seed: int) -> dict:
    """Random-weight model -> OUT/{config}_int8.tflite and _fp32.tflite; its description."""
    import keras
    import torch

    from ..export import convert, tensor_info
    from ..small_export import folded_params
    from ..small_keras import build_keras, load_torch_weights, serving_fn
    from ..small_model import CONFIGS, SmallAffectiveCNN, count_macs

    torch.manual_seed(seed)
    net = SmallAffectiveCNN(config).eval()
    keras.backend.clear_session()
    trunk = build_keras(config)
    load_torch_weights(trunk, net.state_dict())
    serve = serving_fn(trunk, mirror=False)
    paths = {}
    for prec, rep in (("fp32", None), ("int8", calib)):
        paths[prec] = os.path.join(out_dir, f"{config}_{prec}.tflite")
        with open(paths[prec], "wb") as f:
            f.write(convert(serve, trunk, rep))
    info = tensor_info(paths["int8"])
    stem, blocks, c_last = CONFIGS[config]
    return {"config": config, "new": config in NEW_CONFIGS,
            "definition": {"stem": stem, "blocks": blocks, "head": c_last},
            "macs": count_macs(net), "macs_by_kind": mac_split(net),
            "params_deployed": folded_params(net), "files": paths,
            "bytes": {p: os.path.getsize(q) for p, q in paths.items()},
            "int8_ops": info["ops"], "int8_float32_tensors": info["float32_tensors"]}


def time_models(spec: dict) -> dict:
    """Run in a fresh process: interleaved timing of spec['paths'] -> {path: stats}."""
    from ..evaluate import _interpreter, _io, quantize_input

    rng = np.random.default_rng(spec["seed"])
    pixels = rng.integers(0, 256, (64, 48, 48), dtype=np.uint8)
    models = []
    for p in spec["paths"]:
        it = _interpreter(p, num_threads=1)
        inp, po, _ = _io(it)
        models.append((it, inp["index"], po["index"], quantize_input(pixels, inp)))

    def run(m, n, ts=None):
        it, ii, oi, q = m
        for k in range(n):
            t0 = time.perf_counter()
            it.set_tensor(ii, q[k % len(q)][None])
            it.invoke()
            it.get_tensor(oi)
            if ts is not None:
                ts.append((time.perf_counter() - t0) * 1e3)

    for m in models:
        run(m, spec["warmup"])
    times = [[] for _ in models]
    for _ in range(spec["rounds"]):
        for j in rng.permutation(len(models)):
            run(models[j], spec["block_warmup"])
            run(models[j], spec["per_round"], times[j])
    return {p: {"median_ms": round(float(np.median(t)), 4),
                "p90_ms": round(float(np.percentile(t, 90)), 4),
                "round_medians_ms": [round(float(np.median(t[i:i + spec["per_round"]])), 4)
                                     for i in range(0, len(t), spec["per_round"])],
                "n": len(t)}
            for p, t in zip(spec["paths"], times)}


def timing_process(spec: dict, preload: str | None) -> dict:
    env = dict(os.environ)
    if preload:
        env.update(LD_PRELOAD=preload, AVX2ONLY_VERBOSE="1")
    code = ("import json,sys;from training.emotion.tools.latency_sweep import time_models;"
            "print(json.dumps(time_models(json.loads(sys.argv[1]))))")
    r = subprocess.run([sys.executable, "-c", code, json.dumps(spec)], env=env, cwd=REPO,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-3000:])
    if preload and "CPUID masked" not in r.stderr:
        raise RuntimeError("avx2only shim loaded but CPUID not masked:\n" + r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def fit_by_kind(rows: list[dict], prec: str, mode: str) -> dict:
    """Least squares ms ~ c0 + sum_k b_k * MMACs_k; b_k in microseconds per M MAC."""
    a = np.array([[1.0] + [r["macs_by_kind"][k] / 1e6 for k in MAC_KINDS] for r in rows])
    y = np.array([r["ms"][prec][mode] for r in rows])
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    r2 = 1 - np.sum((a @ coef - y) ** 2) / np.sum((y - y.mean()) ** 2)
    return {"intercept_ms": round(float(coef[0]), 4),
            **{f"{k}_us_per_MMAC": round(float(c) * 1e3, 1) for k, c in zip(MAC_KINDS,
                                                                            coef[1:])},
            "r2": round(float(r2), 3)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="training/out/latency_sweep")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--per-round", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--block-warmup", type=int, default=3,
                    help="untimed invokes before each model's block in a round")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--goal-ms", type=float, default=0.8)
    ap.add_argument("--b4-int8-avx2-ms", type=float, default=1.125,
                    help="b4 INT8 AVX2-masked median measured on a quiet machine")
    ap.add_argument("--configs", nargs="*", default=None, help="default: all")
    a = ap.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from ..export import cpu_name, load_avg
    from ..small_export import build_avx2_shim, isa_flags
    from ..small_model import CONFIGS

    CONFIGS.update(NEW_CONFIGS)
    names = a.configs or list(CONFIGS)
    if REF not in names:
        names.insert(0, REF)
    os.makedirs(a.out, exist_ok=True)
    shim = build_avx2_shim()
    if shim is None:
        raise SystemExit("the AVX2 shim needs gcc and the cpuid_fault CPU flag")

    # export.convert divides the calibration pixels by 255: uniform [0, 1] images
    calib = np.random.default_rng(a.seed).uniform(0, 255, (100, 48, 48)).astype(np.float32)
    rows = []
    for name in names:
        rows.append(build(name, a.out, calib, a.seed))
        print(f"built {name}: {rows[-1]['macs'] / 1e6:.2f} M MACs", flush=True)

    spec = {"paths": [r["files"][p] for r in rows for p in ("int8", "fp32")],
            "rounds": a.rounds, "per_round": a.per_round, "warmup": a.warmup,
            "block_warmup": a.block_warmup, "seed": a.seed}
    la = [load_avg()]
    raw = {"native": timing_process(spec, None)}
    la.append(load_avg())
    raw["avx2"] = timing_process(spec, shim)
    la.append(load_avg())

    ref = next(r for r in rows if r["config"] == REF)
    for r in rows:
        r["ms"] = {p: {m: raw[m][r["files"][p]]["median_ms"] for m in raw} for p in r["files"]}
        r["round_medians_ms"] = {p: {m: raw[m][r["files"][p]]["round_medians_ms"] for m in raw}
                                 for p in r["files"]}
    for r in rows:
        r["ratio_to_b4"] = {p: {m: round(r["ms"][p][m] / ref["ms"][p][m], 3) for m in raw}
                            for p in r["ms"]}
        r["ratio_to_b4_round_median"] = {p: {m: round(float(np.median(
            np.divide(r["round_medians_ms"][p][m], ref["round_medians_ms"][p][m]))), 3)
            for m in raw} for p in r["ms"]}
        r["int8_avx2_quiet_estimate_ms"] = round(
            r["ratio_to_b4_round_median"]["int8"]["avx2"] * a.b4_int8_avx2_ms, 3)
        r["meets_goal"] = {"measured": r["ms"]["int8"]["avx2"] <= a.goal_ms,
                           "quiet_estimate": r["int8_avx2_quiet_estimate_ms"] <= a.goal_ms}

    flags = isa_flags()
    print(f"\nCPU {cpu_name()}, {os.cpu_count()} cores; " +
          " ".join(f"{k}={'yes' if flags[k] else 'no'}"
                   for k in ("avx2", "avx512f", "avx512_vnni", "amx_int8")) +
          f"; load avg 1 min {' / '.join(la)}; median of {a.rounds}x{a.per_round} invokes")
    hdr = (f"{'config':9} {'MMAC':>6} {'params':>7} | {'i8 nat':>6} {'i8 avx2':>7} "
           f"{'f32 nat':>7} {'f32 avx2':>8} | ratio to b4: {'i8 n':>5} {'i8 a':>5} "
           f"{'f32 n':>5} {'f32 a':>5} | by round: i8 a  quiet i8 avx2 est  goal")
    print(hdr + "\n" + "-" * len(hdr))
    for r in rows:
        ms, q = r["ms"], r["ratio_to_b4"]
        print(f"{r['config'] + ('*' if r['new'] else ''):9} {r['macs'] / 1e6:6.2f} "
              f"{r['params_deployed']:7d} | "
              + " ".join(f"{ms[p][m]:{w}.3f}" for (p, m), w in zip(COLUMNS, (6, 7, 7, 8)))
              + " |              "
              + " ".join(f"{q[p][m]:5.2f}" for p, m in COLUMNS)
              + f" | {r['ratio_to_b4_round_median']['int8']['avx2']:14.2f}"
              + f"  {r['int8_avx2_quiet_estimate_ms']:17.3f}  "
              + ("yes" if r["meets_goal"]["quiet_estimate"] else "no"))
    print("(* new candidate; by round = median over rounds of the ratio of the round medians; "
          f"quiet estimate = that INT8 AVX2 ratio x {a.b4_int8_avx2_ms} ms, the quiet b4 "
          f"measurement; goal <= {a.goal_ms} ms)")

    fits = {}
    if len(rows) > len(MAC_KINDS) + 1:
        fits = {f"{p}_{m}": fit_by_kind(rows, p, m) for p, m in COLUMNS}
        print("\nleast squares ms ~ c0 + b * MMACs per layer kind (us per M MAC):")
    for k, f in fits.items():
        print(f"  {k:11} c0 {f['intercept_ms']:.3f} ms  " +
              "  ".join(f"{kind} {f[f'{kind}_us_per_MMAC']:8.1f}" for kind in MAC_KINDS) +
              f"  R2 {f['r2']}")

    ok = [r for r in rows if r["meets_goal"]["quiet_estimate"]]
    best = max(ok, key=lambda r: r["macs"])["config"] if ok else None
    print(f"\nmeeting {a.goal_ms} ms (quiet estimate): {[r['config'] for r in ok]}; "
          f"largest MACs: {best}")
    result = {
        "measured_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "nice -n 5 python -m training.emotion.tools.latency_sweep " +
                   " ".join(argv if argv is not None else sys.argv[1:]),
        "cpu": cpu_name(), "cpu_count": os.cpu_count(), "isa_flags": flags,
        "load_average_1min": {"before_native": la[0], "before_avx2": la[1], "after": la[2]},
        "timing": {k: spec[k] for k in ("rounds", "per_round", "warmup", "block_warmup")} |
                  {"threads": 1, "runtime": "ai_edge_litert Interpreter, default XNNPACK",
                   "per_invoke": "set_tensor + invoke + get_tensor of one 48x48x1 face",
                   "avx2": "benchmarks/avx2only.c via LD_PRELOAD: CPUID reports no "
                           "AVX-512/VNNI/AMX; same core, so an approximation"},
        "weights": f"random (torch init, seed {a.seed}); calibration 100 uniform [0, 1] images",
        "goal_ms": a.goal_ms, "b4_int8_avx2_quiet_ms": a.b4_int8_avx2_ms,
        "models": rows, "fit_by_layer_kind": fits,
        "meets_goal_quiet_estimate": [r["config"] for r in ok],
        "largest_macs_meeting_goal": best}
    path = os.path.join(a.out, "sweep.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
