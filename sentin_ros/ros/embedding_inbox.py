"""Emotion embeddings from the emotion node, joined to the FaceArray frames that need them.

The emotion node runs the CNN once per face and publishes its 256-d embedding with the image's
header (publish_embedding). The stress node holds each FaceArray here until every face it will
use has its embedding (matched by stamp and face_id), or until a deadline passes; only then is
the frame handed to its worker, so the worker never waits and frames are not replaced while
it does. A frame that completes releases it and drops the older frames still waiting."""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from .result_cache import StampKey, stamp_key

Embedding = tuple[np.ndarray, float]  # (256-d embedding, top-class probability)


@dataclass
class _Pending:
    msg: object
    ids: list[int]
    deadline: float
    got: dict[int, Embedding] = field(default_factory=dict)

    def complete(self) -> bool:
        return all(i in self.got for i in self.ids)


class EmbeddingInbox:
    def __init__(self, capacity: int = 64):
        self._pending: OrderedDict[StampKey, _Pending] = OrderedDict()
        self._early: OrderedDict[StampKey, dict[int, Embedding]] = OrderedDict()  # before their FaceArray
        self._ready: OrderedDict[StampKey, dict[int, Embedding]] = OrderedDict()  # released, for take()
        self._lock = threading.Lock()
        self._capacity = capacity
        self.dropped = 0  # frames given up for a newer complete one, or for room

    def hold(self, msg, ids: list[int], deadline: float) -> list:
        """A FaceArray that needs the embeddings of faces `ids`; returns the frames now ready."""
        key = stamp_key(msg.header)
        with self._lock:
            pending = _Pending(msg, ids, deadline, self._early.pop(key, {}))
            self._pending[key] = pending
            self._trim(self._pending)
            return self._release(key) if pending.complete() else []

    def put(self, emotion) -> list:
        """An Emotion message; returns the frames it completed (none without an embedding)."""
        if len(emotion.embedding) != 256:
            return []
        key = stamp_key(emotion.header)
        value = (np.asarray(emotion.embedding, np.float32), float(emotion.confidence))
        with self._lock:
            pending = self._pending.get(key)
            if pending is None:
                self._early.setdefault(key, {})[int(emotion.face_id)] = value
                self._trim(self._early)
                return []
            pending.got[int(emotion.face_id)] = value
            return self._release(key) if pending.complete() else []

    def expired(self, now: float) -> list:
        """Frames whose deadline passed, oldest first (their missing faces get our own CNN)."""
        with self._lock:
            keys = [k for k, p in self._pending.items() if p.deadline <= now]
            return [m for k in keys for m in self._release(k, drop_older=False)]

    def waiting(self) -> int:
        with self._lock:
            return len(self._pending)

    def take(self, header) -> dict[int, Embedding]:
        """The embeddings that came with a released frame."""
        with self._lock:
            return self._ready.pop(stamp_key(header), {})

    def _release(self, key: StampKey, drop_older: bool = True) -> list:
        if drop_older:
            for older in [k for k in self._pending if k < key]:
                del self._pending[older]
                self.dropped += 1
        pending = self._pending.pop(key)
        self._ready[key] = pending.got
        self._trim(self._ready)
        return [pending.msg]

    def _trim(self, table: OrderedDict) -> None:
        while len(table) > self._capacity:
            table.popitem(last=False)
            if table is self._pending:
                self.dropped += 1
