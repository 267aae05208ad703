"""Latency of the committed emotion models on a real AVX2-only machine, into the metrics JSON.

    python -m training.emotion.tools.avx2_machine_latency [--data ../shared/datasets/fer2013.npz] \
        [--metrics models/affective_cnn.metrics.json] [--runs 500]

small_export times the models where it trains; on a machine with AVX-512 its AVX2 row can only
be an emulation (CPUID masked). Run this on a machine whose CPU has AVX2 and no AVX-512: it
times the default and the large INT8 model in this one process, taking turns in rounds so that
a shared machine's drift hits both alike, and stores the result under latency.avx2_machine;
`python -m training.emotion.small_card` then puts it in the card. It refuses to run on a CPU
with AVX-512 (that would not be the figure the card says it is).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys

import numpy as np

from .. import data as D
from ..export import cpu_name, latency, load_avg
from ..small_export import isa_flags

MODELS = ("models/affective_cnn_int8.tflite", "models/affective_cnn_large_int8.tflite")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/datasets/fer2013.npz")
    ap.add_argument("--metrics", default="models/affective_cnn.metrics.json")
    ap.add_argument("--runs", type=int, default=500, help="timed invokes per model and round")
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args(argv)
    flags = isa_flags()
    if not flags["avx2"] or flags["avx512f"]:
        print(f"not an AVX2-only CPU ({cpu_name()}: avx2={flags['avx2']}, avx512f={flags['avx512f']}); nothing measured",
              file=sys.stderr)
        return 2
    images, _ = D.split(D.load(a.data), "PrivateTest")
    load_before = load_avg()
    rounds: dict[str, list[dict]] = {p: [] for p in MODELS}
    for _ in range(a.rounds):
        for p in MODELS:
            rounds[p].append(latency(p, images[:64], a.runs))
    per_model = {p: {"median_ms": round(float(np.median([r["median_ms"] for r in rs])), 3),
                     "p99_ms": round(float(np.median([r["p99_ms"] for r in rs])), 3),
                     "round_medians_ms": [r["median_ms"] for r in rs]} for p, rs in rounds.items()}
    small, large = (per_model[p]["median_ms"] for p in MODELS)
    per_model["large_over_default"] = round(large / small, 2)
    per_model.update({
        "cpu": cpu_name(), "cpu_count": os.cpu_count(), "isa_flags": flags, "threads": 1,
        "method": f"{a.rounds} rounds, each {a.runs} timed invokes per model (set_tensor + invoke + get_tensor) after 50 "
                  "warm-up ones, models in turn; median over rounds of each round's median",
        "load_average_1min_before": load_before, "load_average_1min_after": load_avg(),
        "measured_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    })
    m = json.load(open(a.metrics))
    per_model["model_sha256"] = m.get("sha256")  # the weights timed (small_export may carry this over)
    m["latency"]["avx2_machine"] = per_model
    with open(a.metrics, "w") as f:
        json.dump(m, f, indent=1)
    print(json.dumps(per_model, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
