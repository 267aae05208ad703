"""QoS profiles. Images default to sensor-data QoS (best effort, depth 1, volatile)."""
from __future__ import annotations

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

RELIABILITY = {"best_effort": ReliabilityPolicy.BEST_EFFORT, "reliable": ReliabilityPolicy.RELIABLE}


def image_qos(reliability: str = "best_effort", depth: int = 1) -> QoSProfile:
    if reliability not in RELIABILITY:
        raise ValueError(f"reliability must be one of {sorted(RELIABILITY)}, got {reliability!r}")
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=max(1, int(depth)),
        reliability=RELIABILITY[reliability], durability=DurabilityPolicy.VOLATILE,
    )


def output_qos(depth: int = 10) -> QoSProfile:
    """Perception outputs: reliable, so both best-effort and reliable subscribers match."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=depth,
        reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE,
    )
