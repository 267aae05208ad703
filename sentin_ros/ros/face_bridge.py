"""FaceObservation (core) <-> sentin_ros/Face messages. Every output carries the image header."""
from __future__ import annotations

import array

import numpy as np

from ..core.face_pipeline import FaceObservation, FrameFaces


def roi_msg(roi: tuple[int, int, int, int]):
    from sensor_msgs.msg import RegionOfInterest

    msg = RegionOfInterest()
    msg.x_offset, msg.y_offset, msg.width, msg.height = (int(v) for v in roi)
    return msg


def face_to_msg(face: FaceObservation):
    from sentin_ros.msg import Face

    msg = Face()
    msg.face_id = int(face.face_id)
    msg.roi = roi_msg(face.roi)
    msg.score = float(face.score) if np.isfinite(face.score) else 0.0
    msg.landmarks = array.array("f", np.ascontiguousarray(face.landmarks, dtype=np.float32).ravel().tobytes())
    msg.yaw, msg.pitch, msg.roll = float(face.yaw), float(face.pitch), float(face.roll)
    msg.head_position.x, msg.head_position.y, msg.head_position.z = (float(v) for v in face.head_position)
    msg.crop = array.array("B", np.ascontiguousarray(face.crop, dtype=np.uint8).tobytes())
    msg.geometry = face.geometry.astype(np.float32)
    msg.eye = face.eye.astype(np.float32)
    return msg


def frame_to_msg(frame: FrameFaces, header):
    from sentin_ros.msg import FaceArray

    msg = FaceArray()
    msg.header = header
    msg.image_width, msg.image_height = int(frame.width), int(frame.height)
    msg.faces = [face_to_msg(f) for f in frame.faces]
    return msg


def msg_to_face(msg) -> FaceObservation:
    landmarks = np.asarray(msg.landmarks, dtype=np.float32)
    crop = np.frombuffer(bytes(msg.crop), dtype=np.uint8) if not isinstance(msg.crop, np.ndarray) else msg.crop
    return FaceObservation(
        face_id=int(msg.face_id),
        roi=(msg.roi.x_offset, msg.roi.y_offset, msg.roi.width, msg.roi.height),
        score=float(msg.score),
        landmarks=landmarks.reshape(-1, 3) if landmarks.size else landmarks.reshape(0, 3),
        yaw=float(msg.yaw),
        pitch=float(msg.pitch),
        roll=float(msg.roll),
        head_position=(msg.head_position.x, msg.head_position.y, msg.head_position.z),
        crop=crop.reshape(48, 48) if crop.size == 48 * 48 else crop,
        geometry=np.asarray(msg.geometry, dtype=np.float32),
        eye=np.asarray(msg.eye, dtype=np.float32),
    )
