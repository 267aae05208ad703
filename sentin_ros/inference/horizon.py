"""A time horizon in seconds, summarised into a fixed number of steps, per face (ROS-free).

The stress model reads 15 steps; each step is the mean of one face's frames within a slice of
`seconds / steps` (0.25 s by default: 15 steps see 3.75 s), the slices ending at the face's newest
frame, so the summary no longer depends on the frame rate (training/stress/steps.py builds the
training data the same way). A slice without a good frame (the face was missed, or skipped as low
quality: `mark_seen`) holds the step before it; slices before the first good one hold the mean of
the filled slices (left padding; training/stress/train.py pads the same way). That mean changes
little from one frame to the next, where copying the oldest slice moved the padding with that
slice's few-frame mean at the step rate. `coverage` is the share of the slices that had a good frame.

Stamps: frames may arrive slightly out of order (stamp jitter, reordered messages): a frame up to
`max_back_s` older than the face's newest is filed in its slice. The face's history starts over
on a real jump back (more than `max_back_s`), or when nothing was seen of it for more than
`max_gap_s` (a lost and found face must not mix old frames into a new estimate).
"""
from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

PARTIAL_SLICE = 0.75  # an oldest slice with less of its time inside the history is left out


@dataclass
class _Face:
    stamps: list = field(default_factory=list)  # good frames, sorted by stamp
    weights: list = field(default_factory=list)  # e.g. the emotion confidence of each frame
    newest: float = -np.inf  # newest stamp seen (good or skipped frame)
    first: float = np.inf  # first stamp of this history
    # The frames' values, in stamp order, as rows rows[lo:hi] of one array: the summary reads them
    # in place (stacking ~110 arrays a frame cost as much as summing them).
    rows: np.ndarray | None = None
    lo: int = 0
    hi: int = 0

    def insert(self, i: int, value: np.ndarray) -> None:
        """value as the i-th live row (i = its place in stamps, before the stamp is inserted)."""
        if self.rows is None:
            self.rows = np.empty((64, value.shape[0]), np.float32)
        if self.hi == len(self.rows):  # full at the end: move the live rows to the front, or grow
            live = self.hi - self.lo
            rows = self.rows if 2 * live <= len(self.rows) else np.empty((2 * len(self.rows), self.rows.shape[1]), np.float32)
            rows[:live] = self.rows[self.lo:self.hi]
            self.rows, self.lo, self.hi = rows, 0, live
        at = self.lo + i
        if at < self.hi:  # an older frame, late: shift the newer ones down a row
            self.rows[at + 1:self.hi + 1] = self.rows[at:self.hi]
        self.rows[at] = value
        self.hi += 1

    def values(self) -> np.ndarray:
        return self.rows[self.lo:self.hi]


@dataclass
class Summary:
    steps: np.ndarray  # (S, F) step means, oldest first (empty slices filled)
    filled: np.ndarray  # (S,) bool: the slice had at least one good frame
    frames: int  # good frames behind the summary
    span_s: float  # oldest to newest good frame in the horizon
    mean_weight: float  # mean weight of those frames

    @property
    def coverage(self) -> float:
        return float(self.filled.mean())


