"""Run the face core + the gaze model over a real clip and report the gaze trace (no TensorFlow).

    .venv/bin/python -m training.gaze.check_clip [--video PATH] [--out training/out/gaze/clip]

Prints per-frame lines every --every frames and a summary: ranges of the screen point and of the
gaze direction (azimuth/elevation in the optical frame), smoothness (median frame-to-frame
change), and how the direction relates to head yaw/pitch and to the iris offsets. Writes
<out>_trace.png (trace plot) and <out>_frames.jpg (frames with the gaze ray drawn) when
matplotlib is available.
"""
from __future__ import annotations

import argparse
import os
import sys

import cv2
import numpy as np

from sentin_ros.core.face_pipeline import FacePipeline
from sentin_ros.core.head_pose import default_camera_matrix
from sentin_ros.inference.gaze import GazeModel, GazeTracker

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUTPUT_RANGE = (float("-inf"), float("inf"))  # the model's, set by run()
DEFAULT_VIDEO = os.path.join(os.path.dirname(ROOT), "shared", "media", "pexels_wolfgang_langer_640x360.mp4")


def direction_angles(d: np.ndarray) -> tuple[float, float]:
    """(azimuth, elevation) degrees of an optical-frame direction; azimuth > 0 = toward the image right,
    elevation > 0 = up; (0, 0) = straight at the camera (direction (0, 0, -1))."""
    return float(np.degrees(np.arctan2(d[0], -d[2]))), float(np.degrees(np.arctan2(-d[1], np.hypot(d[0], d[2]))))


