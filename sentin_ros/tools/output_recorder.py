"""Perception outputs written to a rosbag2 (FaceArray, Emotion, Stress, Gaze) during an evaluation.
"""
from __future__ import annotations

import math
import threading
from dataclasses import fields, is_dataclass

import numpy as np

from .eval_common import EvalError, summarize


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
