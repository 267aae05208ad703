"""Match the pipeline's outputs to their image by header stamp and face_id (small, thread-safe cache).

Every output carries its source image's header, so (stamp, face_id) identifies one face in one
frame. Stress is published only once a face has enough history, so a frame without a
same-stamp Stress shows the face's latest known one.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from ..media.overlay import FaceOverlay
from .convert.faces import roi_of

StampKey = tuple[int, int]


def stamp_key(header) -> StampKey:
    return int(header.stamp.sec), int(header.stamp.nanosec)


@dataclass
class FrameEntry:
    key: StampKey
    created: float = field(default_factory=time.monotonic)
    image: np.ndarray | None = None
    faces: object | None = None  # sentin_ros/FaceArray
    emotion: dict[int, object] = field(default_factory=dict)
    stress: dict[int, object] = field(default_factory=dict)
    gaze: dict[int, object] = field(default_factory=dict)

    def face_ids(self) -> list[int]:
        return [int(f.face_id) for f in self.faces.faces] if self.faces is not None else []

    def has_all(self, outputs: set[str]) -> bool:
        """Image and faces present, and for every face each of `outputs` ('emotion', 'gaze', 'stress')."""
        if self.image is None or self.faces is None:
            return False
        ids = self.face_ids()
        return all(all(i in getattr(self, name) for i in ids) for name in outputs)


class ResultCache:
    def __init__(self, size: int = 30):
        self.size = size
        self._frames: OrderedDict[StampKey, FrameEntry] = OrderedDict()
        self._latest_stress: dict[int, object] = {}
        self._lock = threading.Lock()

    def _entry(self, key: StampKey) -> FrameEntry:
        entry = self._frames.get(key)
        if entry is None:
            entry = self._frames[key] = FrameEntry(key)
            while len(self._frames) > self.size:
                self._frames.popitem(last=False)
        return entry

    def add_image(self, header, image: np.ndarray) -> StampKey:
        key = stamp_key(header)
        with self._lock:
            self._entry(key).image = image
        return key

    def add_faces(self, msg) -> StampKey:
        key = stamp_key(msg.header)
        with self._lock:
            self._entry(key).faces = msg
        return key

    def add(self, kind: str, msg) -> StampKey:
        """kind: emotion | stress | gaze (messages with header and face_id)."""
        key = stamp_key(msg.header)
        with self._lock:
            getattr(self._entry(key), kind)[int(msg.face_id)] = msg
            if kind == "stress":
                self._latest_stress[int(msg.face_id)] = msg
        return key

    def get(self, key: StampKey) -> FrameEntry | None:
        with self._lock:
            return self._frames.get(key)

    def keys(self) -> list[StampKey]:
        with self._lock:
            return list(self._frames)

    def take(self, key: StampKey) -> tuple[FrameEntry | None, list[FrameEntry]]:
        """Remove `key` and every older entry; returns (that entry, the older ones, oldest first)."""
        with self._lock:
            older = []
            while self._frames:
                k, entry = next(iter(self._frames.items()))
                if k > key:
                    break
                del self._frames[k]
                if k == key:
                    return entry, older
                older.append(entry)
            return None, older

    def take_all(self) -> list[FrameEntry]:
        with self._lock:
            entries = list(self._frames.values())
            self._frames.clear()
            return entries

    def forget_faces(self, live_ids) -> None:
        live = set(live_ids)
        with self._lock:
            for fid in [f for f in self._latest_stress if f not in live]:
                del self._latest_stress[fid]

    def overlays(self, entry: FrameEntry) -> list[FaceOverlay]:
        out = []
        if entry.faces is None:
            return out
        for face in entry.faces.faces:
            fid = int(face.face_id)
            lm = np.asarray(face.landmarks, dtype=np.float32)
            ov = FaceOverlay(fid, roi_of(face.roi),
                             lm.reshape(-1, 3) if lm.size and lm.size % 3 == 0 else None)
            emo = entry.emotion.get(fid)
            if emo is not None:
                ov.emotion, ov.emotion_confidence = emo.label, float(emo.confidence)
            with self._lock:
                st = entry.stress.get(fid) or self._latest_stress.get(fid)
            if st is not None:
                ov.stress, ov.stress_state = float(st.level), int(st.state)
            gz = entry.gaze.get(fid)
            if gz is not None:
                ov.gaze = (float(gz.x), float(gz.y))
                ov.gaze_direction = (float(gz.direction.x), float(gz.direction.y), float(gz.direction.z))
                ov.on_screen = bool(gz.on_screen)
            out.append(ov)
        return out
