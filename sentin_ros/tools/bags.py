"""rosbag2 read/write with the `rosbags` library (no ROS install needed): camera frames in,
perception outputs out.

Bags written here open in the real ROS 2 tools (`ros2 bag info/play`): a rosbag2 directory with
`metadata.yaml` (format version 8, as written by Jazzy), MCAP (default) or sqlite3 storage,
standard type names, message definitions and RIHS01 type hashes taken from the Jazzy typestore.

Topics of a bag made by `sentin-ros bag make` (names configurable):
  /camera/image_raw    sensor_msgs/msg/Image       bgr8 (video, folders, synthetic) or mono8 (labelled faces)
  /camera/camera_info  sensor_msgs/msg/CameraInfo  pinhole K with f = image width (the face node's default)
  /camera/labels       std_msgs/msg/String         only for labelled sets, see below
Every message of one frame carries the same time: Image.header.stamp == CameraInfo.header.stamp,
and the bag (receive) timestamp of all three messages is that stamp, in nanoseconds.

The label topic: std_msgs/String has no header, so its stamp travels twice: as the message's
bag timestamp, and inside the JSON payload:
  {"stamp": {"sec": S, "nanosec": N}, "label": k, "name": "happy", "index": i, "source": "fer2013:PrivateTest"}
`label` is the FER2013 class index (0 angry .. 6 neutral), `name` its name, `index` the row in the
source set. A label belongs to the Image with the same stamp.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ..inference.emotion import CLASSES
from ..ros.convert.images import ImageError, array_to_image, header_msg
from ..ros.convert.images import camera_info_msg as camera_info_from_size
from ..ros.convert.types import RosbagsTypes
from ..runtime.paths import share_path

IMAGE_TOPIC = "/camera/image_raw"
INFO_TOPIC = "/camera/camera_info"
LABEL_TOPIC = "/camera/labels"
IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
STORAGES = ("mcap", "sqlite3")
BAG_VERSION = 8  # rosbag2 metadata version written by ROS 2 Jazzy
DEFAULT_START_S = 1_700_000_000.0  # fixed so the same input always gives the same bag
FER_SPLITS = {"Training": 0, "PublicTest": 1, "PrivateTest": 2}


class BagError(RuntimeError):
    """A bag cannot be read or written as asked; the message says why (printed by the CLI)."""


# -- type store -----------------------------------------------------------------------------
def msg_dir() -> Path | None:
    """The sentin_ros .msg files: msg/ in a checkout, share/sentin_ros/msg in an install."""
    path = share_path("msg")
    return path if path.is_dir() else None


@lru_cache(maxsize=1)
def typestore():
    """Jazzy typestore plus the sentin_ros messages parsed from msg/*.msg."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    folder = msg_dir()
    if folder is not None:
        types = {}
        for path in sorted(folder.glob("*.msg")):
            types.update(get_types_from_msg(path.read_text(), f"sentin_ros/msg/{path.stem}"))
        store.register(types)
    return store


def stamp_ns(sec: int, nanosec: int) -> int:
    return int(sec) * 1_000_000_000 + int(nanosec)


def split_ns(ns: int) -> tuple[int, int]:
    return int(ns // 1_000_000_000), int(ns % 1_000_000_000)


def bag_dir(path: str | Path) -> tuple[Path, str | None]:
    """Output path -> (bag directory, storage implied by a .mcap/.db3 suffix or None)."""
    p = Path(path)
    if p.suffix == ".mcap":
        return p.with_suffix(""), "mcap"
    if p.suffix == ".db3":
        return p.with_suffix(""), "sqlite3"
    return p, None


# -- writing --------------------------------------------------------------------------------
class BagWriter:
    """rosbags Writer with a typestore and per-topic connections created on first use."""

    def __init__(self, path: str | Path, storage: str = "mcap", overwrite: bool = False):
        from rosbags.rosbag2 import StoragePlugin, Writer

        if storage not in STORAGES:
            raise BagError(f"storage must be one of {', '.join(STORAGES)}, got {storage!r}")
        self.path = Path(path)
        if self.path.exists():
            if not overwrite:
                raise BagError(f"{self.path} already exists (use --force to overwrite)")
            if self.path.is_dir() and (self.path / "metadata.yaml").exists():
                shutil.rmtree(self.path)
            else:
                raise BagError(f"{self.path} exists and is not a bag directory; not overwriting it")
        self.store = typestore()
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self._writer = Writer(self.path, version=BAG_VERSION, storage_plugin=plugin)
        self._writer.open()
        self._connections: dict[str, object] = {}
        self.counts: dict[str, int] = {}

    def connection(self, topic: str, msgtype: str):
        conn = self._connections.get(topic)
        if conn is None:
            conn = self._writer.add_connection(topic, msgtype, typestore=self.store)
            self._connections[topic] = conn
        return conn

    def write(self, topic: str, msg, timestamp_ns: int) -> None:
        self.write_raw(topic, msg.__msgtype__, self.store.serialize_cdr(msg, msg.__msgtype__), timestamp_ns)

    def write_raw(self, topic: str, msgtype: str, data: bytes, timestamp_ns: int) -> None:
        """CDR bytes as produced by rclpy.serialization.serialize_message or serialize_cdr."""
        self._writer.write(self.connection(topic, msgtype), int(timestamp_ns), data)
        self.counts[topic] = self.counts.get(topic, 0) + 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def header(store, ns: int, frame_id: str):
    return header_msg(ns, frame_id, RosbagsTypes(store))


def image_msg(store, img: np.ndarray, ns: int, frame_id: str):
    types = RosbagsTypes(store)
    try:
        return array_to_image(img, "mono8" if img.ndim == 2 else "bgr8", header_msg(ns, frame_id, types), types)
    except ImageError as exc:
        raise BagError(str(exc)) from exc


def camera_info_msg(store, width: int, height: int, ns: int, frame_id: str):
    types = RosbagsTypes(store)
    return camera_info_from_size(width, height, header_msg(ns, frame_id, types), types)


def label_msg(store, label: dict, ns: int):
    sec, nanosec = split_ns(ns)
    payload = {"stamp": {"sec": sec, "nanosec": nanosec}, **label}
    return store.types["std_msgs/msg/String"](data=json.dumps(payload, sort_keys=True))


@dataclass
class SourceFrame:
    image: np.ndarray  # BGR H×W×3 or mono H×W, uint8
    label: dict | None = None  # {"label": k, "name": ..., "index": i, "source": ...}


def write_frames(
    out: str | Path,
    frames: Iterable[SourceFrame],
    rate: float,
    storage: str = "mcap",
    start_s: float = DEFAULT_START_S,
    frame_id: str = "camera_optical",
    image_topic: str = IMAGE_TOPIC,
    info_topic: str | None = INFO_TOPIC,
    label_topic: str = LABEL_TOPIC,
    overwrite: bool = False,
    progress=None,
) -> dict:
    """Writes the frames at `rate` Hz from `start_s`; returns a summary (path, counts, duration)."""
    if rate <= 0:
        raise BagError(f"rate must be > 0, got {rate}")
    path, implied = bag_dir(out)
    storage = implied or storage
    start_ns = round(start_s * 1e9)
    n = labelled = 0
    size = None
    with BagWriter(path, storage, overwrite) as writer:
        store = writer.store
        for n, frame in enumerate(frames):  # noqa: B007 - n is used after the loop
            ns = start_ns + round(n * 1e9 / rate)
            writer.write(image_topic, image_msg(store, frame.image, ns, frame_id), ns)
            h, w = frame.image.shape[:2]
            size = (w, h)
            if info_topic:
                writer.write(info_topic, camera_info_msg(store, w, h, ns, frame_id), ns)
            if frame.label is not None:
                writer.write(label_topic, label_msg(store, frame.label, ns), ns)
                labelled += 1
            if progress is not None:
                progress(n + 1)
        count = writer.counts.get(image_topic, 0)
    if count == 0:
        shutil.rmtree(path, ignore_errors=True)
        raise BagError("the source gave no frames; no bag written")
    return {
        "bag": str(path), "storage": storage, "frames": count, "labelled": labelled, "rate_hz": rate,
        "duration_s": (count - 1) / rate, "size": size,
        "topics": [image_topic] + ([info_topic] if info_topic else []) + ([label_topic] if labelled else []),
    }


# -- sources (video files, image folders and cameras: sentin_ros.media.sources) -------------
def fer_face_frame(face48: np.ndarray, face_size: int = 192, canvas: int = 384, background: int = 128) -> np.ndarray:
    """A 48×48 face upscaled (bicubic) to face_size and centred on a grey canvas (mono8)."""
    big = cv2.resize(face48, (face_size, face_size), interpolation=cv2.INTER_CUBIC)
    frame = np.full((canvas, canvas), background, np.uint8)
    o = (canvas - face_size) // 2
    frame[o:o + face_size, o:o + face_size] = big
    return frame


def load_fer_split(npz: str, split: str = "PrivateTest", limit: int = 0, offset: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pixels N×48×48 uint8, labels N int, row indices N) of one FER2013 split, in file order."""
    if split not in FER_SPLITS:
        raise BagError(f"split must be one of {', '.join(FER_SPLITS)}, got {split!r}")
    if not Path(npz).is_file():
        raise BagError(f"labelled set not found: {npz}")
    try:
        data = np.load(npz, allow_pickle=False)
        usage, labels = data["usage"], data["label"]
    except (KeyError, ValueError, OSError) as exc:
        raise BagError(f"{npz} is not a FER2013 .npz with pixels/label/usage arrays: {exc}") from exc
    rows = np.flatnonzero(usage == FER_SPLITS[split])[offset:]
    if limit:
        rows = rows[:limit]
    return data["pixels"][rows], labels[rows].astype(int), rows


def fer_source(
    npz: str, split: str = "PrivateTest", limit: int = 0, offset: int = 0, face_size: int = 192, canvas: int = 384, gap_frames: int = 1,
) -> Iterator[SourceFrame]:
    """Labelled FER2013 faces on a grey canvas. `gap_frames` empty canvases (no label) precede each
    face: the faces are unrelated images, and FaceMesh in video mode would otherwise try to *track*
    the previous face into the next one (measured on 300 PrivateTest faces: 93% found without a
    gap, 98% with one, the same as FaceMesh in still-image mode) -- with a gap each face is found by
    the detector, as when a person walks into view."""
    if face_size > canvas:
        raise BagError(f"face size {face_size} is larger than the canvas {canvas}")
    if gap_frames < 0:
        raise BagError(f"gap frames must be >= 0, got {gap_frames}")
    pixels, labels, rows = load_fer_split(npz, split, limit, offset)
    blank = np.full((canvas, canvas), 128, np.uint8)
    for face, label, row in zip(pixels, labels, rows):
        for _ in range(gap_frames):
            yield SourceFrame(blank)
        yield SourceFrame(
            fer_face_frame(face, face_size, canvas),
            {"label": int(label), "name": CLASSES[int(label)], "index": int(row), "source": f"fer2013:{split}"},
        )


def synthetic_source(n_frames: int = 30, size: tuple[int, int] = (640, 480), leave: bool = True) -> Iterator[SourceFrame]:
    from ..media.synthetic import synthetic_clip

    for frame in synthetic_clip(n_frames, size, leave):
        yield SourceFrame(frame.bgr)


# -- reading --------------------------------------------------------------------------------
@dataclass
class BagFrame:
    index: int
    stamp_ns: int  # Image.header.stamp
    bag_ns: int  # the bag's timestamp of the message
    image: np.ndarray
    encoding: str  # bgr8 | rgb8 | mono8
    frame_id: str
    label: dict | None = None


@dataclass
class BagInfo:
    path: str
    storage: str
    image_topic: str
    image_type: str
    frames: int
    label_topic: str | None
    labels: int
    duration_s: float
    topics: dict[str, str]  # topic -> type
    rate_hz: float


def _resolve(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise BagError(f"no bag at {p} (no such file or directory)")
    if p.is_file():  # a .mcap/.db3 inside a bag directory
        if (p.parent / "metadata.yaml").exists():
            return p.parent
        raise BagError(f"{p} is a file without metadata.yaml beside it; pass the rosbag2 directory")
    if not (p / "metadata.yaml").exists():
        raise BagError(f"{p} is not a rosbag2 directory (no metadata.yaml)")
    return p


def _storage_of(path: Path) -> str:
    files = [f.name for f in path.iterdir()]
    return "mcap" if any(f.endswith(".mcap") for f in files) else "sqlite3" if any(f.endswith(".db3") for f in files) else "?"


def bag_topics(path: str | Path) -> dict:
    """{"path", "storage", "messages", "duration_s", "topics": {topic: type}, "counts": {topic: n}} of any bag."""
    from rosbags.rosbag2 import Reader

    p = _resolve(path)
    try:
        with Reader(p) as r:
            return {
                "path": str(p), "storage": _storage_of(p),
                "messages": r.message_count, "duration_s": r.duration * 1e-9,
                "topics": {c.topic: c.msgtype for c in r.connections}, "counts": {c.topic: c.msgcount for c in r.connections},
            }
    except Exception as exc:  # rosbags raises ReaderError, yaml and storage errors
        raise BagError(f"cannot open bag {p}: {exc}") from exc


class BagReader:
    """Frames of one image topic, in bag order, with their labels matched by stamp."""

    def __init__(self, path: str | Path, image_topic: str | None = None, label_topic: str | None = None):
        from rosbags.rosbag2 import Reader

        self.path = _resolve(path)
        self.store = typestore()
        try:
            self._reader = Reader(self.path)
            self._reader.open()
        except Exception as exc:  # rosbags raises ReaderError, yaml and sqlite/mcap errors
            raise BagError(f"cannot open bag {self.path}: {exc}") from exc
        topics = {c.topic: c.msgtype for c in self._reader.connections}
        images = [t for t, ty in topics.items() if ty in IMAGE_TYPES]
        if image_topic is None:
            if not images:
                self.close()
                raise BagError(f"{self.path} has no image topic (sensor_msgs/msg/Image or CompressedImage); topics: {_fmt(topics)}")
            image_topic = IMAGE_TOPIC if IMAGE_TOPIC in images else images[0] if len(images) == 1 else None
            if image_topic is None:
                self.close()
                raise BagError(f"{self.path} has several image topics {images}; choose one with --image-topic")
        elif image_topic not in topics:
            self.close()
            raise BagError(f"topic {image_topic!r} is not in {self.path}; image topics: {images or 'none'} (all: {_fmt(topics)})")
        elif topics[image_topic] not in IMAGE_TYPES:
            self.close()
            raise BagError(f"topic {image_topic!r} has type {topics[image_topic]}, not an image type")
        if label_topic is None:
            label_topic = LABEL_TOPIC if topics.get(LABEL_TOPIC) == "std_msgs/msg/String" else None
        elif label_topic not in topics:
            self.close()
            raise BagError(f"label topic {label_topic!r} is not in {self.path} (topics: {_fmt(topics)})")
        self.image_topic, self.label_topic = image_topic, label_topic
        self._image_conns = [c for c in self._reader.connections if c.topic == image_topic]
        self.labels = self._read_labels() if label_topic else {}
        frames = sum(c.msgcount for c in self._image_conns)
        duration = self._reader.duration * 1e-9 if frames else 0.0
        self.info = BagInfo(
            str(self.path), _storage_of(self.path), image_topic, topics[image_topic], frames, label_topic, len(self.labels),
            duration, topics, (frames - 1) / duration if duration > 0 and frames > 1 else 0.0,
        )


    def _deserialize(self, raw: bytes, conn, n: int, ns: int):
        try:
            return self.store.deserialize_cdr(raw, conn.msgtype)
        except Exception as exc:  # truncated/garbled CDR raises many kinds of errors
            raise BagError(
                f"{self.path}: message #{n} on {conn.topic} ({conn.msgtype}) at t={ns * 1e-9:.9f} s is corrupt "
                f"and cannot be decoded ({exc.__class__.__name__}: {exc})"
            ) from exc

    def _messages(self, conns):
        try:
            yield from self._reader.messages(connections=conns)
        except BagError:
            raise
        except Exception as exc:  # damaged storage file
            raise BagError(f"{self.path}: cannot read the bag's storage ({exc.__class__.__name__}: {exc})") from exc

    def _read_labels(self) -> dict[int, dict]:
        out = {}
        conns = [c for c in self._reader.connections if c.topic == self.label_topic]
        for n, (conn, ns, raw) in enumerate(self._messages(conns)):
            msg = self._deserialize(raw, conn, n, ns)
            try:
                payload = json.loads(msg.data)
                stamp = payload.get("stamp")
                key = stamp_ns(stamp["sec"], stamp["nanosec"]) if stamp else ns
                int(payload["label"])
            except (ValueError, KeyError, TypeError) as exc:
                raise BagError(f"{self.path}: label #{n} on {self.label_topic} is not the label JSON ({exc}): {msg.data[:80]!r}") from exc
            out[key] = payload
        return out

    def __iter__(self) -> Iterator[BagFrame]:
        from ..ros.convert.images import ImageError, compressed_to_array, image_to_array

        for n, (conn, ns, raw) in enumerate(self._messages(self._image_conns)):
            msg = self._deserialize(raw, conn, n, ns)
            try:
                img, enc = compressed_to_array(msg) if conn.msgtype.endswith("CompressedImage") else image_to_array(msg)
            except ImageError as exc:
                raise BagError(f"{self.path}: image #{n} on {conn.topic} at t={ns * 1e-9:.9f} s is unusable: {exc}") from exc
            st = stamp_ns(msg.header.stamp.sec, msg.header.stamp.nanosec)
            yield BagFrame(n, st, ns, img, enc, msg.header.frame_id, self.labels.get(st))

    def raw_images(self) -> Iterator[tuple[int, str, bytes, int]]:
        """(bag timestamp, msgtype, CDR bytes, header stamp ns) of the image topic, for replay as
        recorded. Each message is decoded once to check it (a corrupt one raises BagError here,
        not in a subscriber's callback), but the recorded bytes are what is returned."""
        from ..ros.convert.images import ImageError, image_to_array

        for n, (conn, ns, raw) in enumerate(self._messages(self._image_conns)):
            msg = self._deserialize(raw, conn, n, ns)
            if not conn.msgtype.endswith("CompressedImage"):
                try:
                    image_to_array(msg)
                except ImageError as exc:
                    raise BagError(f"{self.path}: image #{n} on {conn.topic} at t={ns * 1e-9:.9f} s is unusable: {exc}") from exc
            elif len(msg.data) == 0:
                raise BagError(f"{self.path}: image #{n} on {conn.topic} is an empty CompressedImage")
            yield ns, conn.msgtype, bytes(raw), stamp_ns(msg.header.stamp.sec, msg.header.stamp.nanosec)

    def close(self) -> None:
        reader, self._reader = getattr(self, "_reader", None), None
        if reader is not None:
            try:
                reader.close()
            except Exception:  # closing a reader that failed to open
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _fmt(topics: dict[str, str]) -> str:
    return ", ".join(f"{t} [{ty}]" for t, ty in sorted(topics.items())) or "none"
