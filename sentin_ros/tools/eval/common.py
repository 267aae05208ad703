"""Helpers shared by the bag evaluators: stage names, the error type, canonical JSON, percentiles,
the progress bar and the CPU/RSS monitor.
"""
from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from dataclasses import fields, is_dataclass

import numpy as np

STAGES = ("emotion", "stress", "gaze")


class EvalError(RuntimeError):
    """The evaluation cannot run as asked; the message says why."""


# -- small helpers ----------------------------------------------------------------------------
def clean(x, ndigits: int = 6):
    """JSON-safe, canonical: floats rounded, NaN/inf -> None, numpy -> python, dataclasses -> dicts."""
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, int | np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        v = float(x)
        return round(v, ndigits) if math.isfinite(v) else None
    if isinstance(x, np.ndarray):
        return [clean(v, ndigits) for v in x.tolist()]
    if isinstance(x, dict):
        return {str(k): clean(v, ndigits) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [clean(v, ndigits) for v in x]
    if is_dataclass(x):
        return clean(summarize(x), ndigits)
    if isinstance(x, str) or x is None:
        return x
    return str(x)


def summarize(obj, max_len: int = 16) -> dict:
    """Scalar and short-vector fields of an estimate dataclass (embeddings and windows left out)."""
    out = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, np.ndarray) and v.size > max_len or isinstance(v, list | tuple) and len(v) > max_len:
            continue
        if f.name == "embedding":
            continue
        out[f.name] = summarize(v) if is_dataclass(v) else v
    return out


def percentiles(values) -> dict:
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return {"n": 0}
    return {
        "n": int(v.size), "mean": float(v.mean()), "p50": float(np.percentile(v, 50)), "p90": float(np.percentile(v, 90)),
        "p99": float(np.percentile(v, 99)), "max": float(v.max()), "min": float(v.min()),
    }


def canonical_json(obj) -> str:
    return json.dumps(clean(obj), sort_keys=True, separators=(",", ":"))


class Progress:
    """A plain stderr progress bar; redraws at most 5×/s (every 10% when stderr is not a terminal)."""

    def __init__(self, total: int, label: str = "", stream=None, enabled: bool = True):
        self.total, self.label, self.enabled = max(total, 0), label, enabled
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.monotonic()
        self._last = 0.0
        self._last_decile = -1

    def __call__(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        frac = done / self.total if self.total else 0.0
        rate = done / max(now - self.start, 1e-9)
        if self.tty:
            if now - self._last < 0.2 and done < self.total:
                return
            bar = "#" * int(30 * frac) + "." * (30 - int(30 * frac))
            self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total} {rate:5.1f}/s")
            if done >= self.total:
                self.stream.write("\n")
        else:
            decile = int(frac * 10)
            if decile == self._last_decile:
                return
            self._last_decile = decile
            self.stream.write(f"{self.label} {done}/{self.total} ({100 * frac:.0f}%, {rate:.1f}/s)\n")
        self._last = now
        self.stream.flush()


class ResourceMonitor:
    """psutil samples of this process: CPU (cores busy) and RSS, every `period` seconds."""

    def __init__(self, period: float = 0.25, pid: int | None = None):
        import psutil

        self.proc = psutil.Process(pid or os.getpid())
        self.period = period
        self.rss: list[float] = []
        self.cpu: list[float] = []
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self):
        self._t0 = time.monotonic()
        self._c0 = self.proc.cpu_times()
        self.proc.cpu_percent(None)
        self.rss_start = self.proc.memory_info().rss / 2**20
        self._thread = threading.Thread(target=self._run, daemon=True, name="resource_monitor")
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.rss.append(self.proc.memory_info().rss / 2**20)
            self.cpu.append(self.proc.cpu_percent(None) / 100.0)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        c1, wall = self.proc.cpu_times(), time.monotonic() - self._t0
        busy = (c1.user - self._c0.user) + (c1.system - self._c0.system)
        self.result = {
            "wall_s": wall, "cpu_s": busy, "cpu_cores_mean": busy / max(wall, 1e-9),
            "cpu_cores_samples": percentiles(self.cpu), "rss_mb_start": self.rss_start,
            "rss_mb_end": self.proc.memory_info().rss / 2**20, "rss_mb_max": max(self.rss + [self.rss_start]),
            "rss_mb_samples": self.rss, "cpu_samples": self.cpu, "sample_period_s": self.period,
        }
