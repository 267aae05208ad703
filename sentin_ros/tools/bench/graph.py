"""Through the ROS graph: latency, drops, CPU and RSS of a realtime replay in a child process, and the
highest rate sustained without drops.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from .common import ROOT, log


# -- through ROS ------------------------------------------------------------------------------
def ros_run(bag: str, fps: float, bag_rate: float, frames: int, warmup: int = 10, inactive_s: float = 0.0) -> dict:
    """One realtime replay in a fresh child process, so its CPU and RSS are the nodes' (plus the
    small bag player), not the benchmark's own frames and models."""
    args = {"bag": bag, "fps": fps, "bag_rate": bag_rate, "frames": frames, "warmup": warmup, "inactive_s": inactive_s}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    proc = subprocess.run([sys.executable, "-m", "sentin_ros.tools.bench.cli", "--ros-child", json.dumps(args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120 + frames / max(fps, 1) * 2 + inactive_s)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"realtime replay at {fps} fps failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}")
    return json.loads(lines[-1])


def _ros_run_here(bag: str, fps: float, bag_rate: float, frames: int, warmup: int = 10, inactive_s: float = 0.0) -> dict:
    from ..eval.realtime import evaluate_realtime

    r = evaluate_realtime(bag, rate=fps / bag_rate, max_frames=frames, warmup_frames=warmup, settle_s=5.0, inactive_probe_s=inactive_s)
    drops = r["drops"]
    node_drops = {s: v["dropped_after_warmup"] for s, v in r["node_stats"].items()}
    total_drops = drops["frames_without_output_after_warmup"] + drops.get("emotion_missing_faces_after_warmup", 0) + sum(
        node_drops.values())
    return {
        "fps": fps, "frames": frames, "warmup_frames": warmup, "stages": r["stages"], "nodes_via": r.get("nodes_via"),
        "latency_ms": {k: {kk: round(vv, 3) if isinstance(vv, float) else vv for kk, vv in v.items()} for k, v in r["latency_ms"].items()},
        "drops": drops, "node_dropped": node_drops, "node_dropped_in_warmup": {s: v["dropped"] - v["dropped_after_warmup"] for s, v in r["node_stats"].items()},
        "drops_total": int(total_drops), "player_late_frames": drops["player_late_frames"],
        "output_rate_hz": r["output_rate_hz"],
        "active": {k: r["resources"][k] for k in ("cpu_cores_mean", "rss_mb_max", "rss_mb_end", "wall_s")},
        "inactive": r.get("inactive_resources"),
    }


def max_sustained(bag: str, bag_rate: float, start_fps: float, seconds: float, max_frames: int) -> dict:
    """Highest rate (of those tried) with no dropped frame or face output after warm-up."""
    tried = []

    def trial(fps):
        frames = int(min(max_frames, max(60, fps * seconds)))
        r = ros_run(bag, fps, bag_rate, frames, warmup=10)
        tried.append({"fps": fps, "frames": frames, "drops_total": r["drops_total"], "late": r["player_late_frames"],
                      "faces_p50_ms": r["latency_ms"].get("faces", {}).get("p50"), "load_avg_1min": os.getloadavg()[0]})
        log(f"  {fps:.0f} fps: {r['drops_total']} dropped")
        return r["drops_total"] == 0

    fps = max(5.0, round(start_fps / 5) * 5)
    best = None
    if trial(fps):
        best = fps
        for _ in range(4):
            fps = round(fps * 1.25 / 5) * 5
            if not trial(fps):
                break
            best = fps
    else:
        for _ in range(6):
            fps = max(5.0, round(fps * 0.8 / 5) * 5)
            if trial(fps):
                best = fps
                break
            if fps <= 5:
                break
    return {"max_fps_without_drops": best, "tried": tried,
            "method": f"bag replayed through the ROS nodes at each rate for ~{seconds:.0f} s; a trial passes when no frame lacks a "
                      "FaceArray, no face lacks an Emotion, and no node replaced an unprocessed message (first 10 frames left out, from the "
                      "nodes' counts too: what they replaced while those went out is in node_dropped_in_warmup)"}
