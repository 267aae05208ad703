"""Emotion embeddings from the emotion node, joined to the FaceArray frames that need them.

The emotion node runs the CNN once per face and publishes its 256-d embedding with the image's
header (publish_embedding). The stress node holds each FaceArray here until every face it will
use has its embedding (matched by stamp and face_id), or until a deadline passes; only then is
the frame handed to its worker, so the worker never waits and frames are not replaced while
it does. A frame that completes releases it and drops the older frames still waiting.

The wait adapts: on a loaded machine the emotion node's embeddings come later than the
configured wait, and running the CNN here for them would load the machine further (and make
the next ones later still). So each frame waits at least `wait`, and longer, up to `max_wait`,
while recent embeddings (those of released frames included) came later than that."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .result_cache import StampKey, stamp_key

Embedding = tuple[np.ndarray, float]  # (256-d embedding, top-class probability)


@dataclass
class _Pending:
    msg: object
    ids: list[int]
    deadline: float
    held_at: float
    got: dict[int, Embedding] = field(default_factory=dict)

    def complete(self) -> bool:
        return all(i in self.got for i in self.ids)


LATE_MARGIN = 1.5  # wait this many times the latest recent arrival: of the last RECENT arrivals,
RECENT = 32
RECENT_S = 5.0  # those of the last 5 s (none, e.g. the emotion node inactive: the base wait)


class EmbeddingInbox:
    def __init__(self, capacity: int = 64, max_wait: float = 2.0, clock: Callable[[], float] = time.monotonic):
        self._pending: OrderedDict[StampKey, _Pending] = OrderedDict()
        self._early: OrderedDict[StampKey, dict[int, Embedding]] = OrderedDict()  # before their FaceArray
        self._ready: OrderedDict[StampKey, dict[int, Embedding]] = OrderedDict()  # released, for take()
        self._lock = threading.Lock()
        self._released_at: OrderedDict[StampKey, float] = OrderedDict()  # held_at of frames given up on
        self._delays: deque[tuple[float, float]] = deque(maxlen=RECENT)  # (arrival, hold -> embedding s)
        self._capacity = capacity
        self._max_wait = max_wait
        self._clock = clock
        self.dropped = 0  # frames given up for a newer complete one, or for room

    def hold(self, msg, ids: list[int], wait: float) -> list:
        """A FaceArray that needs the embeddings of faces `ids`; returns the frames now ready."""
        key = stamp_key(msg.header)
        with self._lock:
            now = self._clock()
            pending = _Pending(msg, ids, now + self._wait(wait), now, self._early.pop(key, {}))
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
                held_at = self._released_at.get(key)
                if held_at is not None:  # came too late for its frame: wait longer for the next ones
                    self._arrived(held_at)
                    return []
                self._early.setdefault(key, {})[int(emotion.face_id)] = value
                self._trim(self._early)
                return []
            pending.got[int(emotion.face_id)] = value
            self._arrived(pending.held_at)
            return self._release(key) if pending.complete() else []

    def expired(self) -> list:
        """Frames whose deadline passed, oldest first (their missing faces get our own CNN)."""
        with self._lock:
            now = self._clock()
            keys = [k for k, p in self._pending.items() if p.deadline <= now]
            return [m for k in keys for m in self._release(k, drop_older=False)]

    def current_wait(self, wait: float) -> float:
        """Seconds a frame held now would wait for its embeddings."""
        with self._lock:
            return self._wait(wait)

    def _arrived(self, held_at: float) -> None:
        now = self._clock()
        self._delays.append((now, now - held_at))

    def _wait(self, wait: float) -> float:
        since = self._clock() - RECENT_S
        late = LATE_MARGIN * max((d for t, d in self._delays if t >= since), default=0.0)
        return max(wait, min(late, self._max_wait))

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
        if not pending.complete():
            self._released_at[key] = pending.held_at
            self._trim(self._released_at)
        return [pending.msg]

    def _trim(self, table: OrderedDict) -> None:
        while len(table) > self._capacity:
            table.popitem(last=False)
            if table is self._pending:
                self.dropped += 1
