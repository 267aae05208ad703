r"""Export the small emotion model to LiteRT, verify and measure it, write the metrics JSON.

    python -m training.emotion.small_export --data ../shared/datasets/fer2013.npz \
        --out training/out/emotion_small [--models-dir models]

 1. OUT/best.pt (selected on PublicTest by small_train) -> identical Keras network
    (small_keras), checked against torch on 256 PrivateTest faces;
 2. FP32 .tflite (OUT/, reference) and full-integer INT8 .tflite (int8 input and outputs,
    per-channel int8 weights, int32 biases; calibrated on Training images only) written as
    MODELS/affective_cnn_int8.tflite (MODELS = --models-dir, default OUT/models; the
    package's models/ only when asked). One view per call: no mirror inside the model;
 3. accuracy of both files with ai_edge_litert on PrivateTest / PublicTest (original labels)
    and on the FER+ majority labels, each without and with mirror averaging (the mean of the
    probabilities of the face and of its horizontal mirror, two calls, as the runtime option
    test_time_mirror does), per-class report;
 4. latency per face, 1 thread, XNNPACK: native, and with CPUID masked to AVX2
    (benchmarks/avx2only.c, when gcc and CPUID faulting are available), the large model alongside;
 5. MODELS/affective_cnn.metrics.json.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys

import numpy as np

from . import data as D
from .distill import DEFAULT_TEACHER
from .evaluate import classification_report, predict_tflite
from .export import cpu_name, load_avg, tensor_info

HERE = os.path.dirname(os.path.abspath(__file__))


def isa_flags() -> dict:
    flags = []
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                flags = line.split(":", 1)[1].split()
                break
    except OSError:
        pass
    keys = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni",
            "amx_int8", "cpuid_fault")
    return {k: (k in flags) for k in keys}


def build_avx2_shim() -> str | None:
    """The bench's AVX2 shim (benchmarks/avx2only.c, built by cpu_mask); None without gcc or CPUID faulting."""
    from sentin_ros.tools.bench import cpu_mask

    try:
        return cpu_mask.build_shim()
    except SystemExit:
        return None


def latency_subprocess(paths: list[str], data: str, runs: int, preload: str | None) -> dict:
    """Latency of each model in a fresh process (XNNPACK reads CPUID once per process)."""
    code = ("import json,sys,numpy as np;from training.emotion.export import latency;"
            "from training.emotion import data as D;"
            "x,_=D.split(D.load(sys.argv[1]),'PrivateTest');"
            "print(json.dumps({p: latency(p, x[:64], int(sys.argv[2])) for p in sys.argv[3:]}))")
    env = dict(os.environ)
    if preload:
        env["LD_PRELOAD"] = preload
        env["AVX2ONLY_VERBOSE"] = "1"
    r = subprocess.run([sys.executable, "-c", code, data, str(runs), *paths], env=env,
                       capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(HERE)))
    if r.returncode != 0:
        return {"error": r.stderr[-2000:]}
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["cpuid_masked_to_avx2"] = bool(preload) and "CPUID masked" in r.stderr
    return out


