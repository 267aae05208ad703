"""Replay a bag through the perception and measure it.

deterministic: every frame, in order, through the in-process PerceptionPipeline (no ROS, no drops);
    the outputs are a pure function of the bag, written as canonical JSON (byte-identical per run).
realtime: the bag published on a ROS graph at its recorded rate through the real lifecycle nodes
    (`evaluate_realtime`); measures image-stamp -> output latency, dropped frames and output
    rates, like a robot would see them.

Both give the same per-frame output schema (frame_record), so accuracy, traces and the report
are computed the same way.

The entry point; the work is in eval_common, eval_deterministic, replay (realtime), eval_metrics and
output_recorder, re-exported here for `from sentin_ros.tools import evaluate as ev`.
"""
from __future__ import annotations

from .bags import BagReader
from .eval_common import STAGES, EvalError, Progress, ResourceMonitor, canonical_json, clean, percentiles, summarize
from .eval_deterministic import (
    build_pipeline,
    emotion_record,
    evaluate_deterministic,
    frame_record_from_result,
    process_guarded,
    stage_availability,
)
from .eval_metrics import analyse, classification_metrics, compare_with_raw, main_face, raw_crop_reference, traces
from .output_recorder import OutputRecorder
from .replay import evaluate_realtime

__all__ = [
    "EvalError",
    "OutputRecorder",
    "Progress",
    "ResourceMonitor",
    "STAGES",
    "analyse",
    "build_pipeline",
    "canonical_json",
    "classification_metrics",
    "clean",
    "compare_with_raw",
    "emotion_record",
    "evaluate_deterministic",
    "evaluate_realtime",
    "frame_record_from_result",
    "main_face",
    "percentiles",
    "process_guarded",
    "raw_crop_reference",
    "stage_availability",
    "summarize",
    "traces",
    "check_bag",
]


def check_bag(path: str, image_topic: str | None = None):
    """Open once to validate (raises BagError with the reason)."""
    with BagReader(path, image_topic) as r:
        return r.info
