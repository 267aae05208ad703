"""The per-frame record both evaluation modes produce (one schema), so accuracy, traces and the
report are computed the same way, and `outputs.json` of the two modes can be compared.

    {"stamp_ns", "width", "height", "faces": [face record], "label"?}
    face record: {"face_id", "roi": [x, y, w, h], "score", "yaw", "pitch", "roll",
                  "emotion"?: {label, confidence, probabilities, valence, arousal},
                  "stress"?:  {level, confidence, state, window_frames, window_seconds},
                  "gaze"?:    {x, y, on_screen, calibrated, confidence}}

The output parts are the message field dicts of ros/convert/outputs.py (from the models' results
in the deterministic mode, from the received messages in the realtime mode), cut to these keys.
"""
from __future__ import annotations

from ...ros.convert.faces import roi_of
from ...ros.convert.images import stamp_to_ns
from ...ros.convert.outputs import emotion_fields, fields_of, gaze_fields, stress_fields

KEYS = {
    "emotion": ("label", "confidence", "probabilities", "valence", "arousal"),
    "stress": ("level", "confidence", "state", "window_frames", "window_seconds"),
    "gaze": ("x", "y", "on_screen", "calibrated", "confidence"),
}


def _part(kind: str, fields: dict | None) -> dict | None:
    return None if fields is None else {k: fields[k] for k in KEYS[kind]}


def face_record(face_id, roi, score, yaw, pitch, roll, emotion: dict | None = None, stress: dict | None = None,
                gaze: dict | None = None) -> dict:
    """emotion/stress/gaze: the field dicts of ros/convert/outputs.py, or None when there is none."""
    rec = {"face_id": int(face_id), "roi": [int(v) for v in roi], "score": float(score), "yaw": float(yaw),
           "pitch": float(pitch), "roll": float(roll)}
    for kind, fields in (("emotion", emotion), ("stress", stress), ("gaze", gaze)):
        part = _part(kind, fields)
        if part is not None:
            rec[kind] = part
    return rec


def frame_record(stamp_ns: int, width: int, height: int, faces: list[dict]) -> dict:
    return {"stamp_ns": int(stamp_ns), "width": int(width), "height": int(height), "faces": faces}


def record_from_result(stamp_ns: int, result) -> dict:
    """Deterministic mode: a PerceptionPipeline FrameResult."""
    faces = []
    for r in result.faces:
        f = r.face
        faces.append(face_record(
            f.face_id, f.roi, f.score, f.yaw, f.pitch, f.roll,
            emotion=emotion_fields(f.face_id, r.emotion, f.roi) if r.emotion is not None else None,
            stress=stress_fields(r.stress) if r.stress is not None else None,
            gaze=gaze_fields(r.gaze) if r.gaze is not None else None,
        ))
    return frame_record(stamp_ns, result.width, result.height, faces)


def record_from_messages(faces_msg, outputs: dict[str, dict]) -> dict:
    """Realtime mode: a received FaceArray and {kind: {face_id: message}} of the same stamp."""
    faces = []
    for face in faces_msg.faces:
        fid = int(face.face_id)
        msgs = {kind: outputs.get(kind, {}).get(fid) for kind in KEYS}
        faces.append(face_record(
            fid, roi_of(face.roi), face.score, face.yaw, face.pitch, face.roll,
            **{kind: fields_of(kind, m) if m is not None else None for kind, m in msgs.items()},
        ))
    return frame_record(stamp_to_ns(faces_msg.header.stamp), faces_msg.image_width, faces_msg.image_height, faces)


def stage_states(skipped: dict) -> dict:
    """{stage: "on" | "skipped: <reason>"}."""
    from .common import STAGES

    return {s: ("skipped: " + skipped[s]) if s in skipped else "on" for s in STAGES}
