"""sentin_ros Emotion / Stress / Gaze / Biometrics <-> the models' results, both directions, through field dicts.

`*_fields(...)` turn a result (EmotionResult, StressEstimate, GazeEstimate, BiometricsEstimate) into a dict named
after the message's fields (header excluded; roi and direction as tuples); `*_msg(header, fields)`
build the message from it (rclpy by default, rosbags with types.RosbagsTypes); `fields_of(msg)`
reads any of the three back into the same dict. The nodes, the output recorder and the
evaluation's per-frame records all go through these.
"""
from __future__ import annotations

import numpy as np

from .faces import roi_msg, roi_of
from .types import RCLPY

EMOTION_FIELDS = ("face_id", "label", "confidence", "probabilities", "valence", "arousal", "roi", "embedding")
STRESS_FIELDS = ("face_id", "level", "confidence", "state", "window_frames", "window_seconds")
GAZE_FIELDS = ("face_id", "x", "y", "on_screen", "calibrated", "direction", "yaw", "pitch", "roll", "confidence")
BIOMETRICS_FIELDS = ("face_id", "age", "age_uncertainty", "age_group", "gender_female_probability", "gender_estimated", "confidence", "frames")
FIELDS = {"emotion": EMOTION_FIELDS, "stress": STRESS_FIELDS, "gaze": GAZE_FIELDS, "biometrics": BIOMETRICS_FIELDS}


# -- results -> field dicts ---------------------------------------------------------------------
def emotion_fields(face_id: int, result, roi: tuple[int, int, int, int], with_embedding: bool = False) -> dict:
    """From an inference.emotion.EmotionResult."""
    return {
        "face_id": int(face_id), "label": result.label, "confidence": float(result.confidence),
        "probabilities": [float(p) for p in result.probabilities], "valence": float(result.valence),
        "arousal": float(result.arousal), "roi": tuple(int(v) for v in roi),
        "embedding": [float(v) for v in result.embedding] if with_embedding else [],
    }


def stress_fields(est) -> dict:
    """From an inference.stress.StressEstimate."""
    return {
        "face_id": int(est.face_id), "level": float(est.level), "confidence": float(est.confidence), "state": int(est.state),
        "window_frames": int(est.window_frames), "window_seconds": float(est.window_seconds),
    }


def gaze_fields(est) -> dict:
    """From an inference.gaze.GazeEstimate."""
    return {
        "face_id": int(est.face_id), "x": float(est.x), "y": float(est.y), "on_screen": bool(est.on_screen),
        "calibrated": bool(est.calibrated), "direction": tuple(float(v) for v in est.direction),
        "yaw": float(est.yaw), "pitch": float(est.pitch), "roll": float(est.roll), "confidence": float(est.confidence),
    }


def biometrics_fields(est) -> dict:
    """From an inference.biometrics.BiometricsEstimate."""
    return {
        "face_id": int(est.face_id), "age": float(est.age), "age_uncertainty": float(est.age_uncertainty), "age_group": str(est.age_group),
        "gender_female_probability": float(est.gender_female_probability), "gender_estimated": bool(est.gender_estimated),
        "confidence": float(est.confidence), "frames": int(est.frames),
    }


# -- field dicts -> messages --------------------------------------------------------------------
def emotion_msg(header, f: dict, types=RCLPY):
    return types(
        "sentin_ros/msg/Emotion", header=header, face_id=f["face_id"], label=f["label"], confidence=f["confidence"],
        probabilities=types.fixed_floats(f["probabilities"]), valence=f["valence"], arousal=f["arousal"],
        roi=roi_msg(f["roi"], types), embedding=types.floats(f.get("embedding", ())),
    )


def stress_msg(header, f: dict, types=RCLPY):
    return types(
        "sentin_ros/msg/Stress", header=header, face_id=f["face_id"], level=f["level"], confidence=f["confidence"],
        state=f["state"], window_frames=f["window_frames"], window_seconds=f["window_seconds"],
    )


def gaze_msg(header, f: dict, types=RCLPY):
    dx, dy, dz = f["direction"]
    return types(
        "sentin_ros/msg/Gaze", header=header, face_id=f["face_id"], x=f["x"], y=f["y"], on_screen=f["on_screen"],
        calibrated=f["calibrated"], direction=types("geometry_msgs/msg/Vector3", x=dx, y=dy, z=dz),
        yaw=f["yaw"], pitch=f["pitch"], roll=f["roll"], confidence=f["confidence"],
    )


def biometrics_msg(header, f: dict, types=RCLPY):
    return types(
        "sentin_ros/msg/Biometrics", header=header, face_id=f["face_id"], age=f["age"], age_uncertainty=f["age_uncertainty"],
        age_group=f["age_group"], gender_female_probability=f["gender_female_probability"], gender_estimated=f["gender_estimated"],
        confidence=f["confidence"], frames=f["frames"],
    )


BUILDERS = {"emotion": emotion_msg, "stress": stress_msg, "gaze": gaze_msg, "biometrics": biometrics_msg}


# -- messages -> field dicts --------------------------------------------------------------------
def fields_of(kind: str, msg) -> dict:
    """An Emotion / Stress / Gaze / Biometrics message (rclpy or rosbags) as the dict its builder takes."""
    out = {}
    for name in FIELDS[kind]:
        v = getattr(msg, name)
        if name == "roi":
            v = roi_of(v)
        elif name == "direction":
            v = (float(v.x), float(v.y), float(v.z))
        elif name in ("probabilities", "embedding"):
            v = [float(p) for p in np.asarray(v, dtype=np.float32)]
        elif name in ("label", "age_group"):
            v = str(v)
        elif isinstance(v, bool | np.bool_) or name in ("on_screen", "calibrated"):
            v = bool(v)
        elif name in ("face_id", "state", "window_frames", "frames"):
            v = int(v)
        else:
            v = float(v)
        out[name] = v
    return out
