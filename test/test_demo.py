"""`make demo` = `python -m sentin_ros demo`: exits 0 on the generated clip and writes what it names."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_on_the_generated_clip(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "sentin_ros", "demo", "--frames", "20", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = proc.stdout
    assert "== sentin_ros demo summary ==" in text
    assert re.search(r"frames: 20 published, 20 processed by the face node", text), text[-2000:]
    assert re.search(r"^frame +\d+ +t= *[\d.]+s +face \d+ ", text, re.M), "no per-face line"
    assert "face_node" in text and "median ms" in text
    video = re.search(r"^annotated video: (\S+)$", text, re.M).group(1)
    sheet = re.search(r"^contact sheet: (\S+)$", text, re.M).group(1)
    for path in (video, sheet):
        assert Path(path).is_file() and Path(path).stat().st_size > 1000, path
    assert Path(video).parent == out and (out / "demo_clip.mp4").is_file()


def test_bag_and_bench_subcommands_reach_their_tools():
    for cmd, usage in (("bag", "usage: sentin-ros bag"), ("bench", "usage: sentin-ros bench")):
        proc = subprocess.run([sys.executable, "-m", "sentin_ros", cmd, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and usage in proc.stdout, proc.stdout + proc.stderr


def test_run_stops_cleanly_at_the_end_of_a_video(tmp_path):
    from sentin_ros.media.synthetic import write_clip

    clip = write_clip(str(tmp_path / "clip.mp4"), n_frames=10, leave=False)
    proc = subprocess.run(
        [sys.executable, "-m", "sentin_ros", "run", "--video", clip, "--models", "face", "--lockstep",
         "--namespace", f"run{os.getpid()}", "--ros-args", "-r", "image:=camera/image_raw"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "source finished" in proc.stdout
    assert "end of source: 10 frames published" in proc.stderr
    assert "face_node]: shut down" in proc.stderr
