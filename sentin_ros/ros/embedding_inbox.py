"""Emotion embeddings from the emotion node, waiting for the stress node's frame that needs them.

The emotion node runs the CNN once per face and publishes its 256-d embedding with the image's
header (publish_embedding); the stress node's worker asks for (stamp, face_id) and waits a
bounded time for it, instead of running the same CNN again."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict

import numpy as np

from .result_cache import StampKey, stamp_key


class EmbeddingInbox:
    def __init__(self, capacity: int = 64):
        self._frames: OrderedDict[StampKey, dict[int, tuple[np.ndarray, float]]] = OrderedDict()
        self._cond = threading.Condition()
        self._capacity = capacity
        # Frames in a row whose embeddings did not come: after a few, stop waiting (the emotion
        # node was deactivated, say) until one arrives again.
        self._misses = 0

    def put(self, msg) -> None:
        """An Emotion message; ignored without an embedding."""
        if len(msg.embedding) != 256:
            return
        key = stamp_key(msg.header)
        with self._cond:
            self._frames.setdefault(key, {})[int(msg.face_id)] = (np.asarray(msg.embedding, np.float32), float(msg.confidence))
            self._frames.move_to_end(key)
            self._misses = 0
            while len(self._frames) > self._capacity:
                self._frames.popitem(last=False)
            self._cond.notify_all()

    def take(self, header, face_ids: list[int], timeout: float) -> dict[int, tuple[np.ndarray, float]]:
        """The (embedding, top-class probability) of each face that arrives within `timeout` seconds."""
        key = stamp_key(header)
        with self._cond:
            deadline = time.monotonic() + (timeout if self._misses < 3 else 0.0)
            while True:
                got = self._frames.get(key, {})
                if all(f in got for f in face_ids):
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            got = self._frames.pop(key, {})
            found = {f: got[f] for f in face_ids if f in got}
            self._misses = 0 if found else self._misses + 1
        return found
