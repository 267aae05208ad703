"""Deterministic evaluation: every frame of a bag, in order, through the in-process PerceptionPipeline
(no ROS, no drops); the outputs are a pure function of the bag.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from ..bags import BagReader
from ..bags.recorder import OutputRecorder
from .common import STAGES, ResourceMonitor, canonical_json, percentiles
from .metrics import analyse
from .records import record_from_result, stage_states


def build_pipeline(want=STAGES, num_threads: int = 1, max_faces: int = 4, model_paths: dict[str, str] | None = None,
                   iris: bool = True, landmark_workers: int = 1, background_detection: bool = True):
    """The PerceptionPipeline with the requested stages; (pipeline, {stage: "not requested"} for the others)."""
    from ...core.face_front_end import FrontEndConfig
    from ...core.face_pipeline import FacePipelineConfig
    from ...pipeline import PerceptionPipeline, PipelineConfig

    skipped = {s: "not requested" for s in STAGES if s not in want}
    cfg = PipelineConfig(
        face=FacePipelineConfig(front_end=FrontEndConfig(max_faces=max_faces, iris=iris, landmark_workers=landmark_workers,
                                                                   background_detection=background_detection)),
        emotion="emotion" in want, stress="stress" in want, gaze="gaze" in want, num_threads=num_threads,
    )
    for stage, path in (model_paths or {}).items():
        setattr(cfg, f"{stage}_model", path)
    return PerceptionPipeline(cfg), skipped


# -- deterministic ----------------------------------------------------------------------------
def evaluate_deterministic(
    bag: str, image_topic: str | None = None, stages=STAGES, num_threads: int = 1, max_faces: int = 4,
    max_frames: int = 0, progress: Callable[[int], None] | None = None, record_outputs: str | None = None,
    model_paths: dict[str, str] | None = None, iris: bool = True, landmark_workers: int = 1, background_detection: bool = True,
) -> dict:
    """model_paths: {"emotion"|"stress"|"gaze": .tflite} instead of the committed models (candidates)."""
    with BagReader(bag, image_topic) as reader:
        info = reader.info
        total = min(info.frames, max_frames) if max_frames else info.frames
        pipeline, skipped = build_pipeline(stages, num_threads, max_faces, model_paths, iris, landmark_workers, background_detection)
        frames, timings = [], {"decode": [], "face": [], "emotion": [], "stress": [], "gaze": [], "total": []}
        recorder = OutputRecorder(record_outputs) if record_outputs else None
        try:
            with ResourceMonitor() as mon:
                it = iter(reader)
                for n in range(total):
                    t0 = time.perf_counter()
                    try:
                        frame = next(it)
                    except StopIteration:
                        break
                    timings["decode"].append((time.perf_counter() - t0) * 1e3)
                    result = pipeline.process(frame.image, frame.stamp_ns * 1e-9, frame.encoding)
                    nf = len(result.faces)
                    for k, v in result.timings_ms.items():
                        if k in STAGES:  # model stages: per face, on frames with faces
                            if nf:
                                timings[k].append(v / nf)
                        else:
                            timings.setdefault(k, []).append(v)
                    rec = record_from_result(frame.stamp_ns, result)
                    if frame.label is not None:
                        rec["label"] = frame.label
                    frames.append(rec)
                    if recorder is not None:
                        recorder.write_result(frame.stamp_ns, frame.frame_id, result)
                    if progress is not None:
                        progress(n + 1)
        finally:
            pipeline.close()
            if recorder is not None:
                recorder.close()
    for stage in skipped:
        timings.pop(stage, None)
    outputs = canonical_json(frames)
    result = {
        "mode": "deterministic", "bag": info.__dict__, "stages": stage_states(skipped), "skipped": skipped,
        "frames_in_bag": info.frames, "frames_processed": len(frames), "dropped": 0,
        "timings_ms": {k: percentiles(v) for k, v in timings.items() if v},
        "timings_ms_raw": {k: v for k, v in timings.items() if v},
        "resources": mon.result, "outputs_sha256": hashlib.sha256(outputs.encode()).hexdigest(),
        "recorded_outputs": recorder.summary() if recorder else None,
        "model_paths": {s: getattr(pipeline.config, f"{s}_model") for s in STAGES if s not in skipped},
    }
    result.update(analyse(frames))
    result["frames"] = frames
    result["outputs_json"] = outputs
    return result