def run(video: str, model_path: str, min_frames: int = 5):
    cap = cv2.VideoCapture(video)
    if not cap.isOpened():
        raise SystemExit(f"cannot open {video}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    pipe = FacePipeline()
    model = GazeModel(model_path)
    trackers = {"raw": GazeTracker(model, min_frames=min_frames, smoothing=False),
                "smoothed": GazeTracker(model, min_frames=min_frames, smoothing=True)}
    rows, frames = {k: [] for k in trackers}, {}
    i = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        out = pipe.process(img, i / fps, "bgr8")
        for name, tracker in trackers.items():
            for fid in out.retired_ids:
                tracker.forget(fid)
            for f in out.faces:
                est = tracker.push(f.face_id, out.stamp, f.eye, f.yaw, f.pitch, f.roll, image_size=(out.width, out.height),
                                   head_position_m=f.head_position)
                if est is None:
                    continue
                az, el = direction_angles(est.direction)
                rows[name].append(dict(frame=i, face=f.face_id, x=est.x, y=est.y, az=az, el=el, conf=est.confidence,
                                       yaw=f.yaw, pitch=f.pitch, iris_x=float((f.eye[0] + f.eye[2]) / 2),
                                       iris_y=float((f.eye[1] + f.eye[3]) / 2), open=float((f.eye[4] + f.eye[5]) / 2),
                                       eye=est.eye_position_m, d=est.direction))
        if i % 40 == 0:
            frames[i] = img.copy()
        i += 1
    pipe.close()
    global OUTPUT_RANGE
    OUTPUT_RANGE = model.output_range
    model.close()
    return rows, frames, fps, i


def summarize(rows, n_frames: int, every: int = 20) -> dict:
    if not rows:
        print("no gaze estimates (no face found?)")
        return {}
    face = max({r["face"] for r in rows}, key=lambda k: sum(r["face"] == k for r in rows))
    r = [q for q in rows if q["face"] == face]
    print(f"{n_frames} frames, {len(rows)} estimates; face {face}: {len(r)} estimates")
    print(" frame     x      y    az(deg) el(deg)  conf   yaw  pitch  iris_x iris_y  open")
    for q in r[::every]:
        print(f"{q['frame']:6d} {q['x']:6.3f} {q['y']:6.3f} {q['az']:8.2f} {q['el']:7.2f} {q['conf']:5.2f} {q['yaw']:6.1f} {q['pitch']:6.1f}"
              f" {q['iris_x']:7.3f} {q['iris_y']:6.3f} {q['open']:5.3f}")
    a = {k: np.array([q[k] for q in r]) for k in ("frame", "x", "y", "az", "el", "conf", "yaw", "pitch", "iris_x", "iris_y", "open")}
    d = np.array([q["d"] for q in r])
    consecutive = np.diff(a["frame"]) == 1
    step = np.degrees(np.arccos(np.clip(np.sum(d[1:] * d[:-1], axis=1), -1, 1)))[consecutive]
    dxy = np.linalg.norm(np.diff(np.stack([a["x"], a["y"]], 1), axis=0), axis=1)[consecutive]

    def corr(u, v):
        return float(np.corrcoef(u, v)[0, 1]) if np.std(u) > 0 and np.std(v) > 0 else float("nan")

    s = {
        "estimates": len(r),
        "x_range": [round(float(a["x"].min()), 3), round(float(a["x"].max()), 3)],
        "xy_median": [round(float(np.median(a["x"])), 3), round(float(np.median(a["y"])), 3)],
        "y_range": [round(float(a["y"].min()), 3), round(float(a["y"].max()), 3)],
        "azimuth_range_deg": [round(float(a["az"].min()), 1), round(float(a["az"].max()), 1)],
        "elevation_range_deg": [round(float(a["el"].min()), 1), round(float(a["el"].max()), 1)],
        "median_step_deg": round(float(np.median(step)), 3),
        "p95_step_deg": round(float(np.percentile(step, 95)), 3),
        "median_step_screen": round(float(np.median(dxy)), 4),
        "corr_azimuth_head_yaw": round(corr(a["az"], a["yaw"]), 3),
        "corr_azimuth_iris_x": round(corr(a["az"], a["iris_x"]), 3),
        "corr_azimuth_yaw_plus_iris": round(corr(a["az"], a["yaw"] / 30 + a["iris_x"] / 0.3), 3),
        "corr_elevation_head_pitch": round(corr(a["el"], a["pitch"]), 3),
        "mean_confidence": round(float(a["conf"].mean()), 3),
        # raw model output at the INT8 output's limits (clipped): the version-4 model sat there for every upward glance
        "output_range": [round(v, 3) for v in OUTPUT_RANGE],
        "saturated_fraction": round(float(np.mean((np.minimum(a["x"], a["y"]) <= OUTPUT_RANGE[0] + 0.01)
                                                  | (np.maximum(a["x"], a["y"]) >= OUTPUT_RANGE[1] - 0.01))), 3),
    }
    for k, v in s.items():
        print(f"{k}: {v}")
    return s


def plot(rows, frames, out: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    face = max({r["face"] for r in rows}, key=lambda k: sum(r["face"] == k for r in rows))
    r = [q for q in rows if q["face"] == face]
    f = np.array([q["frame"] for q in r])
    fig, ax = plt.subplots(3, 1, figsize=(10, 8), sharex=True)
    ax[0].plot(f, [q["x"] for q in r], label="x (user's left = 0)")
    ax[0].plot(f, [q["y"] for q in r], label="y (top = 0)")
    ax[0].set_ylabel("screen point")
    ax[0].legend()
    ax[1].plot(f, [q["az"] for q in r], label="gaze azimuth (+ = image right)")
    ax[1].plot(f, [q["el"] for q in r], label="gaze elevation (+ = up)")
    ax[1].plot(f, [q["yaw"] for q in r], "--", label="head yaw")
    ax[1].plot(f, [q["pitch"] for q in r], "--", label="head pitch")
    ax[1].set_ylabel("degrees")
    ax[1].legend(fontsize=7)
    ax[2].plot(f, [q["iris_x"] for q in r], label="iris_x (mean of eyes)")
    ax[2].plot(f, [q["iris_y"] for q in r], label="iris_y")
    ax[2].plot(f, [q["open"] for q in r], label="opening")
    ax[2].plot(f, [q["conf"] for q in r], label="confidence")
    ax[2].set_xlabel("frame")
    ax[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out + "_trace.png", dpi=80)
    plt.close(fig)
    # frames with the gaze ray (20 cm long) drawn from the eye mid-point
    by_frame = {q["frame"]: q for q in r}
    tiles = []
    for i, img in sorted(frames.items()):
        q = by_frame.get(i)
        img = img.copy()
        if q is not None:
            h, w = img.shape[:2]
            k = default_camera_matrix(w, h)
            p0 = k @ q["eye"]
            p1 = k @ (q["eye"] + 0.2 * q["d"])
            a0 = tuple(int(v) for v in p0[:2] / p0[2])
            a1 = tuple(int(v) for v in p1[:2] / p1[2])
            cv2.arrowedLine(img, a0, a1, (0, 0, 255), 2, tipLength=0.2)
            cv2.putText(img, f"{i}: az {q['az']:.0f} el {q['el']:.0f} x {q['x']:.2f} y {q['y']:.2f}", (5, 20),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 0), 1)
        tiles.append(cv2.resize(img, (320, 180)))
    while len(tiles) % 3:
        tiles.append(np.zeros_like(tiles[0]))
    grid = np.vstack([np.hstack(tiles[j:j + 3]) for j in range(0, len(tiles), 3)])
    cv2.imwrite(out + "_frames.jpg", grid)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", default=DEFAULT_VIDEO)
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "gaze_hybrid_int8.tflite"))
    ap.add_argument("--out", default=os.path.join(ROOT, "training", "out", "gaze", "clip"))
    ap.add_argument("--every", type=int, default=20)
    args = ap.parse_args(argv)
    rows, frames, fps, n = run(args.video, args.model)
    print("== smoothed (GazeTracker default: One-Euro filter on the model output) ==")
    summarize(rows["smoothed"], n, args.every)
    print("== raw model output ==")
    summarize(rows["raw"], n, 10**9)
    if rows["smoothed"]:
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        plot(rows["smoothed"], frames, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
