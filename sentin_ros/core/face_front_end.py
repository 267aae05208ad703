"""Frame -> tracked faces with 478 landmarks: detection, landmark tracking and quality gating.

The tracking scheme is MediaPipe's: a face found by the detector gets a region from its eye
keypoints; after that, each frame's landmarks give the next frame's region, so the detector
runs on the whole frame only every `detect_interval` frames (to find new faces), on the frame
a track is lost, and on every frame while no face is tracked.
The landmark model's face-presence probability decides whether a track lives: a region that
is not a face (a detector false positive, or a track that slid off the face) scores near 0
and dies on the first frame it fails.

Faces smaller than about 1/16 of the frame's longer side are below the full-range model's
reach on the whole frame (it sees 192×192), and it misses many faces that fill a large part
of the frame (on FER2013 faces filling half a 384 px frame it found 71 %, the short-range
model 99 %). `auto` runs both on the whole frame, and adds square tiles of `tile_size` pixels
for the full-range model, one every `tile_interval` frames in turn, so a small, distant face is
found within one sweep of the tiles while no frame pays for more than three detector passes.
"""
from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ..runtime import ModelOptions
from .face_detection import SPECS, Detection, FaceDetector, box_iou, merge_detections
from .face_landmarks import FACE_SCALE, IMAGE_LEFT_EYE, IMAGE_RIGHT_EYE, FaceLandmarker, FaceLandmarks, next_roi
from .face_models import front_end_model
from .face_roi import Roi, roi_from_axis

DETECTOR_RANGES = ("near", "far", "auto")
AUTO_WORKERS_MAX = 2  # landmark_workers: 0 takes one per usable core up to this (measured on 2 cores only)


def usable_cpus() -> int:
    """The cores this process may run on (its affinity, e.g. under taskset or a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass
class FrontEndConfig:
    detector_range: str = "auto"  # near: short-range model; far: full-range; auto: full-range + tiles
    detect_interval: int = 10  # frames between whole-frame detections
    tile_size: int = 384  # auto: square tiles of this many pixels when the frame is larger
    tile_interval: int = 10  # auto: frames between two tile passes (half-way between whole-frame passes)
    min_detection_score: float = 0.5
    # The landmark model's face-presence probability. Real faces, 24 px to full frame, score
    # > 0.9995 when frontal and > 0.98 turned; the non-faces it accepted on our no-face clips
    # (a logo letter) scored 0.55-0.96. A new track must pass the stricter bar once.
    min_presence: float = 0.9  # to keep a track
    min_new_presence: float = 0.99  # to start one
    max_faces: int = 8
    iris: bool = True
    # Faces whose landmarks (and eyes whose iris) run at once, each worker with interpreters of its own
    # (LiteRT releases the GIL in invoke; two workers on two cores measured 1.95x the landmark
    # throughput of one, while two XNNPACK threads in one interpreter gave 1.55x). 0 = one per
    # usable core, at most 2: in the one-process composition at 30 fps with four faces, two on
    # two cores took the image-to-faces latency from 21-55 to ~16 ms median, and the replays
    # without a dropped frame from 4 of 14 to 7 of 8 (benchmarks/README.md, the 2026-12-04 run).
    landmark_workers: int = 0
    # The scheduled detector passes (the whole frame every detect_interval frames, the tiles) run
    # on a thread of their own while the frame's tracks are followed; their new faces join on the
    # next frame, whose find() waits for them, so the results do not depend on timing. A pass
    # costs as much as following a face or two, and on the frame itself it made that frame late.
    # Detection with nothing tracked, on the frame a track is lost, and on a still stays on the frame.
    background_detection: bool = True
    runtime: ModelOptions = field(default_factory=ModelOptions)
    detector_model_path: str = ""  # '' = the mediapipe wheel's model for the range
    landmark_model_path: str = ""  # '' = models/face_landmark_u8.tflite
    iris_model_path: str = ""  # '' = models/iris_landmark_u8.tflite

    def validate(self) -> None:
        if self.detector_range not in DETECTOR_RANGES:
            raise ValueError(f"detector_range must be one of {', '.join(DETECTOR_RANGES)}, got {self.detector_range!r}")
        if not 1 <= self.max_faces <= 32:
            raise ValueError(f"max_faces must be in [1, 32], got {self.max_faces}")
        for name in ("min_detection_score", "min_presence", "min_new_presence"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0 <= self.landmark_workers <= 8:
            raise ValueError(f"landmark_workers must be in [0, 8] (0: one per usable core, at most 2), got {self.landmark_workers}")
        if self.detect_interval < 1 or self.tile_interval < 1:
            raise ValueError("detect_interval and tile_interval must be >= 1")
        if self.tile_size < 64:
            raise ValueError(f"tile_size must be >= 64 pixels, got {self.tile_size}")


@dataclass
class FoundFace:
    """One face of one frame, before identity: landmarks plus where they came from."""

    landmarks: FaceLandmarks
    detection_score: float  # of the detection that started the track (NaN if never detected)
    track: int | None = None  # the track whose region produced it


@dataclass
class _Track:
    roi: Roi | None  # region for the next frame; None once lost
    detection_score: float


def detection_roi(det: Detection) -> Roi:
    """MediaPipe's detection -> face region: box centre, rotation from the eye keypoints, 1.5× the longer side."""
    w, h = det.box[2] - det.box[0], det.box[3] - det.box[1]
    centre = (det.box[:2] + det.box[2:]) / 2
    return roi_from_axis(det.keypoints[0], det.keypoints[1], centre, max(w, h) * FACE_SCALE)


