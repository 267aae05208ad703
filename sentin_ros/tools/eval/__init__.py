"""Replay a bag through the perception and measure it (`sentin-ros bag eval`).

deterministic (deterministic.py): every frame, in order, through the in-process PerceptionPipeline
    (no ROS, no drops); the outputs are a pure function of the bag, written as canonical JSON
    (byte-identical per run).
realtime (realtime.py): the bag published on a ROS graph at its recorded rate through the real
    lifecycle nodes; measures image-stamp -> output latency, dropped frames and output rates,
    like a robot would see them.

Both give the same per-frame record (records.py), so accuracy, traces (metrics.py) and the
report (report.py) are computed the same way.
"""
from ..bags import BagReader
from .common import STAGES, EvalError, Progress, ResourceMonitor, canonical_json, clean, percentiles, summarize
from .deterministic import build_pipeline, evaluate_deterministic
from .metrics import analyse, classification_metrics, compare_with_raw, main_face, raw_crop_reference, traces
from .realtime import evaluate_realtime
from .records import face_record, frame_record, record_from_messages, record_from_result

__all__ = [
    "STAGES", "EvalError", "Progress", "ResourceMonitor", "analyse", "build_pipeline", "canonical_json", "check_bag",
    "classification_metrics", "clean", "compare_with_raw", "evaluate_deterministic", "evaluate_realtime", "face_record",
    "frame_record", "main_face", "percentiles", "raw_crop_reference", "record_from_messages", "record_from_result",
    "summarize", "traces",
]


def check_bag(path: str, image_topic: str | None = None):
    """Open once to validate (raises BagError with the reason)."""
    with BagReader(path, image_topic) as r:
        return r.info