class StepHorizon:
    def __init__(self, steps: int = 15, seconds: float = 3.75, max_gap_s: float = 0.5, max_back_s: float = 0.25):
        if steps < 1:
            raise ValueError("steps must be >= 1")
        if seconds <= 0 or max_gap_s <= 0 or max_back_s < 0:
            raise ValueError("seconds and max_gap_s must be > 0, max_back_s >= 0")
        self.steps = int(steps)
        self.seconds = float(seconds)
        self.step_s = self.seconds / self.steps
        self.max_gap_s = float(max_gap_s)
        self.max_back_s = float(max_back_s)
        self._faces: dict[int, _Face] = {}

    # ------------------------------------------------------------------ input
    def _face_for(self, face_id: int, stamp: float) -> tuple[_Face, bool]:
        f = self._faces.get(face_id)
        restart = f is None or stamp - f.newest > self.max_gap_s or stamp < f.newest - self.max_back_s
        if restart:
            f = self._faces[face_id] = _Face(first=stamp)
        return f, restart

    def push(self, face_id: int, stamp: float, value: np.ndarray, weight: float = 1.0) -> bool:
        """A good frame of the face; True when its history started over."""
        stamp = float(stamp)
        f, restart = self._face_for(face_id, stamp)
        i = bisect.bisect_right(f.stamps, stamp)
        f.insert(i, np.asarray(value, np.float32))
        f.stamps.insert(i, stamp)
        f.weights.insert(i, float(weight))
        f.newest = max(f.newest, stamp)
        f.first = min(f.first, stamp)
        self._drop_old(f)
        return restart

    def mark_seen(self, face_id: int, stamp: float) -> bool:
        """The face was there but its frame is not used (low quality): its slice stays empty, the
        history is kept (no gap). True when its history started over."""
        stamp = float(stamp)
        f, restart = self._face_for(face_id, stamp)
        f.newest = max(f.newest, stamp)
        f.first = min(f.first, stamp)
        self._drop_old(f)
        return restart

    def _drop_old(self, f: _Face) -> None:
        cut = bisect.bisect_left(f.stamps, f.newest - self.seconds + 1e-9)
        if cut:
            del f.stamps[:cut], f.weights[:cut]
            f.lo += cut

    # ----------------------------------------------------------------- output
    def summary(self, face_id: int) -> Summary | None:
        """The face's steps over the horizon ending at its newest stamp; None without a good frame."""
        f = self._faces.get(face_id)
        if f is None or not f.stamps:
            return None
        s = self.steps
        ages = f.newest - np.asarray(f.stamps)
        slot = s - 1 - np.clip(np.floor(ages / self.step_s + 1e-9).astype(int), 0, s - 1)
        vals = f.values()
        counts = np.bincount(slot, minlength=s)
        sums = np.zeros((s, vals.shape[1]), np.float64)
        # Stamps are kept sorted, so each slice's frames are one run of rows: reduceat sums the
        # runs (np.add.at, unbuffered, took ~0.4 ms a face per frame at 30 frames/s).
        used = np.flatnonzero(counts)
        sums[used] = np.add.reduceat(vals, (np.cumsum(counts) - counts)[used], axis=0, dtype=np.float64)
        filled = counts > 0
        first = int(np.argmax(filled))
        if first < s - 1 and filled[first + 1:].any():
            # The history began inside its oldest slice: that slice holds a few frames whose noisy
            # mean would weigh as a whole step. Leave it out unless it covers most of its time
            # (training sees whole steps only).
            slice_end = f.newest - (s - 1 - first) * self.step_s
            if slice_end - f.first < PARTIAL_SLICE * self.step_s:
                filled[first] = False
                counts[first] = 0
                sums[first] = 0.0
        steps = np.zeros_like(sums)
        steps[filled] = sums[filled] / counts[filled, None]
        first = int(np.argmax(filled))
        steps[:first] = steps[filled].mean(0)
        for t in range(first + 1, s):
            if not filled[t]:
                steps[t] = steps[t - 1]
        return Summary(steps.astype(np.float32), filled, len(f.stamps), float(f.stamps[-1] - f.stamps[0]),
                       float(np.mean(f.weights)))

    def history_s(self, face_id: int) -> float:
        """Seconds since this history (re)started, up to the newest stamp."""
        f = self._faces.get(face_id)
        return 0.0 if f is None else float(f.newest - f.first)

    def newest(self, face_id: int) -> float | None:
        f = self._faces.get(face_id)
        return None if f is None else float(f.newest)

    def count(self, face_id: int) -> int:
        f = self._faces.get(face_id)
        return 0 if f is None else len(f.stamps)

    # ------------------------------------------------------------- bookkeeping
    @property
    def face_ids(self) -> list[int]:
        return list(self._faces)

    def forget(self, face_ids: Iterable[int]) -> None:
        for fid in list(face_ids):
            self._faces.pop(fid, None)

    def forget_stale(self, now: float, max_age_s: float | None = None) -> list[int]:
        """Drop faces not seen for more than `max_age_s` (default max_gap_s) before `now`, or whose
        newest stamp is more than max_back_s after `now` (time jumped back); returns their IDs."""
        age = self.max_gap_s if max_age_s is None else max_age_s
        gone = [fid for fid, f in self._faces.items() if now - f.newest > age or now < f.newest - self.max_back_s]
        self.forget(gone)
        return gone

    def prune(self, active_ids: Iterable[int]) -> list[int]:
        keep = set(active_ids)
        gone = [fid for fid in self._faces if fid not in keep]
        self.forget(gone)
        return gone

    def clear(self) -> None:
        self._faces.clear()
