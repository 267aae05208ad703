"""Stable face IDs across frames.

A detection joins the track whose last box overlaps it most (IoU), or whose centre is within
`max_center_jump` face widths; a track unseen for `timeout_s` (frame time, not wall time, so
bag replays are deterministic) is retired. IDs grow monotonically and are never reused.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Box = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax (pixels)


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _center_jump(a: Box, b: Box) -> float:
    """Centre distance in units of the mean box width."""
    ca = np.array([(a[0] + a[2]) / 2, (a[1] + a[3]) / 2])
    cb = np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2])
    width = max(1e-6, ((a[2] - a[0]) + (b[2] - b[0])) / 2)
    return float(np.linalg.norm(ca - cb) / width)


@dataclass
class Track:
    face_id: int
    box: Box
    last_seen: float
    first_seen: float
    hits: int = 1
    state: dict = field(default_factory=dict)  # per-track memory of the pipeline (previous pose...)


class FaceTracker:
    def __init__(self, timeout_s: float = 1.0, min_iou: float = 0.2, max_center_jump: float = 0.6):
        if timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")
        self.timeout_s = timeout_s
        self.min_iou = min_iou
        self.max_center_jump = max_center_jump
        self._tracks: dict[int, Track] = {}
        self._next_id = 1
        self._last_t: float | None = None

    @property
    def tracks(self) -> dict[int, Track]:
        return self._tracks

    def update(self, boxes: list[Box], t: float, known: list[int | None] | None = None) -> tuple[list[Track], list[int]]:
        """Assigns each box a track at time `t` (seconds); returns (tracks in box order, retired IDs).

        known[i], when given, is the ID a box already belongs to (the landmark tracker followed
        that face from the previous frame); only the other boxes are matched by overlap.
        """
        retired = [fid for fid, tr in self._tracks.items() if t - tr.last_seen > self.timeout_s]
        for fid in retired:
            del self._tracks[fid]

        assigned: dict[int, int] = {}
        used: set[int] = set()
        for bi, fid in enumerate(known or []):
            if fid is not None and fid in self._tracks and fid not in used:
                assigned[bi] = fid
                used.add(fid)

        candidates = []
        for bi, box in enumerate(boxes):
            if bi in assigned:
                continue
            for fid, tr in self._tracks.items():
                if fid in used:
                    continue
                overlap = iou(box, tr.box)
                jump = _center_jump(box, tr.box)
                # A face seen on the previous frame and found again by the detector on this one
                # moved fast (its landmark region lost it): allow twice the jump.
                limit = self.max_center_jump * (2.0 if tr.last_seen == self._last_t else 1.0)
                if overlap >= self.min_iou or jump <= limit:
                    candidates.append((overlap - 0.1 * jump, bi, fid))
        candidates.sort(reverse=True)

        for _, bi, fid in candidates:
            if bi in assigned or fid in used:
                continue
            assigned[bi] = fid
            used.add(fid)

        result = []
        for bi, box in enumerate(boxes):
            fid = assigned.get(bi)
            if fid is None:
                fid = self._next_id
                self._next_id += 1
                self._tracks[fid] = Track(fid, box, t, t, hits=0)
            tr = self._tracks[fid]
            tr.box, tr.last_seen, tr.hits = box, t, tr.hits + 1
            result.append(tr)
        self._last_t = t
        return result, retired

    def reset(self) -> None:
        """Forgets all tracks; IDs keep growing (never reused within a run)."""
        self._tracks.clear()
