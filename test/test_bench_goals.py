"""`make bench`'s goal column and its list of missed goals (issue 13's table), on made-up results."""
from sentin_ros.tools.bench.cli import goals, markdown


def _result(isa: str, emotion_ms: float, four_face_fps: float, emotion_p99: float) -> dict:
    return {
        "machine": {"instruction_set": isa, "date_utc": "2026-12-01", "cpu": "x", "cpus_usable": 2, "ram_gb": 24,
                    "git_commit": "abc", "load_avg_at_start": [0.5]},
        "inprocess": {"one_face": {"fps_pipeline": 150.0, "ms_per_frame": {"mean": 6.7}, "fps_with_bag_decode": 140.0}},
        "models": {"emotion INT8, 1 thread(s)": {"p50": emotion_ms, "p99": emotion_ms * 1.5}},
        "ros_30fps": {"fps": 30, "drops_total": 0, "latency_ms": {"emotion": {"n": 300, "p50": 20.0, "p99": emotion_p99}},
                      "active": {"rss_mb_max": 250.0, "cpu_cores_mean": 0.8}},
        "max_rate_four_faces": {"max_fps_without_drops": four_face_fps},
    }


def test_the_emotion_goal_is_judged_on_avx2_machines_only():
    slow = 1.2  # ms: over the 0.8 ms goal for one AVX2 core
    assert any(m.startswith("emotion") for m in goals(_result("avx2 fma", slow, 30, 40)))
    assert not any(m.startswith("emotion") for m in goals(_result("avx2 avx512f avx512_vnni", slow, 30, 40)))
    assert "not comparable" in markdown(_result("avx2 avx512f", slow, 30, 40))


def test_four_faces_at_camera_rate_and_the_emotion_latency_are_goals():
    assert goals(_result("avx2", 0.5, 30, 40)) == []
    missed = goals(_result("avx2", 0.5, 20, 75))
    assert any("4 faces" in m for m in missed) and any("p99 75.0" in m for m in missed)


def test_frames_neither_delivered_nor_counted_between_processes_miss_the_goal():
    res = _result("avx2", 0.5, 30, 40)
    res["processes_30fps"] = {"one_face": {"frames": 300, "frames_published": 300, "frames_unaccounted": 0, "latency_ms": {},
                                           "nodes": {"face": {"received": "290", "lost_before_callback": "10", "dropped": "0"}}}}
    assert goals(res) == []
    assert "neither 0" in markdown(res)
    res["processes_30fps"]["one_face"]["frames_unaccounted"] = 7
    assert any("7 frames neither delivered nor counted" in m for m in goals(res))


def test_the_peer_goal_is_judged_at_each_thread_budget_on_every_stage():
    res = _result("avx2", 0.5, 30, 40)
    fast = {"peer_fps": 16.0, "peer_faces_per_frame": 1.0, "ours_fps": 170.0, "ours_emotion_only_fps": 400.0, "ratio": 10.6, "ratio_emotion_only": 25.0}
    slow = dict(fast, peer_fps=30.0, ratio=5.7, ratio_emotion_only=13.3)
    res["peer"] = {"one_face": {"budgets": {"1 core": fast, "2 cores": slow}, "runs_fps_by_threads": {}}}
    missed = goals(res)
    assert len(missed) == 1 and "2 cores" in missed[0] and "5.7×" in missed[0]
    assert "emotion only, no iris): 400 fps = 25.00×" in markdown(res)


def test_a_masked_run_judges_the_emotion_goal_and_says_what_it_ran_on():
    from sentin_ros.tools.bench import cpu_mask

    real = "avx avx2 avx512_vnni avx512bw avx512f fma sse4_2"
    res = _result(real, 1.2, 30, 40)
    res["machine"] = cpu_mask.describe(res["machine"])
    assert res["machine"]["instruction_set"] == "avx avx2 fma sse4_2"
    assert any(m.startswith("emotion") for m in goals(res))  # judged: AVX2 kernels ran
    text = markdown(res)
    assert "masked to AVX2" in text and real in text and "not comparable" not in text


def test_the_emotion_goal_is_scaled_to_issue_13s_machine_by_the_large_model():
    res = _result("avx2 fma", 0.5, 30, 40)
    res["models"]["emotion INT8 large, 1 thread(s)"] = {"p50": 6.5, "p99": 7.0}
    row = next(line for line in markdown(res).splitlines() if "scaled" in line)
    assert "0.602 ms" in row and "13.0× slower" in row  # 0.5 / 6.5 × 7.83
    res["machine"]["instruction_set"] = "avx2 avx512f avx512_vnni"  # a ratio of other kernels: not scaled
    assert "scaled" not in markdown(res)


def test_the_cpuid_mask_reaches_child_processes(tmp_path):
    """What --avx2-kernels relies on: every process it starts sees CPUID without AVX-512."""
    import os
    import shutil
    import subprocess
    import sys

    import pytest

    from sentin_ros.tools.bench import cpu_mask

    flags = cpu_mask.cpu_flags()
    if "avx512f" not in flags or "cpuid_fault" not in flags or not shutil.which("gcc"):
        pytest.skip("needs an AVX-512 CPU with CPUID faulting (cpuid_fault) and gcc")
    shim = cpu_mask.build_shim()
    probe = "import cv2; print(int(cv2.checkHardwareSupport(13)))"  # cv::CPU_AVX_512F
    env = dict(os.environ, LD_PRELOAD=shim)
    grandchild = f"import subprocess, sys; print(subprocess.run([sys.executable, '-c', {probe!r}], capture_output=True, text=True).stdout.strip())"
    native = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    masked = subprocess.run([sys.executable, "-c", grandchild], env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert (native, masked) == ("1", "0")


def test_the_peer_ceiling_is_the_peers_frame_time_over_the_face_models_alone():
    from sentin_ros.tools.bench.cli import peer_ceiling

    res = _result("avx2", 0.5, 30, 40)
    res["stages"] = {"face landmarks (LiteRT, per face)": {"p50": 1.5}, "iris, both eyes (LiteRT, per face)": {"p50": 2.5}}
    budget = {"peer_fps": 12.5, "peer_faces_per_frame": 4.0, "ours_fps": 50.0, "ours_emotion_only_fps": 100.0, "ratio": 4.0, "ratio_emotion_only": 8.0}
    res["peer"] = {"four_faces": {"budgets": {"1 core": budget}}}  # the peer: 80 ms a frame
    res["peer_ceiling"] = ceiling = peer_ceiling(res)
    assert list(ceiling) == ["4 faces"] and abs(ceiling["4 faces"]["ratio"] - 5.0) < 1e-9  # 80 / (4 × 4)
    assert "| 5.0× | ≥ 10× |" in markdown(res)
