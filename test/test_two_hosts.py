"""Nodes on two hosts: the face node on a "camera computer" and the emotion node on a "compute
box", two network namespaces joined by a veth pair, talking DDS over that link only.

Fast DDS runs with config/fastdds_udp_only.xml (UDPv4, no shared memory: the namespaces share
this kernel's /dev/shm, and Fast DDS would otherwise pass data through it) and the default
discovery (multicast on the subnet). The image goes in on host A, the FaceArray crosses to host
B, and the Emotion crosses back carrying the image's header; the veth byte counters show the
traffic went over the link. Skipped, with the reason, where network namespaces cannot be made
(not root, no `ip`, a container without CAP_NET_ADMIN).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "config" / "fastdds_udp_only.xml"
TAG = f"{os.getpid() % 100000}"
NS_A, NS_B = f"sentin_a{TAG}", f"sentin_b{TAG}"
VETH_A, VETH_B = f"sva{TAG}", f"svb{TAG}"


def _ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True)


@pytest.fixture
def two_hosts():
    if shutil.which("ip") is None:
        pytest.skip("no `ip` command (iproute2) to create network namespaces")
    made = _ip("netns", "add", NS_A)
    if made.returncode != 0:
        pytest.skip(f"cannot create network namespaces here: {made.stderr.strip()}")
    try:
        steps = [
            ("netns", "add", NS_B),
            ("link", "add", VETH_A, "type", "veth", "peer", "name", VETH_B),
            ("link", "set", VETH_A, "netns", NS_A), ("link", "set", VETH_B, "netns", NS_B),
            ("-n", NS_A, "addr", "add", "10.213.0.1/24", "dev", VETH_A), ("-n", NS_B, "addr", "add", "10.213.0.2/24", "dev", VETH_B),
            ("-n", NS_A, "link", "set", "lo", "up"), ("-n", NS_B, "link", "set", "lo", "up"),
            ("-n", NS_A, "link", "set", VETH_A, "up"), ("-n", NS_B, "link", "set", VETH_B, "up"),
            # as on a LAN: a default route, so the discovery multicast has a way out
            ("-n", NS_A, "route", "add", "default", "dev", VETH_A), ("-n", NS_B, "route", "add", "default", "dev", VETH_B),
        ]
        for step in steps:
            r = _ip(*step)
            if r.returncode != 0:
                pytest.skip(f"cannot set up the veth link ({' '.join(step)}): {r.stderr.strip()}")
        yield
    finally:
        _ip("netns", "del", NS_A)
        _ip("netns", "del", NS_B)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ROS_AUTOMATIC_DISCOVERY_RANGE", None)  # the tests' LOCALHOST would keep the hosts apart
    env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", FASTRTPS_DEFAULT_PROFILES_FILE=str(PROFILE),
               RMW_IMPLEMENTATION="rmw_fastrtps_cpp")
    return env


def _in(ns: str, *cmd: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *cmd]


def _tx_bytes(ns: str, dev: str) -> int:
    out = subprocess.run(_in(ns, "cat", f"/sys/class/net/{dev}/statistics/tx_bytes"), capture_output=True, text=True)
    return int(out.stdout.strip() or 0)


def test_face_node_on_one_host_and_emotion_node_on_another(two_hosts, tmp_path):
    ns = f"th{TAG}"
    env = _env()
    logs = {name: (tmp_path / f"{name}.log").open("w") for name in ("face", "emotion")}
    procs = [
        # Images stay on host A but travel as UDP there (the profile has no shared memory): a best-effort
        # subscriber loses most 0.9 MB frames to a full socket buffer, so the face node asks for them reliably.
        subprocess.Popen(_in(NS_A, sys.executable, "scripts/face_node", "--ros-args", "-r", f"__ns:=/{ns}",
                               "-p", "reliability:=reliable"),
                         cwd=ROOT, env=env, stdout=logs["face"], stderr=subprocess.STDOUT),
        subprocess.Popen(_in(NS_B, sys.executable, "scripts/emotion_node", "--ros-args", "-r", f"__ns:=/{ns}"),
                         cwd=ROOT, env=env, stdout=logs["emotion"], stderr=subprocess.STDOUT),
    ]
    try:
        before_a, before_b = _tx_bytes(NS_A, VETH_A), _tx_bytes(NS_B, VETH_B)
        run = subprocess.run(_in(NS_A, sys.executable, "test/two_host_driver.py", ns, "20"), cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=180)
        lines = run.stdout.strip().splitlines()
        assert lines, run.stderr[-3000:]
        result = json.loads(lines[-1])
        sent_a, sent_b = _tx_bytes(NS_A, VETH_A) - before_a, _tx_bytes(NS_B, VETH_B) - before_b
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        codes = [p.wait(30) for p in procs]
    detail = f"{result}\nface:\n{(tmp_path / 'face.log').read_text()[-1500:]}\nemotion:\n{(tmp_path / 'emotion.log').read_text()[-1500:]}"
    assert result["transitions"] == {"emotion_node": [True, True], "face_node": [True, True]}, detail
    assert result["emotions"] >= 10 and result["with_image_stamp"] == result["emotions"], detail
    assert result["frame_ids"] == ["camera_optical"] and result["labels"] == ["happy"], detail
    # FaceArrays (~8 KB each) went A -> B and Emotions came back B -> A over the veth link
    assert sent_a > 10 * 8000 and sent_b > 10 * 300, (sent_a, sent_b)
    assert codes == [0, 0], detail
