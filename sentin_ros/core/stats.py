"""Rates, processing times and drop counts for diagnostics (ROS-free, thread-safe)."""
from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np


class RateMeter:
    """Events per second over a sliding window of the last `window_s` seconds."""

    def __init__(self, window_s: float = 5.0):
        self.window_s = window_s
        self._t: deque[float] = deque()
        self._lock = threading.Lock()

    def tick(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._t.append(now)
            self._trim(now)

    def _trim(self, now: float) -> None:
        while self._t and now - self._t[0] > self.window_s:
            self._t.popleft()

    def rate(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._trim(now)
            if len(self._t) < 2:
                return 0.0
            span = max(now - self._t[0], 1e-6)
            return (len(self._t) - 1) / span if span > 0 else 0.0


class NodeStats:
    def __init__(self, window: int = 200):
        self.input = RateMeter()
        self.output = RateMeter()
        self._times: deque[float] = deque(maxlen=window)
        self.received = 0
        self.processed = 0
        self.dropped = 0
        self.bad_input = 0
        self.low_quality = 0  # faces skipped by a quality gate (not errors)
        self.lost = 0  # sent by the publisher, never reached the callback (SequenceGaps)
        self._lock = threading.Lock()

    def add_time(self, seconds: float) -> None:
        with self._lock:
            self._times.append(seconds)
            self.processed += 1

    def processing_ms(self) -> tuple[float, float]:
        """(median, max) over the recent window, milliseconds; (nan, nan) before any frame."""
        with self._lock:
            if not self._times:
                return float("nan"), float("nan")
            t = np.array(self._times) * 1e3
        return float(np.median(t)), float(t.max())

    def drop_ratio(self) -> float:
        """Share of the frames sent that were not processed: replaced in the worker slot, or lost
        before the callback (in DDS, or in a full subscription queue)."""
        sent = self.received + self.lost
        return (self.dropped + self.lost) / sent if sent else 0.0


class SequenceGaps:
    """Messages a publisher sent that never reached the callback, from the DDS publication
    sequence numbers (rmw message info). One publisher per input topic is assumed (a camera
    driver, the face node); a sequence number that goes back starts a new count (a publisher
    restarted), it is not a loss."""

    def __init__(self):
        self._last: int | None = None

    def update(self, seq: int | None) -> int:
        """The number of messages lost just before this one."""
        if seq is None:
            return 0
        gap = seq - self._last - 1 if self._last is not None and seq > self._last else 0
        self._last = seq
        return gap