class FaceFrontEnd:
    """`find(rgb)` -> [FoundFace] for one frame; keeps the per-track regions between frames."""

    def __init__(self, config: FrontEndConfig | None = None):
        self.config = config or FrontEndConfig()
        self.config.validate()
        c = self.config
        spec = SPECS["near" if c.detector_range == "near" else "far"]
        model = c.detector_model_path or front_end_model("near" if c.detector_range == "near" else "far")
        self.detector = None
        self.near_detector = None  # auto: the short-range model on the whole frame, for close faces
        self.landmarkers: list[FaceLandmarker] = []
        self._pool = None
        self._detection_pool = None
        self._pending: Future | None = None  # a background detector pass, collected by the next find()
        try:
            if c.detector_range == "auto":
                self.near_detector = FaceDetector(front_end_model("near"), SPECS["near"], c.runtime, min_score=c.min_detection_score)
            self.detector = FaceDetector(
                model, spec, c.runtime, min_score=c.min_detection_score, tile_size=c.tile_size if c.detector_range == "auto" else 0
            )
            workers = c.landmark_workers or min(AUTO_WORKERS_MAX, usable_cpus())
            for _ in range(workers):
                self.landmarkers.append(FaceLandmarker(
                    c.landmark_model_path or front_end_model("landmarks"), (c.iris_model_path or front_end_model("iris")) if c.iris else None, c.runtime
                ))
            if workers > 1:
                self._pool = ThreadPoolExecutor(workers - 1, thread_name_prefix="face_landmarks")
            if c.background_detection:
                self._detection_pool = ThreadPoolExecutor(1, thread_name_prefix="face_detection")
        except Exception:
            self.close()
            raise
        self._tracks: dict[int, _Track] = {}
        self._next_key = 1
        self._frame = 0
        self._tile = 0  # the next tile to scan

    @property
    def landmarker(self) -> FaceLandmarker:
        return self.landmarkers[0]

    def runtimes(self) -> dict:
        """Every interpreter by role: detector, landmarks and (with iris) iris; a second
        landmark worker's as landmarks_2, iris_2, and so on."""
        out = {"detector": self.detector.runtime}
        if self.near_detector is not None:
            out["near_detector"] = self.near_detector.runtime
        for i, worker in enumerate(self.landmarkers):
            suffix = f"_{i + 1}" if i else ""
            out["landmarks" + suffix] = worker.face
            if worker.iris is not None:
                out["iris" + suffix] = worker.iris
        return out

    def describe(self) -> str:
        return f"{self.config.detector_range} range; " + "; ".join(m.describe() for m in self.runtimes().values())

    def reset(self) -> None:
        self._collect_background()
        self._tracks.clear()

    def find(self, rgb: np.ndarray, all_windows: bool = False) -> list[FoundFace]:
        """all_windows: run the whole detection cycle on this frame (a still image)."""
        c = self.config
        h, w = rgb.shape[:2]
        found: list[FoundFace] = []
        lost = False
        keys = list(self._tracks)
        for key, result in zip(keys, self._spread(lambda worker, rois: worker.mesh_many(rgb, rois), [self._tracks[k].roi for k in keys])):
            if result.presence >= c.min_presence and _plausible(result.roi, w, h):
                found.append(FoundFace(result, self._tracks[key].detection_score, key))
            else:
                del self._tracks[key]
                lost = True
        found = _dedupe(found)

        dets = self._collect_background()
        windows = self._windows(w, h, lost, all_windows)
        if windows and len(found) < c.max_faces:
            if self._detection_pool is not None and self._tracks and not lost and not all_windows:
                self._pending = self._detection_pool.submit(self._detect, rgb.copy(), windows)
            else:
                dets = merge_detections([*dets, *self._detect(rgb, windows)]) if dets else self._detect(rgb, windows)
        if dets and len(found) < c.max_faces:
            if found:  # faces we already follow
                boxes = np.array([f.landmarks.box for f in found])
                dets = [d for d in dets if box_iou(d.box, boxes).max() <= 0.2]
            dets = sorted(dets, key=lambda d: -d.score)
            while dets and len(found) < c.max_faces:
                batch, dets = dets[:c.max_faces - len(found)], dets[c.max_faces - len(found):]
                results = self._spread(lambda worker, rois: worker.mesh_many(rgb, rois), [detection_roi(d) for d in batch])
                for det, result in zip(batch, results):
                    if result.presence >= c.min_new_presence and _plausible(result.roi, w, h):
                        found = _dedupe([*found, FoundFace(result, det.score)])
        self._frame += 1

        if self.landmarker.iris is not None:
            # Eyes, not faces, are spread: one face's two eyes go to two workers.
            eyes = [(f.landmarks, eye) for f in found for eye in (IMAGE_LEFT_EYE, IMAGE_RIGHT_EYE)]
            self._spread(lambda worker, share: worker.add_iris_eyes(rgb, share), eyes)
        tracks = {}
        for face in found:
            key = face.track if face.track is not None else self._new_key()
            face.track = key
            tracks[key] = _Track(next_roi(face.landmarks.points), face.detection_score)
        self._tracks = tracks
        return found

    def _detect(self, rgb: np.ndarray, windows: list[tuple[int, int, int, int]]) -> list[Detection]:
        h, w = rgb.shape[:2]
        dets = self.detector.detect(rgb, windows)
        if self.near_detector is not None and windows[0] == (0, 0, w, h):
            dets = merge_detections([*dets, *self.near_detector.detect(rgb, windows[:1])])
        return dets

    def _collect_background(self) -> list[Detection]:
        """The last frame's background pass, waited for (it has usually finished on the other core)."""
        pending, self._pending = self._pending, None
        return pending.result() if pending is not None else []

    def _spread(self, work, items: list) -> list:
        """work(landmarker, items) over consecutive shares of the items, one share per landmark
        worker (this thread takes the first); the results in the items' order."""
        n = min(len(self.landmarkers), len(items))
        if n <= 1:
            return work(self.landmarker, items) or []
        bounds = [round(i * len(items) / n) for i in range(n + 1)]
        shares = [items[a:b] for a, b in zip(bounds, bounds[1:])]
        others = [self._pool.submit(work, worker, share) for worker, share in zip(self.landmarkers[1:], shares[1:])]
        results = work(self.landmarker, shares[0]) or []
        for future in others:
            results += future.result() or []
        return results

    def _windows(self, width: int, height: int, lost: bool, all_windows: bool) -> list[tuple[int, int, int, int]]:
        """The detector windows for this frame: the whole frame when due, and the next tile."""
        windows = self.detector.windows(width, height)
        if all_windows:
            return windows
        due = []
        # With nothing tracked the whole-frame pass runs every frame: it is then the only work,
        # and costs about what following one face does.
        if lost or not self._tracks or self._frame % self.config.detect_interval == 0:
            due.append(windows[0])
        tiles = windows[1:]
        # Half-way between whole-frame passes, so that no frame pays for both.
        if tiles and self._frame % self.config.tile_interval == self.config.tile_interval // 2:
            due.append(tiles[self._tile % len(tiles)])
            self._tile += 1
        return due

    def _new_key(self) -> int:
        self._next_key += 1
        return self._next_key - 1

    def close(self) -> None:
        for pool in (self._pool, self._detection_pool):
            if pool is not None:
                pool.shutdown(wait=True)
        self._pool = self._detection_pool = self._pending = None
        for part in (self.detector, self.near_detector, *self.landmarkers):
            if part is not None:
                part.close()
        self.detector = self.near_detector = None
        self.landmarkers = []


def _plausible(roi: Roi, width: int, height: int) -> bool:
    """A region that grew past the frame or shrank to a few pixels is no face track."""
    return 8.0 <= roi.size <= 3.0 * max(width, height)


def _dedupe(faces: list[FoundFace], iou: float = 0.5) -> list[FoundFace]:
    """Two regions that converged on one face: keep the older track (then the more confident)."""
    order = sorted(faces, key=lambda f: (f.track is None, f.track or 0, -f.landmarks.presence))
    kept: list[FoundFace] = []
    boxes: list[np.ndarray] = []
    for face in order:
        box = face.landmarks.box
        if boxes and box_iou(box, np.array(boxes)).max() > iou:
            continue
        kept.append(face)
        boxes.append(box)
    return kept
