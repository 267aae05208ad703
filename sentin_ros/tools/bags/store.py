"""The rosbag2 layer shared by writing and reading: constants, the typestore (with the sentin_ros
messages), stamps, bag directories, the writer, and the camera-topic messages.
See sentin_ros/tools/bags/__init__.py for the bag layout."""
from __future__ import annotations

import json
import shutil
from functools import lru_cache
from pathlib import Path

import numpy as np

from ...ros.convert.images import ImageError, array_to_image, header_msg
from ...ros.convert.images import camera_info_msg as camera_info_from_size
from ...ros.convert.types import RosbagsTypes
from ...runtime.paths import share_path

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
