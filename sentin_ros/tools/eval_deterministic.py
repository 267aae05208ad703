"""Deterministic evaluation: every frame of a bag, in order, through the in-process PerceptionPipeline
(no ROS, no drops); the outputs are a pure function of the bag.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import time
from collections.abc import Callable
from dataclasses import is_dataclass

from .bags import BagReader
from .eval_common import STAGES, EvalError, ResourceMonitor, canonical_json, percentiles, summarize
from .eval_metrics import analyse
from .output_recorder import OutputRecorder


# -- which stages can run ---------------------------------------------------------------------
def stage_availability(want=STAGES, model_paths: dict[str, str] | None = None) -> tuple[dict, dict[str, str]]:
    """({stage: model path} that can be tried, {stage: reason} for the ones skipped)."""
    from ..inference.model_paths import default_model_path

    ok, skipped = {}, {}
    for stage in STAGES:
        if stage not in want:
            skipped[stage] = "not requested"
            continue
        path = (model_paths or {}).get(stage) or default_model_path(stage)
        module = f"sentin_ros.inference.{stage}"
        if stage != "emotion" and importlib.util.find_spec(module) is None:
            skipped[stage] = f"{module} is not in this checkout yet"
        elif not os.path.isfile(path):
            skipped[stage] = f"model {os.path.relpath(path)} is absent"
        elif stage == "stress" and "emotion" not in ok:
            skipped[stage] = "needs the emotion model's embedding (emotion " + skipped.get("emotion", "off") + ")"
        else:
            ok[stage] = path
    return ok, skipped


def build_pipeline(want=STAGES, num_threads: int = 1, max_faces: int = 4, model_paths: dict[str, str] | None = None):
    """PerceptionPipeline with every stage that can run; (pipeline, {stage: reason skipped})."""
    from ..core.face_front_end import FrontEndConfig
    from ..core.face_pipeline import FacePipelineConfig
    from ..pipeline import PerceptionPipeline, PipelineConfig
    from ..runtime import ModelError

    ok, skipped = stage_availability(want, model_paths)
    for _ in range(len(STAGES) + 1):
        cfg = PipelineConfig(
            face=FacePipelineConfig(front_end=FrontEndConfig(max_faces=max_faces)),
            emotion="emotion" in ok, stress="stress" in ok, gaze="gaze" in ok, num_threads=num_threads,
        )
        for stage, path in ok.items():
            setattr(cfg, f"{stage}_model", path)
        try:
            return PerceptionPipeline(cfg), skipped
        except (ModelError, ImportError, ValueError, TypeError, AttributeError) as exc:
            culprit = next((s for s in STAGES if s in ok and (ok[s] in str(exc) or f"inference.{s}" in str(exc))), None)
            culprit = culprit or next((s for s in ("gaze", "stress", "emotion") if s in ok), None)
            if culprit is None:
                raise EvalError(f"cannot build the perception pipeline: {exc}") from exc
            skipped[culprit] = f"could not be loaded: {exc}"
            ok.pop(culprit)
            if culprit == "emotion" and "stress" in ok:
                ok.pop("stress")
                skipped["stress"] = "needs the emotion model's embedding (emotion could not be loaded)"
    raise EvalError("cannot build the perception pipeline")


def process_guarded(pipeline, image, stamp: float, encoding: str, skipped: dict, index: int = 0):
    """pipeline.process; a stage that raises (a model or tracker that does not fit the pipeline
    yet) is switched off with the reason, and the frame is processed again without it."""
    for _ in range(len(STAGES) + 1):
        try:
            return pipeline.process(image, stamp, encoding)
        except Exception as exc:  # attribute the failure to a stage, or give up
            text = f"{exc.__class__.__name__}: {exc}"
            culprit = next((s for s in ("gaze", "stress", "emotion") if getattr(pipeline, s, None) is not None and s in text.lower()), None)
            if culprit is None:
                tb = exc.__traceback__
                while tb is not None:
                    name = tb.tb_frame.f_code.co_filename
                    culprit = next((s for s in STAGES if name.endswith(f"inference/{s}.py") and getattr(pipeline, s, None) is not None), culprit)
                    tb = tb.tb_next
            if culprit is None:
                raise EvalError(f"the perception pipeline failed on frame {index}: {text}") from exc
            stage = getattr(pipeline, culprit)
            setattr(pipeline, culprit, None)
            try:  # release its interpreter now: pipeline.close() no longer sees it
                getattr(stage, "model", stage).close()
            except Exception:  # closing a half-working stage must not hide the reason
                pass
            skipped[culprit] = f"failed on frame {index} and was switched off: {text}"
            if culprit == "emotion" and getattr(pipeline, "stress", None) is not None:
                pipeline.stress = None
                skipped["stress"] = "needs the emotion stage, which failed"
    raise EvalError(f"the perception pipeline failed on frame {index}")


# -- per-frame record (the output schema shared by both modes) --------------------------------
def emotion_record(label, confidence, probabilities, valence, arousal) -> dict:
    return {"label": label, "confidence": confidence, "probabilities": list(probabilities), "valence": valence, "arousal": arousal}


def frame_record_from_result(stamp_ns: int, result) -> dict:
    faces = []
    for r in result.faces:
        f = r.face
        rec = {"face_id": f.face_id, "roi": list(f.roi), "score": f.score, "yaw": f.yaw, "pitch": f.pitch, "roll": f.roll}
        if r.emotion is not None:
            e = r.emotion
            rec["emotion"] = emotion_record(e.label, e.confidence, e.probabilities, e.valence, e.arousal)
        if r.stress is not None:
            rec["stress"] = summarize(r.stress) if is_dataclass(r.stress) else r.stress
        if r.gaze is not None:
            rec["gaze"] = summarize(r.gaze) if is_dataclass(r.gaze) else r.gaze
        faces.append(rec)
    return {"stamp_ns": int(stamp_ns), "width": result.width, "height": result.height, "faces": faces}


# -- deterministic ----------------------------------------------------------------------------
def evaluate_deterministic(
    bag: str, image_topic: str | None = None, stages=STAGES, num_threads: int = 1, max_faces: int = 4,
    max_frames: int = 0, progress: Callable[[int], None] | None = None, record_outputs: str | None = None,
    model_paths: dict[str, str] | None = None,
) -> dict:
    """model_paths: {"emotion"|"stress"|"gaze": .tflite} instead of the committed models (candidates)."""
    with BagReader(bag, image_topic) as reader:
        info = reader.info
        total = min(info.frames, max_frames) if max_frames else info.frames
        pipeline, skipped = build_pipeline(stages, num_threads, max_faces, model_paths)
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
                    result = process_guarded(pipeline, frame.image, frame.stamp_ns * 1e-9, frame.encoding, skipped, n)
                    nf = len(result.faces)
                    for k, v in result.timings_ms.items():
                        if k in STAGES:  # model stages: per face, on frames with faces
                            if nf:
                                timings[k].append(v / nf)
                        else:
                            timings.setdefault(k, []).append(v)
                    rec = frame_record_from_result(frame.stamp_ns, result)
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
        "mode": "deterministic", "bag": info.__dict__, "stages": _stage_states(skipped), "skipped": skipped,
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


def _stage_states(skipped: dict) -> dict:
    return {s: ("skipped: " + skipped[s]) if s in skipped else "on" for s in STAGES}
