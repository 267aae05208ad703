"""Bags back into frames: `BagReader` (images, labels, raw messages) and `bag_topics`."""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .store import IMAGE_TOPIC, IMAGE_TYPES, LABEL_TOPIC, BagError, stamp_ns, typestore


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
        from ...ros.convert.images import ImageError, compressed_to_array, image_to_array

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
        from ...ros.convert.images import ImageError, image_to_array

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
