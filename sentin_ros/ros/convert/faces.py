"""sentin_ros FaceArray / Face <-> the face core's FrameFaces / FaceObservation, both directions.

Every FaceArray carries its image's header unchanged (`frame_to_msg(frame, header)`); the model
nodes read faces back with `face_from_msg`.
"""
from __future__ import annotations

import numpy as np

from ...core.face_pipeline import FaceObservation, FaceQuality, FrameFaces
from .types import RCLPY

CROP_SHAPE = (48, 48)
COLOR_CROP_SHAPE = (64, 64, 3)


class FaceMessageError(ValueError):
    """A Face message that cannot be used (the node logs it and skips the face)."""


def roi_msg(roi: tuple[int, int, int, int], types=RCLPY):
    x, y, w, h = (int(v) for v in roi)
    return types("sensor_msgs/msg/RegionOfInterest", x_offset=x, y_offset=y, height=h, width=w, do_rectify=False)


def roi_of(msg) -> tuple[int, int, int, int]:
    """RegionOfInterest -> (x, y, width, height)."""
    return int(msg.x_offset), int(msg.y_offset), int(msg.width), int(msg.height)


def face_to_msg(face: FaceObservation, types=RCLPY):
    p = face.head_position
    return types(
        "sentin_ros/msg/Face",
        face_id=int(face.face_id), roi=roi_msg(face.roi, types), score=float(face.score) if np.isfinite(face.score) else 0.0,
        landmarks=types.floats(face.landmarks), yaw=float(face.yaw), pitch=float(face.pitch), roll=float(face.roll),
        head_position=types("geometry_msgs/msg/Vector3", x=float(p[0]), y=float(p[1]), z=float(p[2])),
        crop=types.octets(face.crop), geometry=types.fixed_floats(face.geometry), eye=types.fixed_floats(face.eye),
        presence=float(face.quality.presence), size_px=float(face.quality.size_px), expression_ok=bool(face.quality.expression_ok),
        crop_color=types.octets(face.crop_color),
    )


def frame_to_msg(frame: FrameFaces, header, types=RCLPY):
    """One FaceArray for one frame (also when no face was found), with the image's header."""
    return types(
        "sentin_ros/msg/FaceArray", header=header, image_width=int(frame.width), image_height=int(frame.height),
        faces=[face_to_msg(f, types) for f in frame.faces],
    )


def crop_of(msg) -> np.ndarray:
    """The face's 48×48 grayscale crop (raises FaceMessageError when it has another size)."""
    crop = msg.crop if isinstance(msg.crop, np.ndarray) else np.frombuffer(bytes(msg.crop), dtype=np.uint8)
    if crop.size != CROP_SHAPE[0] * CROP_SHAPE[1]:
        raise FaceMessageError(f"face {msg.face_id}: crop has {crop.size} bytes, expected {CROP_SHAPE[0] * CROP_SHAPE[1]}")
    return crop.reshape(CROP_SHAPE)


def crop_color_of(msg) -> np.ndarray:
    """The face's 64×64×3 BGR crop, or an empty (0, 0, 3) array when the face node sends none
    (its color_crop parameter is off); another size raises FaceMessageError."""
    crop = msg.crop_color if isinstance(msg.crop_color, np.ndarray) else np.frombuffer(bytes(msg.crop_color), dtype=np.uint8)
    if crop.size == 0:
        return np.zeros((0, 0, 3), np.uint8)
    if crop.size != int(np.prod(COLOR_CROP_SHAPE)):
        raise FaceMessageError(f"face {msg.face_id}: crop_color has {crop.size} bytes, expected {int(np.prod(COLOR_CROP_SHAPE))}")
    return crop.reshape(COLOR_CROP_SHAPE)


def face_from_msg(msg, with_crop: bool = True, with_color: bool = False) -> FaceObservation:
    """A Face message as the core's FaceObservation (crop empty unless `with_crop`, crop_color
    empty unless `with_color`)."""
    landmarks = np.asarray(msg.landmarks, dtype=np.float32)
    return FaceObservation(
        face_id=int(msg.face_id),
        roi=roi_of(msg.roi),
        score=float(msg.score),
        landmarks=landmarks.reshape(-1, 3) if landmarks.size % 3 == 0 else landmarks.reshape(0, 3),
        yaw=float(msg.yaw),
        pitch=float(msg.pitch),
        roll=float(msg.roll),
        head_position=(float(msg.head_position.x), float(msg.head_position.y), float(msg.head_position.z)),
        crop=crop_of(msg) if with_crop else np.zeros((0, 0), np.uint8),
        geometry=np.asarray(msg.geometry, dtype=np.float32),
        eye=np.asarray(msg.eye, dtype=np.float32),
        quality=FaceQuality(float(msg.presence), float(msg.size_px), bool(msg.expression_ok)),
        crop_color=crop_color_of(msg) if with_color else np.zeros((0, 0, 3), np.uint8),
    )
