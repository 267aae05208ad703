"""Run face core + emotion model (embedding) + StressTracker over the shared real clips; print the trace.

    .venv/bin/python training/stress/check_clips.py [--clips DIR] [--every 6] [--json F] [--plots DIR]

As the stress node does it: the node's defaults (3.75 s horizon of 0.25 s steps, min_seconds 1),
faces the quality gate rejects (low quality, not a face) get no estimate and count as missing.
Per clip and face: frames with an estimate, level mean / std / min / max, median and p95 of the
frame-to-frame change, the largest change over 1 s, the fraction of frames per state, and the
level every `--every` frames; `--plots` writes one small PNG per clip (level, confidence, frames
the gate skipped).
Also the emotion embedding's frame-to-frame change relative to its spread across FER faces (how
much the live embedding jitters), which the generator's `jitter` parameter is meant to cover.
Runtime venv (mediapipe); no ROS.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, ROOT)

from sentin_ros.core.face_pipeline import FacePipeline  # noqa: E402
from sentin_ros.inference.stress import StressModel, StressTracker  # noqa: E402
from sentin_ros.runtime import LiteModel  # noqa: E402

CLIPS = ("single_face_640x360.mp4", "pexels_wolfgang_langer_640x360.mp4", "face_then_noface_960x540.mov", "noface_face.mov", "no_face.mp4")


def run_clip(path: str, emotion: LiteModel, tracker: StressTracker, every: int, emb_std: np.ndarray | None) -> dict:
    cap = cv2.VideoCapture(path)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    pipe = FacePipeline()
    inp = emotion.inputs[0].index
    o_p, o_e = emotion.output_by_shape((1, 7)).index, emotion.output_by_shape((1, 256)).index
    traces: dict[int, list] = {}
    embs: dict[int, list] = {}
    skipped: dict[int, list] = {}
    i = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        stamp = i / fps
        faces = pipe.process(frame, stamp, encoding="bgr8")
        for fid in faces.retired_ids:
            tracker.reset(fid)
        for f in faces.faces:
            if not f.quality.expression_ok:  # the stress node's quality gate
                tracker.skip(f.face_id, stamp)
                skipped.setdefault(f.face_id, []).append(i)
                continue
            out = emotion.run({inp: (f.crop.astype(np.float32) / 255.0)[None, :, :, None]})
            emb, probs = out[o_e][0], out[o_p][0]
            est = tracker.push(f.face_id, stamp, emb, f.geometry, float(probs.max()))
            embs.setdefault(f.face_id, []).append(emb)
            if est is not None:
                traces.setdefault(f.face_id, []).append((i, est.level, est.state, est.confidence, est.window_frames))
        tracker.prune([f.face_id for f in faces.faces] or [])
        i += 1
    pipe.close()
    result = {"fps": round(fps, 2), "frames": i, "faces": {},
              "skipped_low_quality": {str(k): len(v) for k, v in skipped.items()}}
    for fid in skipped:
        if fid not in traces:
            result["faces"][str(fid)] = {"estimates": 0, "skipped_frames": skipped[fid]}
    for fid, tr in traces.items():
        a = np.array(tr, np.float64)
        lv = a[:, 1]
        d = np.abs(np.diff(lv))
        e = np.array(embs[fid])
        de = np.linalg.norm(np.diff(e, axis=0), axis=1)
        info = {
            "estimates": int(len(lv)), "first_frame": int(a[0, 0]), "mean": round(float(lv.mean()), 4),
            "std": round(float(lv.std()), 4), "min": round(float(lv.min()), 4), "max": round(float(lv.max()), 4),
            "median_abs_delta": round(float(np.median(d)), 4) if len(d) else None,
            "p95_abs_delta": round(float(np.percentile(d, 95)), 4) if len(d) else None,
            "state_fraction": [round(float((a[:, 2] == s).mean()), 3) for s in (0, 1, 2)],
            "trace": [round(float(v), 3) for v in lv[::every]],
            "frame": [int(v) for v in a[:, 0]], "level": [round(float(v), 3) for v in lv],
            "confidence": [round(float(v), 3) for v in a[:, 3]], "skipped_frames": skipped.get(fid, []),
            "max_change_1s": round(float(max((np.ptp(lv[(a[:, 0] >= a[j, 0]) & (a[:, 0] <= a[j, 0] + fps)]) for j in range(len(lv))),
                                             default=0.0)), 4),
            "embedding_step_median": round(float(np.median(de)), 4) if len(de) else None,
        }
        if emb_std is not None and len(de):
            info["embedding_step_over_fer_spread"] = round(float(np.median(de) / np.linalg.norm(emb_std)), 4)
        result["faces"][str(fid)] = info
    return result


def plot_clip(name: str, r: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    faces = [(fid, f) for fid, f in r["faces"].items() if f.get("estimates") or f.get("skipped_frames")]
    fig, axes = plt.subplots(max(len(faces), 1), 1, figsize=(6.4, 1.6 * max(len(faces), 1) + 0.5), sharex=True, squeeze=False)
    fps = r["fps"]
    for ax, (fid, f) in zip(axes[:, 0], faces):
        if f.get("estimates"):
            t = np.array(f["frame"]) / fps
            ax.fill_between(t, 0, f["confidence"], color="tab:gray", alpha=0.3, step="mid", label="confidence")
            ax.plot(t, f["level"], color="tab:red", lw=1.2, label="level")
        sk = np.array(f.get("skipped_frames", [])) / fps
        if len(sk):
            ax.plot(sk, np.full(len(sk), 0.02), "|", color="tab:blue", ms=6, label="skipped (quality gate)")
        for y in (0.4, 0.7):
            ax.axhline(y, color="k", lw=0.5, ls=":")
        ax.set_ylim(0, 1)
        ax.set_ylabel(f"face {fid}", fontsize=8)
        ax.legend(fontsize=6, loc="upper right")
    axes[0, 0].set_title(f"{name}: stress level / confidence", fontsize=9)
    axes[-1, 0].set_xlim(0, r["frames"] / fps)
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", default=os.path.join(ROOT, "..", "shared", "media"))
    ap.add_argument("--stress-model", default=os.path.join(ROOT, "models", "affective_tcn_int8.tflite"))
    ap.add_argument("--emotion-model", default=os.path.join(ROOT, "models", "affective_cnn_int8.tflite"))
    ap.add_argument("--every", type=int, default=6)
    ap.add_argument("--json", default="", help="also write the result here")
    ap.add_argument("--plots", default="", help="write one PNG per clip into this folder")
    args = ap.parse_args()
    if not os.path.isdir(args.clips):
        raise SystemExit(f"no clips at {args.clips} (../shared/media)")
    emotion = LiteModel(args.emotion_model, expected_inputs=[(1, 48, 48, 1)], expected_outputs=[(1, 7), (1, 256)])
    model = StressModel(args.stress_model)
    bank = os.path.join(ROOT, "training", "out", "stress", "bank_train.npz")
    emb_std = np.load(bank)["embeddings"].std(0) if os.path.isfile(bank) else None
    results = {}
    for clip in CLIPS:
        path = os.path.join(args.clips, clip)
        if not os.path.isfile(path):
            continue
        tracker = StressTracker(model)
        r = run_clip(path, emotion, tracker, args.every, emb_std)
        results[clip] = r
        print(f"\n{clip}: {r['frames']} frames at {r['fps']} fps; skipped by the quality gate: {r['skipped_low_quality']}")
        if args.plots:
            os.makedirs(args.plots, exist_ok=True)
            plot_clip(clip, r, os.path.join(args.plots, f"stress_{os.path.splitext(clip)[0]}.png"))
        for fid, f in r["faces"].items():
            if not f.get("estimates"):
                print(f"  face {fid}: no estimate ({len(f['skipped_frames'])} frames skipped by the quality gate)")
                continue
            print(f"  face {fid}: {f['estimates']} estimates from frame {f['first_frame']}; level mean {f['mean']:.3f} "
                  f"std {f['std']:.3f} [{f['min']:.3f}, {f['max']:.3f}]; |frame-to-frame change| median "
                  f"{f['median_abs_delta']} p95 {f['p95_abs_delta']}, max over 1 s {f['max_change_1s']}; LOW/ELEVATED/HIGH {f['state_fraction']}; "
                  f"embedding step / FER spread {f.get('embedding_step_over_fer_spread')}")
            print(f"    level every {args.every} frames: {' '.join(f'{v:.2f}' for v in f['trace'])}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
