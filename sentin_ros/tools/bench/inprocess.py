"""In-process benchmark: per-stage times of the face core, the PerceptionPipeline frame rate on a bag,
and a cProfile summary of where the time goes.
"""
from __future__ import annotations

import cProfile
import io
import os
import pstats
from pathlib import Path

import cv2
import numpy as np

from .common import cv2_threads, stat, time_ms


# -- in-process ---------------------------------------------------------------------------------
def bench_stages(frame: np.ndarray, n: int) -> dict:
    """Each face-core stage called on its own on the same one-face frame (tracking steady state)."""
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import Image

    from ...core import alignment, features
    from ...core.face_pipeline import FacePipeline
    from ...ros.convert.images import array_to_image, image_to_array

    raw = serialize_message(array_to_image(frame, "bgr8"))
    out = {"decode (rclpy CDR -> numpy)": stat(time_ms(lambda: image_to_array(deserialize_message(raw, Image)), n))}
    pipe = FacePipeline()
    try:
        for i in range(10):
            pipe.process(frame, i / 30, "bgr8")
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        out["colour conversion"] = stat(time_ms(lambda: (cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)), n))
        fe = pipe.front_end
        h, w = gray.shape
        face = fe.find(rgb)[0].landmarks
        out["face landmarks (LiteRT, per face)"] = stat(time_ms(lambda: fe.landmarker.mesh(rgb, face.roi), n))
        if fe.landmarker.iris is not None:
            out["iris, both eyes (LiteRT, per face)"] = stat(time_ms(lambda: fe.landmarker.add_iris(rgb, face), n))
        det = time_ms(lambda: fe.detector.detect(rgb, fe.detector.windows(w, h)[:1]), max(n // 4, 10))
        interval = fe.config.detect_interval
        out["detector (BlazeFace, whole frame) per run"] = stat(det)
        out[f"detector amortized (1 in {interval} frames)"] = stat([v / interval for v in det])
        pp = face.points
        out["head pose (solvePnP)"] = stat(time_ms(lambda: pipe.pose.estimate(pp, w, h), n))
        out["crop/align (48×48)"] = stat(time_ms(lambda: alignment.aligned_crop(gray, pp), n))
        out["features (geometry + eye)"] = stat(time_ms(lambda: (features.geometry_metrics(pp, 0.0, 0.0, 0.0), features.eye_features(pp, w, h)), n))
        crop = alignment.aligned_crop(gray, pp)
    finally:
        pipe.close()
    return {"stages": out, "crop": crop}


def make_bag(path: Path, frames: list[np.ndarray], rate: float) -> str:
    from ..bags import SourceFrame, write_frames

    write_frames(path, (SourceFrame(f) for f in frames), rate, overwrite=True)
    return str(path)


def bench_inprocess(bag: str, label: str, threads: int = 1, stages=None, iris: bool = True, workers: int = 1) -> dict:
    """Every frame of the bag through PerceptionPipeline (the deterministic evaluator): `threads`
    per model and for OpenCV; stages None = all; iris False = no iris model (no gaze to feed);
    workers: landmark workers (faces whose landmarks run at once). The detector passes run on a
    thread of their own only in a budget of more than one core (threads or workers > 1)."""
    from ..eval.common import STAGES
    from ..eval.deterministic import evaluate_deterministic

    background = threads > 1 or workers > 1
    with cv2_threads(threads):
        r = evaluate_deterministic(bag, stages=stages or STAGES, num_threads=threads, iris=iris, landmark_workers=workers,
                                   background_detection=background)
    raw = r["timings_ms_raw"]
    total = np.array(raw["total"][5:])  # the first frames include graph start-up
    decode = np.array(raw["decode"][5:])
    faces = np.mean(r["faces_per_frame"][5:])
    return {
        "label": label, "frames": len(total), "faces_per_frame_mean": float(faces), "stages": r["stages"],
        "fps_pipeline": float(1000 / total.mean()), "fps_with_bag_decode": float(1000 / (total + decode).mean()),
        "ms_per_frame": stat(list(total)), "timings_ms": {k: stat(v[5:]) for k, v in raw.items()},
        "threads": threads, "iris": iris, "landmark_workers": workers, "background_detection": background,
        "method": f"PerceptionPipeline.process on every frame of a 640×480 bag, sequentially, {threads} thread(s) per model and for OpenCV; "
                  "frame rate = 1000 / mean ms per frame (first 5 frames left out); bag decode = rosbags CDR -> numpy",
    }


def profile_inprocess(frames: list[np.ndarray], top: int = 14) -> dict:
    from ..eval.deterministic import build_pipeline

    pipe, _ = build_pipeline()
    try:
        for i, f in enumerate(frames[:5]):
            pipe.process(f, i / 30, "bgr8")
        prof = cProfile.Profile()
        prof.enable()
        for i, f in enumerate(frames[5:], start=5):
            pipe.process(f, i / 30, "bgr8")
        prof.disable()
    finally:
        pipe.close()
    n = max(len(frames) - 5, 1)
    stats = pstats.Stats(prof)
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _) in stats.stats.items():
        rows.append({"function": f"{Path(file).name}:{line}({func})", "own": f"{os.sep}sentin_ros{os.sep}" in file, "calls_per_frame": nc / n,
                     "self_ms_per_frame": 1e3 * tt / n, "cumulative_ms_per_frame": 1e3 * ct / n})
    ours = sorted((r for r in rows if r["own"]),
                  key=lambda r: -r["cumulative_ms_per_frame"])
    rows.sort(key=lambda r: -r["self_ms_per_frame"])
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(top)
    return {"frames": n, "by_self_time": rows[:top], "sentin_ros_by_cumulative": ours[:top], "text": text.getvalue()[-6000:]}