def measure_latency(timed: list[str], data: str, runs: int) -> dict:
    """Latency of each file per face, 1 thread: native, then with CPUID masked to AVX2."""
    la0 = load_avg()
    lat_native = latency_subprocess(timed, data, runs, None)
    shim = build_avx2_shim()
    lat_avx2 = latency_subprocess(timed, data, runs, shim) if shim else {
        "skipped": "needs gcc and the cpuid_fault CPU flag"}
    return {"threads": 1, "runtime": "ai_edge_litert 2.3.0 Interpreter (default XNNPACK delegate)",
            "per_face": "one invoke of one 48x48 face (set_tensor + invoke + get_tensor); "
                        "mirror averaging would be two invokes",
            "cpu": cpu_name(), "cpu_count": os.cpu_count(), "isa_flags": isa_flags(),
            "native": lat_native, "avx2_cpuid_masked": lat_avx2,
            "avx2_note": "XNNPACK chooses its kernels from CPUID. "
                         "benchmarks/avx2only.c (LD_PRELOAD) makes CPUID report no AVX-512/VNNI/AMX, so the "
                         "AVX2 kernels run; same core, so it approximates but is not an AVX2 "
                         "machine (clock, caches and microarchitecture stay this CPU's)",
            "load_average_1min_before": la0, "load_average_1min_after": load_avg(),
            "measured_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "note": "shared 2-core development machine; other processes were running"}


def relatency(metrics_path: str, data: str, runs: int, large: str) -> None:
    """--latency-only: time the committed files again (a machine that can mask CPUID, a quieter
    one) and replace the metrics' latency block; a real AVX2 machine's figures are kept."""
    metrics = json.load(open(metrics_path))
    timed = [p for p in (metrics["model"], metrics.get("files", {}).get("fp32"), large) if p and os.path.exists(p)]
    lat = measure_latency(timed, data, runs)
    old = metrics.get("latency") or {}
    if old.get("avx2_machine"):
        lat["avx2_machine"] = old["avx2_machine"]
    for mode in ("native", "avx2_cpuid_masked"):  # files not at hand (the FP32 reference): their last figures, dated
        for path, r in (old.get(mode) or {}).items():
            if isinstance(r, dict) and "median_ms" in r and path not in timed and isinstance(lat.get(mode), dict):
                lat[mode][path] = {**r, "measured_utc": r.get("measured_utc", old.get("measured_utc"))}
    metrics["latency"] = lat
    with open(metrics_path, "w") as f:
        json.dump(metrics, f, indent=1)
    print("latency:", json.dumps(lat), flush=True)


def eval_tflite(path: str, d: dict) -> tuple[dict, dict]:
    """Accuracy (single view and mirror-averaged), FER+ majority accuracy, reports."""
    res, raw = {}, {}
    for split in ("PrivateTest", "PublicTest"):
        m = d["usage"] == D.SPLITS[split]
        x, y = d["pixels"][m], d["label"][m].astype(np.int64)
        p1, e1 = predict_tflite(path, x, want_embedding=True)
        p2 = predict_tflite(path, x[:, :, ::-1].copy())
        pm = 0.5 * (p1 + p2)
        fp = D.ferplus_majority(d["ferplus_votes"][m])
        keep = fp >= 0
        r = {"n": int(len(y)), "ferplus_n": int(keep.sum())}
        for tag, p in (("", p1), ("mirror_", pm)):
            pred = p.argmax(1)
            r[f"{tag}accuracy"] = round(float((pred == y).mean()), 4)
            r[f"{tag}ferplus_majority_accuracy"] = round(float((pred[keep] == fp[keep]).mean()),
                                                        4)
        if split == "PrivateTest":
            r.update(classification_report(y, p1.argmax(1)))
            r["ferplus_report"] = classification_report(fp[keep], p1.argmax(1)[keep])
        res[split] = r
        raw[split] = (p1, e1)
    return res, raw


def folded_params(net) -> int:
    """Parameters of the deployed graph: weights of every conv/linear layer plus one bias per
    output channel (BatchNorm folded into the preceding layer)."""
    import torch.nn as nn
    n = 0
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            n += m.weight.numel()
            n += m.out_channels if isinstance(m, nn.Conv2d) else m.out_features
    return n


def sha256(path: str) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def keep_avx2_machine(old_path: str, metrics: dict) -> None:
    """Carry a real AVX2 machine's latency (tools/avx2_machine_latency, run elsewhere) over from
    the metrics being replaced when the architecture is the same: latency follows the layers,
    not the weights. It keeps the sha256 of the file it timed, so the card can say so."""
    if not os.path.exists(old_path):
        return
    old = json.load(open(old_path))
    real = (old.get("latency") or {}).get("avx2_machine")
    if not real or old.get("architecture", {}).get("config") != metrics["architecture"]["config"]:
        return
    metrics["latency"]["avx2_machine"] = {"model_sha256": old.get("sha256"), **real}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=D.DEFAULT_DATA)
    ap.add_argument("--out", default="training/out/emotion_small")
    ap.add_argument("--models-dir", default=None,
                    help="where the .tflite and the metrics JSON go; default OUT/models. Pass "
                         "--models-dir models to make the result the package's default model")
    ap.add_argument("--name", default="affective_cnn")
    ap.add_argument("--large", default=DEFAULT_TEACHER,
                    help="the large model, timed alongside")
    ap.add_argument("--calib-n", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--latency-runs", type=int, default=500)
    ap.add_argument("--train-command", default="")
    ap.add_argument("--latency-only", action="store_true",
                    help="only time the files named in MODELS/NAME.metrics.json again (no torch or "
                         "TensorFlow needed) and update its latency; then re-render the card (small_card)")
    a = ap.parse_args(argv)

    a.models_dir = a.models_dir or os.path.join(a.out, "models")
    if a.latency_only:
        relatency(os.path.join(a.models_dir, f"{a.name}.metrics.json"), a.data, a.latency_runs, a.large)
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import torch
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    torch.set_num_threads(1)

    from .export import convert
    from .small_keras import build_keras, load_torch_weights, serving_fn
    from .small_model import CONFIGS, SmallAffectiveCNN, count_macs, n_params
    from .soup import provenance

    best = torch.load(os.path.join(a.out, "best.pt"), map_location="cpu", weights_only=False)
    cfg = best["config"]
    net = SmallAffectiveCNN(cfg)
    net.load_state_dict(best["state_dict"])
    net.eval()
    trunk = build_keras(cfg)
    load_torch_weights(trunk, best["state_dict"])

    d = D.load(a.data)
    xpriv, _ = D.split(d, "PrivateTest")
    xr = xpriv[:256].astype(np.float32) / 255.0
    with torch.no_grad():
        tl, te = [t.numpy() for t in net(torch.from_numpy(xr)[:, None])]
    kp, ke, kl = [t.numpy() for t in trunk(xr[..., None], training=False)]
    verify = {"n_images": 256, "max_abs_diff_logits": float(np.abs(kl - tl).max()),
              "max_abs_diff_embedding": float(np.abs(ke - te).max()),
              "argmax_identical": bool((kl.argmax(1) == tl.argmax(1)).all())}
    print("keras vs torch:", verify, flush=True)
    assert verify["argmax_identical"] and verify["max_abs_diff_logits"] < 1e-3, verify

    serve = serving_fn(trunk, mirror=False)
    rng = np.random.default_rng(a.seed)
    xtr, _ = D.split(d, "Training")
    calib = xtr[np.sort(rng.choice(len(xtr), a.calib_n, replace=False))]
    fp32_bytes = convert(serve, trunk)
    int8_bytes = convert(serve, trunk, calib)
    assert len(int8_bytes) <= 2 * 1024 * 1024
    os.makedirs(a.models_dir, exist_ok=True)
    int8_path = os.path.join(a.models_dir, f"{a.name}_int8.tflite")
    fp32_path = os.path.join(a.out, f"{a.name}_small_fp32.tflite")
    open(int8_path, "wb").write(int8_bytes)
    open(fp32_path, "wb").write(fp32_bytes)
    fp_t = predict_tflite(fp32_path, xpriv[:256])
    verify["tflite_fp32_vs_keras_max_abs_diff_probabilities"] = float(np.abs(fp_t - kp).max())

    res8, raw8 = eval_tflite(int8_path, d)
    print("int8:", {s: {k: v for k, v in r.items() if "accuracy" in k} for s, r in res8.items()},
          flush=True)
    res32, raw32 = eval_tflite(fp32_path, d)
    print("fp32:", {s: {k: v for k, v in r.items() if "accuracy" in k} for s, r in res32.items()},
          flush=True)
    p8, e8 = raw8["PrivateTest"]
    p32, e32 = raw32["PrivateTest"]
    agreement = {
        "argmax_agreement_private": round(float((p8.argmax(1) == p32.argmax(1)).mean()), 4),
        "probabilities_mean_abs_diff": round(float(np.abs(p8 - p32).mean()), 5),
        "embedding_cosine_mean": round(float(np.mean(np.sum(e8 * e32, 1) / (
            np.linalg.norm(e8, axis=1) * np.linalg.norm(e32, axis=1) + 1e-9))), 4)}

    timed = [int8_path, fp32_path] + ([a.large] if os.path.exists(a.large) else [])
    lat = measure_latency(timed, a.data, a.latency_runs)
    print("latency:", json.dumps(lat), flush=True)

    info8 = tensor_info(int8_path)
    result = json.load(open(os.path.join(a.out, "result.json")))
    pretraining = None  # a fine-tune (--init) records the run it started from
    soup = provenance(result) if result.get("soup") else None
    inits = {r["args"].get("init") for r in soup["runs"].values()} - {None, ""} if soup else set()
    if len(inits) > 1:
        raise SystemExit(f"the soup's fine-tunes started from different runs: {sorted(inits)}")
    init = inits.pop() if inits else (result.get("args") or {}).get("init")
    if init and os.path.exists(os.path.join(os.path.dirname(init), "result.json")):
        r0 = json.load(open(os.path.join(os.path.dirname(init), "result.json")))
        pretraining = {"init": init, **{k: r0.get(k) for k in (
            "best", "epochs", "train_time_s", "args", "torch_fp32")}}
    import ai_edge_litert  # noqa: F401
    tpath = os.path.join(a.out, "targets.npz")
    tg = np.load(tpath) if os.path.exists(tpath) else {}
    teacher_sha = str(tg["teacher_sha256"]) if "teacher_sha256" in tg else None
    teacher_views = str(tg["teacher_views"]) if "teacher_views" in tg else "single"
    stem, blocks, c_last = CONFIGS[cfg]
    metrics = {
        "model": int8_path, "sha256": sha256(int8_path),
        "created_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dataset": {"path_given": a.data, "train": "FER2013 Training (usage 0, 28709)",
                    "select": "PublicTest (usage 1, 3589)",
                    "report": "PrivateTest (usage 2, 3589), original FER2013 labels"},
        "classes": list(D.CLASSES),
        "architecture": {"config": cfg, "stem": stem, "inverted_residual_stages":
                         [dict(zip(("expand", "channels", "blocks", "stride"), b))
                          for b in blocks],
                         "head_channels": c_last, "embedding_dim": 256,
                         "multiply_accumulates": count_macs(SmallAffectiveCNN(cfg)),
                         "params_training": n_params(net), "params_deployed": folded_params(net),
                         "mirror_in_model": False},
        "preprocessing": {k: info8[k] for k in ("input", "probabilities", "embedding")},
        "int8": res8, "fp32": res32,
        "int8_vs_fp32": {
            "private_acc_delta_points": round(100 * (res8["PrivateTest"]["accuracy"] -
                                                     res32["PrivateTest"]["accuracy"]), 2),
            "public_acc_delta_points": round(100 * (res8["PublicTest"]["accuracy"] -
                                                    res32["PublicTest"]["accuracy"]), 2),
            **agreement},
        "torch_fp32": result.get("torch_fp32"),
        "keras_verification": verify,
        "quantization": {"calibration": f"{a.calib_n} random Training images (seed {a.seed})",
                         "int8_ops": info8["ops"],
                         "float32_tensors_in_int8_model": info8["float32_tensors"],
                         "tensor_dtype_counts": info8["tensor_dtypes"]},
        "sizes_bytes": {"int8_tflite": len(int8_bytes), "fp32_tflite": len(fp32_bytes)},
        "files": {"int8": int8_path, "fp32": fp32_path},
        "latency": lat,
        "training": {"teacher_sha256": teacher_sha, "teacher_views": teacher_views,
                     **{k: result.get(k) for k in ("best", "epochs", "train_time_s", "args",
                                                   "history")},
                     "pretraining": pretraining, "soup": soup},
        "versions": {"tensorflow": tf.__version__, "torch": torch.__version__,
                     "numpy": np.__version__},
        "commands": {"train": a.train_command or "python -m training.emotion.small_train "
                              "--data ../shared/datasets/fer2013.npz --out " + a.out,
                     "export": "python -m training.emotion.small_export --data "
                               "../shared/datasets/fer2013.npz --out " + a.out,
                     "evaluate": f"python -m training.emotion.evaluate --model {int8_path} "
                                 "--data ../shared/datasets/fer2013.npz"},
    }
    mpath = os.path.join(a.models_dir, f"{a.name}.metrics.json")
    keep_avx2_machine(mpath, metrics)
    with open(mpath, "w") as f:
        json.dump(metrics, f, indent=1)
    print(f"wrote {int8_path} ({len(int8_bytes)} B) and {mpath}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
