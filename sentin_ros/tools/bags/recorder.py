"""Perception outputs written to a rosbag2 (FaceArray, Emotion, Stress, Gaze) during an evaluation.
"""
from __future__ import annotations

import threading

from ...core.face_pipeline import FrameFaces
from ...ros.convert.faces import frame_to_msg
from ...ros.convert.images import header_msg
from ...ros.convert.outputs import emotion_fields, emotion_msg, gaze_fields, gaze_msg, stress_fields, stress_msg
from ...ros.convert.types import RosbagsTypes
from .store import BagError


# -- recording outputs ------------------------------------------------------------------------
class OutputRecorder:
    """Perception outputs to a rosbag2 (FaceArray, Emotion, Stress, Gaze), typed with the
    sentin_ros messages registered in the rosbags typestore from msg/*.msg."""

    TOPICS = {"faces": "/faces", "emotion": "/emotion", "stress": "/stress", "gaze": "/gaze"}
    TYPES = {"faces": "sentin_ros/msg/FaceArray", "emotion": "sentin_ros/msg/Emotion", "stress": "sentin_ros/msg/Stress", "gaze": "sentin_ros/msg/Gaze"}

    def __init__(self, path: str, overwrite: bool = True):
        from .store import BagWriter, bag_dir

        directory, storage = bag_dir(path)
        self.writer = BagWriter(directory, storage or "mcap", overwrite=overwrite)
        self.store = self.writer.store
        self.types = RosbagsTypes(self.store)
        if "sentin_ros/msg/Emotion" not in self.store.types:
            raise BagError("the sentin_ros message definitions (msg/*.msg) were not found; cannot record outputs")
        self._lock = threading.Lock()

    def write_raw(self, kind: str, data: bytes, ns: int) -> None:
        with self._lock:
            self.writer.write_raw(self.TOPICS[kind], self.TYPES[kind], data, ns)

    def write_result(self, ns: int, frame_id: str, result) -> None:
        """One PerceptionPipeline FrameResult as the messages the nodes would publish (the same builders)."""
        types = self.types
        hdr = header_msg(ns, frame_id, types)
        frame = FrameFaces(result.stamp, result.width, result.height, [r.face for r in result.faces])
        with self._lock:
            self.writer.write(self.TOPICS["faces"], frame_to_msg(frame, hdr, types), ns)
            for r in result.faces:
                fid = int(r.face.face_id)
                if r.emotion is not None:
                    self.writer.write(self.TOPICS["emotion"], emotion_msg(hdr, emotion_fields(fid, r.emotion, r.face.roi), types), ns)
                if r.stress is not None:
                    self.writer.write(self.TOPICS["stress"], stress_msg(hdr, stress_fields(r.stress), types), ns)
                if r.gaze is not None:
                    self.writer.write(self.TOPICS["gaze"], gaze_msg(hdr, gaze_fields(r.gaze), types), ns)

    def summary(self) -> dict:
        return {"bag": str(self.writer.path), "messages": dict(self.writer.counts)}

    def close(self) -> None:
        with self._lock:
            self.writer.close()
