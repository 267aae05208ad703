"""Shared by the benchmark modules: paths, goals, the machine description, the synthetic input frames
and the timing helpers.
"""
from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from ..eval.common import percentiles

ROOT = Path(__file__).resolve().parents[3]
SHARED_NPZ = ROOT.parent / "shared" / "datasets" / "fer2013.npz"
RESULTS = ROOT / "benchmarks" / "results"
FER_CACHE = ROOT / "out" / "fer"
# Issue 13's table (it restates issue 6's frame-rate and latency goals for a camera's 30 fps);
# RSS from issue 6. The emotion CNN's goal is for one AVX2 core: on a machine with AVX-512 VNNI
# the same INT8 model runs several times faster, so it is only checked where AVX-512 is absent.
GOALS = {"inprocess_fps_1face": 120.0, "ros30_emotion_p99_ms": 60.0, "max_fps_4faces": 30.0, "peer_ratio": 10.0,
         "rss_active_mb": 300.0, "emotion_ms_per_face_avx2": 0.8}


def avx512(machine_info: dict) -> bool:
    return "avx512" in str(machine_info.get("instruction_set", ""))


@contextlib.contextmanager
def cv2_threads(n: int | None):
    """OpenCV's own thread pool (warps, colour conversion, Haar's detectMultiScale) at `n` threads
    for the block; None leaves it alone. A comparison gives both sides the same cores."""
    before = cv2.getNumThreads()
    if n is not None:
        cv2.setNumThreads(int(n))
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def log(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


# -- machine ----------------------------------------------------------------------------------
def instruction_set() -> str:
    """The SIMD extensions XNNPACK picks its kernels by (from /proc/cpuinfo's flags): the same
    INT8 model runs several times faster with AVX-512 VNNI than with AVX2 alone."""
    try:
        flags = next(line.split(":", 1)[1].split() for line in open("/proc/cpuinfo") if line.startswith(("flags", "Features")))
    except (OSError, StopIteration):
        return platform.machine()
    keep = [f for f in flags if f in ("sse4_2", "avx", "avx2", "fma", "avx_vnni", "neon", "asimd", "asimddp")
            or f.startswith(("avx512", "amx"))]
    return " ".join(sorted(set(keep))) or platform.machine()


def machine() -> dict:
    import psutil

    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    versions = {}
    from importlib import metadata

    for pkg in ("mediapipe", "ai-edge-litert", "numpy", "opencv-contrib-python", "rosbags", "ros-jazzy-rclpy"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"), "host": platform.node(), "cpu": cpu,
        "instruction_set": instruction_set(),
        "logical_cpus": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1), "load_avg_at_start": os.getloadavg(),
        "os": platform.platform(), "python": platform.python_version(), "versions": versions, "git_commit": commit,
    }


# -- inputs -----------------------------------------------------------------------------------
def one_face_frames(n: int) -> list[np.ndarray]:
    """The synthetic clip without the face-loss stretch: one moving face, 640×480."""
    from ...media.synthetic import synthetic_clip

    return [f.bgr for f in synthetic_clip(n, (640, 480), leave=False)]


def four_face_frame() -> np.ndarray:
    """Four faces (the astronaut, rolled 0/8/-8/4°) tiled 2×2 into 640×480, each as large as the one-face case."""
    from ...media.synthetic import astronaut_rgb, place_face

    rgb = astronaut_rgb()
    tiles = [place_face(rgb, (320, 240), (160, 120), 1.0, a) for a in (0, 8, -8, 4)]
    return np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])])


def four_face_frames(n: int) -> list[np.ndarray]:
    base = four_face_frame()
    out = []
    for i in range(n):  # a small drift, so it is video and not one still image
        m = np.float32([[1, 0, 3 * np.sin(i / 10)], [0, 1, 2 * np.cos(i / 10)]])
        out.append(cv2.warpAffine(base, m, (640, 480), borderMode=cv2.BORDER_REPLICATE))
    return out


def time_ms(fn, n: int, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e3)
    return out


def stat(ms: list[float]) -> dict:
    p = percentiles(ms)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in p.items()}
