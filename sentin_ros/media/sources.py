"""Frames from a video file, an image folder or a V4L2 webcam (OpenCV), ROS-free.

The one source loader: the source node publishes these, `bag make` records them, the demo reads them. `open_source` takes
  - a video file path (anything OpenCV/FFmpeg reads: .mp4, .mov, .avi, ...),
  - a folder of images (.png/.jpg/.jpeg/.bmp/.tif/.tiff/.webp, in name order),
  - a webcam: '/dev/videoN' or an integer index ('0').
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
#: Nominal rate of an image folder (it has none of its own), frames per second.
FOLDER_RATE = 10.0


class SourceError(RuntimeError):
    """The source cannot be opened or read; the message says why."""


@dataclass
class SourceInfo:
    kind: str  # video | folder | camera
    spec: str
    fps: float  # the source's own rate; 0 when unknown (cameras that do not say)
    width: int
    height: int
    frames: int  # total frames; 0 for cameras / unknown


class FrameSource:
    """Sequential BGR frames; `read()` returns None at the end (never for a camera)."""

    info: SourceInfo

    def read(self) -> np.ndarray | None:
        raise NotImplementedError

    def rewind(self) -> bool:
        """Back to the first frame; False where a source cannot (cameras)."""
        return False

    def close(self) -> None:
        pass


def camera_index(spec: str) -> int | str | None:
    """'3' -> 3, '/dev/video3' -> '/dev/video3'; None when `spec` is not a camera."""
    spec = str(spec).strip()
    if re.fullmatch(r"\d+", spec):
        return int(spec)
    if re.fullmatch(r"/dev/video\d+", spec):
        return spec
    return None


class VideoSource(FrameSource):
    def __init__(self, spec: str, camera: int | str | None = None, width: int = 0, height: int = 0):
        self._spec = spec
        self._camera = camera
        if camera is not None:
            api = cv2.CAP_V4L2 if os.name == "posix" else cv2.CAP_ANY
            self._cap = cv2.VideoCapture(camera, api)
            if width > 0:
                self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            if height > 0:
                self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        else:
            if not os.path.isfile(spec):
                raise SourceError(f"video file not found: {spec!r}")
            self._cap = cv2.VideoCapture(spec)
        if not self._cap.isOpened():
            raise SourceError(f"OpenCV cannot open {'camera' if camera is not None else 'video'} {spec!r}")
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        frames = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if camera is None else 0
        self._first = self._cap.read()[1]  # size from a real frame: some containers report 0
        if self._first is None:
            self._cap.release()
            raise SourceError(f"{spec!r} yields no frames")
        h, w = self._first.shape[:2]
        self.info = SourceInfo("camera" if camera is not None else "video", spec, fps if 0 < fps < 1000 else 0.0, w, h, max(frames, 0))

    def read(self) -> np.ndarray | None:
        if self._first is not None:
            frame, self._first = self._first, None
            return frame
        ok, frame = self._cap.read()
        return frame if ok else None

    def rewind(self) -> bool:
        if self._camera is not None:
            return False
        return bool(self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0))

    def close(self) -> None:
        self._cap.release()


class FolderSource(FrameSource):
    def __init__(self, folder: str):
        self._files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._files:
            raise SourceError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder!r}")
        self._i = 0
        first = cv2.imread(str(self._files[0]), cv2.IMREAD_COLOR)
        if first is None:
            raise SourceError(f"cannot read {self._files[0]}")
        self.info = SourceInfo("folder", folder, FOLDER_RATE, first.shape[1], first.shape[0], len(self._files))

    def read(self) -> np.ndarray | None:
        while self._i < len(self._files):
            path = self._files[self._i]
            self._i += 1
            img = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if img is not None:
                return img
        return None

    def rewind(self) -> bool:
        self._i = 0
        return True


def open_source(spec: str, width: int = 0, height: int = 0) -> FrameSource:
    spec = str(spec).strip()
    if not spec:
        raise SourceError("no source given: set `source` to a video file, an image folder, /dev/videoN or a camera index")
    cam = camera_index(spec)
    if cam is not None:
        return VideoSource(spec, cam, width, height)
    if os.path.isdir(spec):
        return FolderSource(spec)
    return VideoSource(spec)


def read_frames(source: FrameSource, max_frames: int = 0, resize: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """The source's frames, then closes it; every frame is resized to `resize` (width, height), or to
    the first frame's size when a later one differs (image folders of mixed sizes)."""
    try:
        size = resize
        n = 0
        while not max_frames or n < max_frames:
            frame = source.read()
            if frame is None:
                return
            if size is None:
                size = (frame.shape[1], frame.shape[0])
            if (frame.shape[1], frame.shape[0]) != tuple(size):
                frame = cv2.resize(frame, tuple(size))
            yield frame
            n += 1
    finally:
        source.close()
