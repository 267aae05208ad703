"""Shared fixtures. ROS tests run real rclpy in this process, on a domain of their own."""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"

# Keep parallel runs (and other ROS graphs on this machine) apart.
os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 100)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

needs_shared = pytest.mark.skipif(
    not (SHARED / "datasets" / "fer2013.npz").exists(),
    reason="needs ../shared/datasets/fer2013.npz beside the checkout (developers' data; not in a fresh clone)",
)


@pytest.fixture
def ros():
    """A real rclpy context, executor and helper node for one node test (test/ros_harness.py)."""
    from test.ros_harness import RosHarness

    h = RosHarness()
    yield h
    h.close()


@pytest.fixture(scope="session")
def astronaut_bgr():
    import cv2

    from sentin_ros.media.synthetic import astronaut_rgb

    return cv2.cvtColor(astronaut_rgb(), cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="session")
def face_pipeline_factory():
    from sentin_ros.core.face_pipeline import FacePipeline

    made = []

    def make(**kwargs):
        p = FacePipeline(**kwargs)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()
