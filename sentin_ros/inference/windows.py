"""Per-face sliding windows over time, shared by the stress and gaze trackers (ROS-free)."""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any


class FaceWindows:
    """The last `length` items of every face, with their stamps (seconds).

    A face's window starts over when its stamps move by more than `max_gap_s` either way: a gap
    forward (a lost and found face must not mix old frames into a new estimate) or a jump back (a
    bag loop, a clock reset). Jitter smaller than that (frames stamped a few ms out of order by a
    driver) keeps the window; the item is added in arrival order.
    """

    def __init__(self, length: int, max_gap_s: float):
        if max_gap_s <= 0:
            raise ValueError("max_gap_s must be > 0")
        self.length = int(length)
        self.max_gap_s = float(max_gap_s)
        self._items: dict[int, deque] = {}
        self._stamps: dict[int, deque] = {}

    def push(self, face_id: int, stamp: float, item: Any) -> bool:
        """Append one item; True when the face's window started over (new face, gap, time went back)."""
        stamps = self._stamps.get(face_id)
        restarted = stamps is None or abs(stamp - stamps[-1]) > self.max_gap_s
        if restarted:
            self._items[face_id] = deque(maxlen=self.length)
            self._stamps[face_id] = stamps = deque(maxlen=self.length)
        self._items[face_id].append(item)
        stamps.append(float(stamp))
        return restarted

    def items(self, face_id: int) -> list:
        """The face's items, oldest first."""
        return list(self._items.get(face_id, ()))

    def stamps(self, face_id: int) -> list[float]:
        return list(self._stamps.get(face_id, ()))

    def count(self, face_id: int) -> int:
        return len(self._items.get(face_id, ()))

    @property
    def face_ids(self) -> list[int]:
        return list(self._items)

    def forget(self, face_ids: Iterable[int]) -> None:
        for fid in list(face_ids):
            self._items.pop(fid, None)
            self._stamps.pop(fid, None)

    def forget_stale(self, now: float, max_age_s: float | None = None) -> list[int]:
        """Drop faces not seen for more than `max_age_s` (default max_gap_s) before `now`; returns their IDs."""
        age = self.max_gap_s if max_age_s is None else max_age_s
        gone = [fid for fid, s in self._stamps.items() if abs(now - s[-1]) > age]
        self.forget(gone)
        return gone

    def prune(self, active_ids: Iterable[int]) -> list[int]:
        """Drop every face not in active_ids; returns the dropped IDs."""
        keep = set(active_ids)
        gone = [fid for fid in self._items if fid not in keep]
        self.forget(gone)
        return gone

    def clear(self) -> None:
        self._items.clear()
        self._stamps.clear()
