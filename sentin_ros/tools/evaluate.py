"""Replay a bag through the perception and measure it.

deterministic: every frame, in order, through the in-process PerceptionPipeline (no ROS, no drops);
    the outputs are a pure function of the bag, written as canonical JSON (byte-identical per run).
realtime: the bag published on a ROS graph at its recorded rate through the real lifecycle nodes
    (`evaluate_realtime`); measures image-stamp -> output latency, dropped frames and output
    rates, like a robot would see them.

Both give the same per-frame output schema (frame_record), so accuracy, traces and the report
are computed the same way.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import fields, is_dataclass

import numpy as np

from ..inference.emotion import CLASSES
from .bags import BagReader

STAGES = ("emotion", "stress", "gaze")


class EvalError(RuntimeError):
    """The evaluation cannot run as asked; the message says why."""


# -- small helpers ----------------------------------------------------------------------------
def clean(x, ndigits: int = 6):
    """JSON-safe, canonical: floats rounded, NaN/inf -> None, numpy -> python, dataclasses -> dicts."""
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, int | np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        v = float(x)
        return round(v, ndigits) if math.isfinite(v) else None
    if isinstance(x, np.ndarray):
        return [clean(v, ndigits) for v in x.tolist()]
    if isinstance(x, dict):
        return {str(k): clean(v, ndigits) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [clean(v, ndigits) for v in x]
    if is_dataclass(x):
        return clean(summarize(x), ndigits)
    if isinstance(x, str) or x is None:
        return x
    return str(x)


def summarize(obj, max_len: int = 16) -> dict:
    """Scalar and short-vector fields of an estimate dataclass (embeddings and windows left out)."""
    out = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, np.ndarray) and v.size > max_len or isinstance(v, list | tuple) and len(v) > max_len:
            continue
        if f.name == "embedding":
            continue
        out[f.name] = summarize(v) if is_dataclass(v) else v
    return out


def percentiles(values) -> dict:
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return {"n": 0}
    return {
        "n": int(v.size), "mean": float(v.mean()), "p50": float(np.percentile(v, 50)), "p90": float(np.percentile(v, 90)),
        "p99": float(np.percentile(v, 99)), "max": float(v.max()), "min": float(v.min()),
    }


def canonical_json(obj) -> str:
    return json.dumps(clean(obj), sort_keys=True, separators=(",", ":"))


class Progress:
    """A plain stderr progress bar; redraws at most 5×/s (every 10% when stderr is not a terminal)."""

    def __init__(self, total: int, label: str = "", stream=None, enabled: bool = True):
        self.total, self.label, self.enabled = max(total, 0), label, enabled
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.monotonic()
        self._last = 0.0
        self._last_decile = -1

    def __call__(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        frac = done / self.total if self.total else 0.0
        rate = done / max(now - self.start, 1e-9)
        if self.tty:
            if now - self._last < 0.2 and done < self.total:
                return
            bar = "#" * int(30 * frac) + "." * (30 - int(30 * frac))
            self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total} {rate:5.1f}/s")
            if done >= self.total:
                self.stream.write("\n")
        else:
            decile = int(frac * 10)
            if decile == self._last_decile:
                return
            self._last_decile = decile
            self.stream.write(f"{self.label} {done}/{self.total} ({100 * frac:.0f}%, {rate:.1f}/s)\n")
        self._last = now
        self.stream.flush()


class ResourceMonitor:
    """psutil samples of this process: CPU (cores busy) and RSS, every `period` seconds."""

    def __init__(self, period: float = 0.25, pid: int | None = None):
        import psutil

        self.proc = psutil.Process(pid or os.getpid())
        self.period = period
        self.rss: list[float] = []
        self.cpu: list[float] = []
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self):
        self._t0 = time.monotonic()
        self._c0 = self.proc.cpu_times()
        self.proc.cpu_percent(None)
        self.rss_start = self.proc.memory_info().rss / 2**20
        self._thread = threading.Thread(target=self._run, daemon=True, name="resource_monitor")
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.rss.append(self.proc.memory_info().rss / 2**20)
            self.cpu.append(self.proc.cpu_percent(None) / 100.0)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        c1, wall = self.proc.cpu_times(), time.monotonic() - self._t0
        busy = (c1.user - self._c0.user) + (c1.system - self._c0.system)
        self.result = {
            "wall_s": wall, "cpu_s": busy, "cpu_cores_mean": busy / max(wall, 1e-9),
            "cpu_cores_samples": percentiles(self.cpu), "rss_mb_start": self.rss_start,
            "rss_mb_end": self.proc.memory_info().rss / 2**20, "rss_mb_max": max(self.rss + [self.rss_start]),
            "rss_mb_samples": self.rss, "cpu_samples": self.cpu, "sample_period_s": self.period,
        }


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
    from ..core.face_mesh import FaceMeshConfig
    from ..core.face_pipeline import FacePipelineConfig
    from ..inference.runtime import ModelError
    from ..pipeline import PerceptionPipeline, PipelineConfig

    ok, skipped = stage_availability(want, model_paths)
    for _ in range(len(STAGES) + 1):
        cfg = PipelineConfig(
            face=FacePipelineConfig(mesh=FaceMeshConfig(max_faces=max_faces)),
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


# -- analysis shared by both modes ------------------------------------------------------------
def classification_metrics(y_true, y_pred, n: int = len(CLASSES)) -> dict:
    cm = np.zeros((n, n), dtype=int)
    for t, p in zip(y_true, y_pred):
        cm[int(t), int(p)] += 1
    per_class = {}
    for k in range(n):
        tp = cm[k, k]
        prec = tp / cm[:, k].sum() if cm[:, k].sum() else 0.0
        rec = tp / cm[k, :].sum() if cm[k, :].sum() else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per_class[CLASSES[k]] = {"precision": prec, "recall": rec, "f1": f1, "support": int(cm[k, :].sum())}
    total = int(cm.sum())
    return {
        "accuracy": float(np.trace(cm) / total) if total else None, "n": total,
        "macro_f1": float(np.mean([c["f1"] for c in per_class.values()])), "per_class": per_class,
        "confusion_matrix": cm.tolist(), "classes": list(CLASSES),
    }


def main_face(faces: list[dict]) -> dict | None:
    """The labelled subject: the largest face of the frame."""
    return max(faces, key=lambda f: f["roi"][2] * f["roi"][3]) if faces else None


def analyse(frames: list[dict]) -> dict:
    faces_per_frame = [len(f["faces"]) for f in frames]
    out = {
        "faces_per_frame": faces_per_frame,
        "faces_per_frame_summary": {
            "frames": len(frames), "with_face": int(sum(1 for n in faces_per_frame if n)),
            "mean": float(np.mean(faces_per_frame)) if frames else 0.0, "max": max(faces_per_frame, default=0),
        },
        "traces": traces(frames),
    }
    labelled = [f for f in frames if f.get("label") is not None]
    if labelled:
        y_true, y_pred, missed, no_emotion, uncertain = [], [], [], 0, 0
        for f in labelled:
            face = main_face(f["faces"])
            if face is None:
                missed.append(f["label"])
                continue
            if "emotion" not in face:
                no_emotion += 1
                continue
            y_true.append(int(f["label"]["label"]))
            y_pred.append(int(np.argmax(face["emotion"]["probabilities"])))
            uncertain += face["emotion"]["label"] == "uncertain"
        acc = {"labelled_frames": len(labelled), "detector_missed": len(missed),
               "detector_miss_rate": len(missed) / len(labelled),
               "missed_per_class": {c: sum(1 for m in missed if int(m["label"]) == k) for k, c in enumerate(CLASSES)},
               "uncertain": uncertain}
        if y_true:
            m = classification_metrics(y_true, y_pred)
            acc.update({"detected": m, "accuracy_detected": m["accuracy"],
                        "accuracy_all": float(np.sum(np.array(y_true) == np.array(y_pred)) / (len(labelled) - no_emotion))})
        else:
            acc["note"] = "no emotion outputs (emotion stage " + ("skipped" if no_emotion else "found no faces") + ")"
        out["accuracy"] = acc
    return out


def traces(frames: list[dict]) -> dict:
    """Per face id: time (s from the first frame), stress level, gaze x/y, emotion label."""
    if not frames:
        return {}
    t0 = frames[0]["stamp_ns"]
    per: dict[str, dict] = {}
    for f in frames:
        t = (f["stamp_ns"] - t0) * 1e-9
        for face in f["faces"]:
            d = per.setdefault(str(face["face_id"]), {"t": [], "stress": [], "gaze_x": [], "gaze_y": [], "emotion": [], "valence": []})
            d["t"].append(t)
            s, g, e = face.get("stress"), face.get("gaze"), face.get("emotion")
            d["stress"].append(_num(s, "level"))
            d["gaze_x"].append(_num(g, "x"))
            d["gaze_y"].append(_num(g, "y"))
            d["emotion"].append(e["label"] if e else None)
            d["valence"].append(e["valence"] if e else None)
    return per


def _num(d, key):
    if not isinstance(d, dict):
        return None
    v = d.get(key)
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# -- raw-crop reference -----------------------------------------------------------------------
def raw_crop_reference(npz: str, rows: list[int], model_path: str | None = None, num_threads: int = 1) -> dict:
    """The emotion model alone on the original 48×48 crops of the given FER2013 rows."""
    from ..inference.emotion import EmotionModel
    from ..inference.model_paths import default_model_path

    data = np.load(npz, allow_pickle=False)
    pixels, labels = data["pixels"], data["label"].astype(int)
    model = EmotionModel(model_path or default_model_path("emotion"), num_threads=num_threads)
    try:
        preds = {int(r): int(np.argmax(model.infer(pixels[r])[0])) for r in rows}
    finally:
        model.close()
    y_true = [int(labels[r]) for r in rows]
    m = classification_metrics(y_true, [preds[int(r)] for r in rows])
    m["predictions"] = preds
    return m


def compare_with_raw(result: dict, npz: str, model_path: str | None = None) -> dict | None:
    """Pipeline vs model-on-raw-crops on the same FER2013 rows (labels carry the row `index`)."""
    labelled = [f for f in result["frames"] if f.get("label") and "index" in f["label"]]
    if not labelled or "accuracy" not in result or "detected" not in result["accuracy"]:
        return None
    rows = [int(f["label"]["index"]) for f in labelled]
    ref = raw_crop_reference(npz, rows, model_path or result.get("model_paths", {}).get("emotion"))
    detected_rows, detected_ok = [], 0
    for f in labelled:
        face = main_face(f["faces"])
        if face is not None and "emotion" in face:
            detected_rows.append(int(f["label"]["index"]))
            detected_ok += int(np.argmax(face["emotion"]["probabilities"])) == int(f["label"]["label"])
    labels = {int(f["label"]["index"]): int(f["label"]["label"]) for f in labelled}
    raw_on_detected = np.mean([ref["predictions"][r] == labels[r] for r in detected_rows]) if detected_rows else float("nan")
    acc = result["accuracy"]
    return {
        "rows": len(rows),
        "raw_crop_accuracy": ref["accuracy"],
        "raw_crop_metrics": {k: v for k, v in ref.items() if k != "predictions"},
        "pipeline_accuracy_all": acc["accuracy_all"],
        "pipeline_accuracy_detected": acc["accuracy_detected"],
        "raw_crop_accuracy_on_detected": float(raw_on_detected),
        "loss_points_all": 100 * (ref["accuracy"] - acc["accuracy_all"]),
        "loss_points_detected": 100 * (float(raw_on_detected) - acc["accuracy_detected"]),
        "detector_missed": acc["detector_missed"],
        "note": "all: a missed face counts as wrong; detected: only frames where the detector found the face, "
                "compared with the model on the raw crops of exactly those rows",
    }


# -- recording outputs ------------------------------------------------------------------------
class OutputRecorder:
    """Perception outputs to a rosbag2 (FaceArray, Emotion, Stress, Gaze), typed with the
    sentin_ros messages registered in the rosbags typestore from msg/*.msg."""

    TOPICS = {"faces": "/faces", "emotion": "/emotion", "stress": "/stress", "gaze": "/gaze"}
    TYPES = {"faces": "sentin_ros/msg/FaceArray", "emotion": "sentin_ros/msg/Emotion", "stress": "sentin_ros/msg/Stress", "gaze": "sentin_ros/msg/Gaze"}

    def __init__(self, path: str, overwrite: bool = True):
        from .bags import BagWriter, bag_dir

        directory, storage = bag_dir(path)
        self.writer = BagWriter(directory, storage or "mcap", overwrite=overwrite)
        self.store = self.writer.store
        if "sentin_ros/msg/Emotion" not in self.store.types:
            raise EvalError("the sentin_ros message definitions (msg/*.msg) were not found; cannot record outputs")
        self._lock = threading.Lock()

    def write_raw(self, kind: str, data: bytes, ns: int) -> None:
        with self._lock:
            self.writer.write_raw(self.TOPICS[kind], self.TYPES[kind], data, ns)

    def write_result(self, ns: int, frame_id: str, result) -> None:
        """One PerceptionPipeline FrameResult as the messages the nodes would publish."""
        from .bags import header

        t, st = self.store.types, self.store
        hdr = header(st, ns, frame_id)

        def roi(r):
            return t["sensor_msgs/msg/RegionOfInterest"](x_offset=int(r[0]), y_offset=int(r[1]), width=int(r[2]), height=int(r[3]), do_rectify=False)

        faces = []
        for r in result.faces:
            f = r.face
            faces.append(t["sentin_ros/msg/Face"](
                face_id=int(f.face_id), roi=roi(f.roi), score=float(f.score) if math.isfinite(f.score) else 0.0,
                landmarks=np.ascontiguousarray(f.landmarks, np.float32).ravel(), yaw=float(f.yaw), pitch=float(f.pitch),
                roll=float(f.roll), head_position=t["geometry_msgs/msg/Vector3"](*map(float, f.head_position)),
                crop=np.ascontiguousarray(f.crop, np.uint8).ravel(), geometry=f.geometry.astype(np.float32), eye=f.eye.astype(np.float32),
            ))
        with self._lock:
            self.writer.write("/faces", t["sentin_ros/msg/FaceArray"](header=hdr, image_width=result.width, image_height=result.height, faces=faces), ns)
            for r in result.faces:
                e = r.emotion
                if e is not None:
                    self.writer.write("/emotion", t["sentin_ros/msg/Emotion"](
                        header=hdr, face_id=int(r.face.face_id), label=e.label, confidence=float(e.confidence),
                        probabilities=e.probabilities.astype(np.float32), valence=float(e.valence), arousal=float(e.arousal),
                        roi=roi(r.face.roi), embedding=np.zeros(0, np.float32),
                    ), ns)
                for kind, obj in (("stress", r.stress), ("gaze", r.gaze)):
                    msg = _estimate_msg(t, self.TYPES[kind], obj, hdr, int(r.face.face_id))
                    if msg is not None:
                        self.writer.write(self.TOPICS[kind], msg, ns)

    def summary(self) -> dict:
        return {"bag": str(self.writer.path), "messages": dict(self.writer.counts)}

    def close(self) -> None:
        with self._lock:
            self.writer.close()


def _estimate_msg(types, msgtype: str, obj, hdr, face_id: int):
    """Best-effort Stress/Gaze message from an estimate object with matching field names."""
    if obj is None:
        return None
    cls = types[msgtype]
    kwargs = {"header": hdr, "face_id": face_id}
    src = summarize(obj) if is_dataclass(obj) else dict(obj) if isinstance(obj, dict) else {}
    for f in fields(cls):
        if f.name in kwargs or f.name.isupper() or f.name == "__msgtype__":
            continue
        v = src.get(f.name)
        if f.name == "direction":
            d = v if v is not None else (0.0, 0.0, 1.0)
            kwargs[f.name] = types["geometry_msgs/msg/Vector3"](*map(float, list(d)[:3]))
        elif f.type in ("bool",) or isinstance(v, bool | np.bool_):
            kwargs[f.name] = bool(v) if v is not None else False
        elif isinstance(v, int | np.integer) and not isinstance(v, bool):
            kwargs[f.name] = int(v)
        elif isinstance(v, str) and f.name == "state":
            kwargs[f.name] = {"low": 0, "elevated": 1, "high": 2}.get(v.lower(), 0)
        else:
            try:
                kwargs[f.name] = float(v) if v is not None else 0.0
            except (TypeError, ValueError):
                kwargs[f.name] = 0.0
        if f.name in ("state", "window_frames") and not isinstance(kwargs[f.name], int):
            kwargs[f.name] = int(kwargs[f.name])
    return cls(**kwargs)


def check_bag(path: str, image_topic: str | None = None):
    """Open once to validate (raises BagError with the reason)."""
    with BagReader(path, image_topic) as r:
        return r.info


# -- realtime ---------------------------------------------------------------------------------
_OPTIONAL_NODES = {"stress": ("sentin_ros.ros.stress_node", "StressNode"), "gaze": ("sentin_ros.ros.gaze_node", "GazeNode")}
_OUTPUT_TYPES = {"faces": "sentin_ros/msg/FaceArray", "emotion": "sentin_ros/msg/Emotion", "stress": "sentin_ros/msg/Stress", "gaze": "sentin_ros/msg/Gaze"}


def node_classes(stages=STAGES) -> tuple[list[tuple[str, type]], dict[str, str]]:
    """[(stage, node class)] for the face node and every requested stage whose node exists."""
    from ..ros.emotion_node import EmotionNode
    from ..ros.face_node import FaceNode

    out, skipped = [("faces", FaceNode)], {}
    if "emotion" in stages:
        out.append(("emotion", EmotionNode))
    else:
        skipped["emotion"] = "not requested"
    for stage, (module, cls) in _OPTIONAL_NODES.items():
        if stage not in stages:
            skipped[stage] = "not requested"
        elif importlib.util.find_spec(module) is None:
            skipped[stage] = f"{module} is not in this checkout yet"
        else:
            try:
                node_cls = getattr(importlib.import_module(module), cls, None)
            except ImportError as exc:  # the node landed before its inference module
                skipped[stage] = f"{module} cannot be imported yet: {exc}"
                continue
            if node_cls is None:
                skipped[stage] = f"{module} has no {cls}"
            else:
                out.append((stage, node_cls))
    return out, skipped


def _topic_of(player, node, msgtype: str, timeout: float = 3.0, publishers: bool = True) -> str | None:
    """The topic `node` publishes (or subscribes to) with `msgtype`, from the ROS graph."""
    want = msgtype
    deadline = time.monotonic() + timeout
    while True:
        get = player.get_publisher_names_and_types_by_node if publishers else player.get_subscriber_names_and_types_by_node
        try:
            for topic, types in get(node.get_name(), node.get_namespace()):
                if want in types:
                    return topic
        except Exception:  # node not yet in the graph cache
            pass
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def _private_domain() -> int:
    """ROS_DOMAIN_ID when set explicitly, else a random domain in 120..229 (valid on Linux)."""
    env = os.environ.get("ROS_DOMAIN_ID", "").strip()
    if env.isdigit():
        return int(env)
    import random

    return random.SystemRandom().randint(120, 229)


class _Graph:
    """The perception nodes in one executor on `ctx`: sentin_ros.composition when the checkout has
    it (the same nodes and YAML as `sentin-ros run`), else FaceNode/EmotionNode/... built here."""

    def __init__(self, ctx, stages, node_parameters: dict[str, dict] | None, extra_nodes: tuple, log=None):
        self.ctx, self.skipped, self.log_lines = ctx, {}, []
        self.nodes: dict[str, object] = {}  # faces | emotion | stress | gaze -> node
        self._composition = None
        self._executor = None
        self._spin = None
        params = node_parameters or {}
        try:
            from ..composition import Composition, CompositionConfig
        except ImportError:
            Composition = None
        if Composition is not None:
            config = CompositionConfig(
                models=("face", *[s for s in STAGES if s in stages]),
                overrides={("face" if k == "faces" else k): v for k, v in params.items()},
            )
            self._composition = comp = Composition(config, context=ctx, log=self.log_lines.append)
            comp.start(extra_nodes=extra_nodes)
            self.nodes = {("faces" if k == "face" else k): n for k, n in comp.nodes.items() if k in ("face", *STAGES)}
            self.skipped = {k: v for k, v in comp.skipped.items() if k in STAGES}
            for s in STAGES:
                if s not in stages:
                    self.skipped[s] = "not requested"
            self.via = "sentin_ros.composition"
            return
        self.via = "tools.evaluate (no composition module)"
        self._build_here(stages, params, extra_nodes)

    def _build_here(self, stages, params, extra_nodes) -> None:
        from rclpy.executors import MultiThreadedExecutor
        from rclpy.lifecycle import TransitionCallbackReturn
        from rclpy.parameter import Parameter

        classes, self.skipped = node_classes(stages)
        self._executor = ex = MultiThreadedExecutor(num_threads=4, context=self.ctx)
        for node in extra_nodes:
            ex.add_node(node)
        self._spin = threading.Thread(target=ex.spin, daemon=True, name="eval_executor")
        self._spin.start()
        for stage, cls in classes:
            node = cls(context=self.ctx, parameter_overrides=[Parameter(k, value=v) for k, v in params.get(stage, {}).items()])
            ex.add_node(node)
            if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                reason = getattr(node, "last_error", "") or "configure failed"
                if stage == "faces":
                    raise EvalError(f"the face node failed to configure: {reason}")
                self.skipped[stage] = f"node failed to configure: {reason}"
                ex.remove_node(node)
                node.destroy_node()
                continue
            self.nodes[stage] = node
        for node in self.nodes.values():
            node.trigger_activate()

    def deactivate(self) -> None:
        for node in self.nodes.values():
            try:
                node.trigger_deactivate()
            except Exception:  # already inactive
                pass

    def close(self) -> None:
        if self._composition is not None:
            self._composition.shutdown()
            return
        if self._executor is not None:
            self._executor.shutdown(timeout_sec=2.0)
            for node in list(self._executor.get_nodes()):
                node.destroy_node()
        if self._spin is not None:
            self._spin.join(timeout=2.0)


def evaluate_realtime(
    bag: str, image_topic: str | None = None, stages=STAGES, rate: float = 1.0, max_frames: int = 0,
    warmup_frames: int = 0, settle_s: float = 3.0, record_outputs: str | None = None,
    progress: Callable[[int], None] | None = None, node_parameters: dict[str, dict] | None = None,
    domain_id: int | None = None, inactive_probe_s: float = 0.0,
) -> dict:
    """Publish the bag's images at `rate` × the recorded rate through the face node and the
    emotion/stress/gaze nodes (those that exist and configure), all in one MultiThreadedExecutor
    in this process, and measure what comes out. Latency: output receipt time minus the image's
    publish time, matched by header stamp (the bag's stamps are kept, so labels still align).
    node_parameters: {"faces"|"emotion"|"stress"|"gaze": {param: value}}.
    inactive_probe_s > 0: first measure this process's CPU/RSS for that long with the nodes
    configured but inactive while the frames are published (-> result["inactive_resources"])."""
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import CompressedImage, Image

    if rate <= 0:
        raise EvalError(f"rate must be > 0, got {rate}")
    reader = BagReader(bag, image_topic)
    info = reader.info
    ctx = rclpy.Context()
    # A domain of its own (unless ROS_DOMAIN_ID says otherwise): another graph on this machine
    # (a demo, a robot) must neither feed this replay nor receive its frames.
    rclpy.init(context=ctx, args=[], domain_id=domain_id if domain_id is not None else _private_domain())
    graph = None
    inactive = None
    try:
        player = rclpy.create_node("sentin_bag_player", context=ctx)
        graph = _Graph(ctx, stages, node_parameters, (player,))
        nodes, skipped = graph.nodes, graph.skipped
        if "faces" not in nodes:
            raise EvalError(f"the face node could not be started: {graph.skipped}")
        topics = {"image": _topic_of(player, nodes["faces"], "sensor_msgs/msg/Image", publishers=False) or "/image"}
        for stage, node in nodes.items():
            topics[stage] = _topic_of(player, node, _OUTPUT_TYPES[stage])
            if topics[stage] is None:
                skipped[stage] = f"could not find the topic {node.get_name()} publishes {_OUTPUT_TYPES[stage]} on"
        compressed = info.image_type.endswith("CompressedImage")
        if compressed:
            sub = _topic_of(player, nodes["faces"], "sensor_msgs/msg/CompressedImage", publishers=False)
            if sub is None:
                raise EvalError("the bag holds CompressedImage: evaluate with node parameters "
                                "{'faces': {'image_transport': 'compressed'}} so the face node subscribes to it")
            topics["image"] = sub
        image_pub = player.create_publisher(CompressedImage if compressed else Image, topics["image"],
                                            QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        clock_pub = player.create_publisher(Clock, "/clock", 10)

        from sentin_ros.msg import Emotion, FaceArray, Gaze, Stress

        types = {"faces": FaceArray, "emotion": Emotion, "stress": Stress, "gaze": Gaze}
        received: dict[str, list] = {k: [] for k in nodes}
        for stage in nodes:
            if topics.get(stage):
                player.create_subscription(
                    types[stage], topics[stage], lambda m, s=stage: received[s].append((time.perf_counter(), m)), 100
                )
        deadline = time.monotonic() + 5.0  # the face node's subscription must match before playing
        while image_pub.get_subscription_count() < 1 and time.monotonic() < deadline:
            time.sleep(0.02)

        total = min(info.frames, max_frames) if max_frames else info.frames
        if inactive_probe_s > 0:
            graph.deactivate()
            inactive = _probe_inactive(reader, image_pub, inactive_probe_s, info.rate_hz * rate)
            for node in nodes.values():
                node.trigger_activate()
            time.sleep(0.2)

        published: dict[int, float] = {}
        order: list[int] = []
        late = 0
        with ResourceMonitor() as mon:
            t_base = bag0 = None
            for n, (ns, _, raw, stamp) in enumerate(reader.raw_images()):
                if n >= total:
                    break
                if t_base is None:
                    t_base, bag0 = time.perf_counter() + 0.2, ns
                wait = t_base + (ns - bag0) * 1e-9 / rate - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                elif wait < -0.005:
                    late += 1
                clock = Clock()
                clock.clock.sec, clock.clock.nanosec = (int(v) for v in divmod(stamp, 1_000_000_000))
                clock_pub.publish(clock)
                published[stamp] = time.perf_counter()
                order.append(stamp)
                image_pub.publish(raw)
                if progress is not None:
                    progress(n + 1)
            play_s = time.perf_counter() - (t_base or time.perf_counter())
            deadline = time.perf_counter() + settle_s  # every node idle and no new output for 0.3 s
            last = -1
            while time.perf_counter() < deadline:
                count = sum(len(v) for v in received.values())
                if all(n.wait_idle(0.0) for n in nodes.values()) and count == last:
                    break
                last = count
                time.sleep(0.3)
        node_stats = {
            s: {"received": n.stats.received, "processed": getattr(n.stats, "processed", None), "dropped": n.stats.dropped,
                "bad_input": n.stats.bad_input, "processing_ms_median": n.stats.processing_ms()[0]}
            for s, n in nodes.items()
        }
        graph.deactivate()
        recorded = _record_realtime(record_outputs, received, set(published)) if record_outputs else None
        via = graph.via
    finally:
        reader.close()
        if graph is not None:
            graph.close()
        rclpy.shutdown(context=ctx)

    result = _realtime_result(info, reader.labels, skipped, published, order, received, node_stats, mon.result,
                              late, play_s, rate, warmup_frames, topics, recorded)
    result["nodes_via"] = via
    if inactive is not None:
        result["inactive_resources"] = inactive
    return result


def _probe_inactive(reader: BagReader, pub, seconds: float, rate_hz: float) -> dict:
    """CPU/RSS of this process while frames are published and the nodes are inactive."""
    frames = []
    for _, _, raw, _ in reader.raw_images():
        frames.append(raw)
        if len(frames) >= 30:
            break
    period = 1.0 / max(rate_hz, 1.0)
    with ResourceMonitor() as mon:
        t_end = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < t_end:
            pub.publish(frames[n % len(frames)])
            n += 1
            time.sleep(period)
    r = mon.result
    return {k: r[k] for k in ("wall_s", "cpu_s", "cpu_cores_mean", "rss_mb_max", "rss_mb_end")} | {"frames_published": n}


def _record_realtime(path: str, received: dict[str, list], stamps: set[int]) -> dict:
    from rclpy.serialization import serialize_message

    rec = OutputRecorder(path)
    try:
        for stage, items in received.items():
            for _, msg in items:
                ns = _msg_stamp(msg)
                if ns in stamps:
                    rec.write_raw(stage, serialize_message(msg), ns)
    finally:
        rec.close()
    return rec.summary()


def _msg_stamp(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def _realtime_result(info, labels, skipped, published, order, received, node_stats, resources, late, play_s, rate,
                     warmup_frames, topics, recorded) -> dict:
    warm = set(order[:warmup_frames])
    latency: dict[str, list[float]] = {}
    per_stamp: dict[str, dict] = {}
    first_seen: dict[tuple, float] = {}
    for stage, items in received.items():
        lat = latency.setdefault(stage, [])
        for t, msg in items:
            st = _msg_stamp(msg)
            if st not in published:
                continue
            if stage == "faces":
                per_stamp.setdefault(stage, {})[st] = msg
            else:
                per_stamp.setdefault(stage, {})[(st, msg.face_id)] = msg
            key = (stage, st, getattr(msg, "face_id", None))
            if key in first_seen:
                continue
            first_seen[key] = t
            if st not in warm:
                lat.append((t - published[st]) * 1e3)
    faces_by_stamp = per_stamp.get("faces", {})
    frames = []
    for st in order:
        fa = faces_by_stamp.get(st)
        if fa is None:
            continue
        rec = {"stamp_ns": st, "width": fa.image_width, "height": fa.image_height, "faces": []}
        for face in fa.faces:
            f = {"face_id": int(face.face_id), "roi": [face.roi.x_offset, face.roi.y_offset, face.roi.width, face.roi.height],
                 "score": float(face.score), "yaw": float(face.yaw), "pitch": float(face.pitch), "roll": float(face.roll)}
            e = per_stamp.get("emotion", {}).get((st, face.face_id))
            if e is not None:
                f["emotion"] = emotion_record(e.label, float(e.confidence), [float(p) for p in e.probabilities], float(e.valence), float(e.arousal))
            s = per_stamp.get("stress", {}).get((st, face.face_id))
            if s is not None:
                f["stress"] = {"level": float(s.level), "confidence": float(s.confidence), "state": int(s.state),
                               "window_frames": int(s.window_frames), "window_seconds": float(s.window_seconds)}
            g = per_stamp.get("gaze", {}).get((st, face.face_id))
            if g is not None:
                f["gaze"] = {"x": float(g.x), "y": float(g.y), "on_screen": bool(g.on_screen), "confidence": float(g.confidence),
                             "calibrated": bool(g.calibrated)}
            rec["faces"].append(f)
        if st in labels:
            rec["label"] = labels[st]
        frames.append(rec)

    expected_faces = sum(len(fa.faces) for st, fa in faces_by_stamp.items())
    drops = {"images_published": len(order), "frames_without_output": len(order) - len(faces_by_stamp),
             "player_late_frames": late}
    after = [st for st in order if st not in warm]
    drops["frames_without_output_after_warmup"] = sum(1 for st in after if st not in faces_by_stamp)
    for stage in ("emotion", "stress", "gaze"):
        if stage in received:
            got = per_stamp.get(stage, {})
            drops[f"{stage}_missing_faces"] = max(expected_faces - len(got), 0)
            drops[f"{stage}_missing_faces_after_warmup"] = sum(
                1 for st in after if st in faces_by_stamp for f in faces_by_stamp[st].faces if (st, f.face_id) not in got
            )
    rates = {}
    for stage, items in received.items():
        if len(items) > 1:
            rates[stage] = (len(items) - 1) / max(items[-1][0] - items[0][0], 1e-9)
    frame_rate = None
    fa_items = received.get("faces", [])
    if len(fa_items) > 1:
        frame_rate = (len(fa_items) - 1) / max(fa_items[-1][0] - fa_items[0][0], 1e-9)
    result = {
        "mode": "realtime", "bag": info.__dict__, "stages": _stage_states(skipped), "skipped": skipped,
        "rate_factor": rate, "play_rate_hz": info.rate_hz * rate, "play_s": play_s, "warmup_frames": warmup_frames,
        "frames_in_bag": info.frames, "frames_processed": len(faces_by_stamp), "dropped": drops["frames_without_output"],
        "drops": drops, "node_stats": node_stats, "topics": topics,
        "latency_ms": {k: percentiles(v) for k, v in latency.items()}, "latency_ms_raw": latency,
        "output_rate_hz": rates, "frame_output_rate_hz": frame_rate, "resources": resources,
        "recorded_outputs": recorded,
    }
    result.update(analyse(frames))
    result["frames"] = frames
    result["outputs_json"] = canonical_json(frames)
    return result
