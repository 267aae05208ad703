"""rosbag2 read/write (store.py, write.py, read.py; `sentin-ros bag`: cli.py; outputs: recorder.py) with the `rosbags` library (no ROS install needed): camera frames in,
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
from .read import BagFrame, BagInfo, BagReader, bag_topics
from .store import (
    BAG_VERSION,
    DEFAULT_START_S,
    FER_SPLITS,
    IMAGE_TOPIC,
    IMAGE_TYPES,
    INFO_TOPIC,
    LABEL_TOPIC,
    STORAGES,
    BagError,
    BagWriter,
    bag_dir,
    camera_info_msg,
    header,
    image_msg,
    label_msg,
    msg_dir,
    split_ns,
    stamp_ns,
    typestore,
)
from .write import SourceFrame, fer_face_frame, fer_source, load_fer_split, synthetic_source, write_frames

__all__ = [
    "BAG_VERSION", "DEFAULT_START_S", "FER_SPLITS", "IMAGE_TOPIC", "IMAGE_TYPES", "INFO_TOPIC", "LABEL_TOPIC", "STORAGES",
    "BagError", "BagFrame", "BagInfo", "BagReader", "BagWriter", "SourceFrame", "bag_dir", "bag_topics", "camera_info_msg",
    "fer_face_frame", "fer_source", "header", "image_msg", "label_msg", "load_fer_split", "msg_dir", "split_ns", "stamp_ns",
    "synthetic_source", "typestore", "write_frames",
]
