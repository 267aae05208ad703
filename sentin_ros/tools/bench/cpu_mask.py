"""`--avx2-kernels`: the benchmark on this CPU with CPUID reporting AVX2 and nothing newer.

Issue 13's goals were set on an AVX2 machine, and the INT8 models run several times slower
there than with AVX-512 VNNI. XNNPACK, OpenCV and numpy choose their kernels from CPUID once per
process, so `benchmarks/avx2only.c` (an LD_PRELOAD shim using Linux's CPUID faulting) makes
every process of the run, the node processes it starts included, take their AVX2 kernels. It
is still this core, its caches and its clock: an estimate of an AVX2 machine, reported as such.
"""
from __future__ import annotations

import os
import subprocess
import sys

from .common import ROOT

SHIM_SOURCE = ROOT / "benchmarks" / "avx2only.c"
SHIM = ROOT / "out" / "avx2only.so"
ENV_FLAG = "SENTIN_BENCH_AVX2_KERNELS"
_CV_CPU_AVX_512F = 13  # cv::CPU_AVX_512F (not exported to Python)


def cpu_flags() -> list[str]:
    """/proc/cpuinfo's flags (the real ones, masked or not)."""
    try:
        return next(line.split(":", 1)[1].split() for line in open("/proc/cpuinfo") if line.startswith("flags"))
    except (OSError, StopIteration):
        return []


def requested() -> bool:
    """True in a process started under the mask (the variable travels to child processes)."""
    return os.environ.get(ENV_FLAG) == "1"


def describe(machine: dict) -> dict:
    """The machine as the masked processes see it: /proc/cpuinfo still lists the real flags."""
    real = machine.get("instruction_set", "")
    seen = [f for f in real.split() if not f.startswith(("avx512", "amx")) and "vnni" not in f]
    return {**machine, "instruction_set": " ".join(seen), "cpuid_masked": {
        "kernels": "AVX2: CPUID masked by benchmarks/avx2only.c (LD_PRELOAD) in every process of the run; "
                   "this CPU's cores, caches and clock, so an estimate of an AVX2 machine", "real_instruction_set": real}}


def build_shim() -> str:
    """Compile the shim; a clear error where this machine cannot mask CPUID."""
    flags = cpu_flags()
    if "avx2" not in flags:
        raise SystemExit("--avx2-kernels: this CPU has no AVX2")
    if "cpuid_fault" not in flags:
        raise SystemExit("--avx2-kernels: this CPU cannot fault on CPUID (no cpuid_fault flag), so CPUID cannot be masked here")
    SHIM.parent.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(SHIM), str(SHIM_SOURCE)], check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise SystemExit("--avx2-kernels: needs gcc to build benchmarks/avx2only.c") from None
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"--avx2-kernels: building {SHIM_SOURCE.name} failed:\n{e.stderr}") from None
    return str(SHIM)


def reexec(argv: list[str]) -> None:
    """Replace this process by the same benchmark under the shim (kernels are chosen at start-up)."""
    env = dict(os.environ, LD_PRELOAD=" ".join(filter(None, [build_shim(), os.environ.get("LD_PRELOAD", "")])), **{ENV_FLAG: "1"})
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "sentin_ros.tools.bench.cli", *argv], env)


def check_masked() -> None:
    """Fail loudly if the shim did not take: the figures would be this CPU's own."""
    import cv2

    if cv2.checkHardwareSupport(_CV_CPU_AVX_512F) and any(f.startswith("avx512") for f in cpu_flags()):
        raise SystemExit("--avx2-kernels: the shim is loaded but CPUID still reports AVX-512 (is CPUID faulting allowed here?)")
