"""Face front end benchmark: what it finds (group photos, no-face clips), what it costs (against
the mediapipe FaceMesh solution on the same frames, as ratios from one run), how far it reaches,
and how close its landmarks are to FaceMesh's.

    .venv/bin/python benchmarks/face_front_end.py [--shared ../shared] [--quick]

Writes benchmarks/results/face_front_end.json (with the machine and its instruction set) and
prints a markdown table. The group photos and clips are the developers' data in ../shared
(not in a fresh clone): those sections are left out, with the reason, when it is missing.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sentin_ros.core.face_front_end import FrontEndConfig  # noqa: E402
from sentin_ros.core.face_pipeline import FacePipeline, FacePipelineConfig  # noqa: E402
from sentin_ros.media.synthetic import astronaut_rgb, face_canvas, place_face  # noqa: E402
from sentin_ros.runtime import ModelOptions  # noqa: E402
from sentin_ros.tools.bench.common import machine, stat, time_ms  # noqa: E402

WIDTHS = (1280, 640, 320)
HFOV_DEG = 60.0
BLOCK = 5  # frames per turn in the cost rounds (one frame a turn: 0.42×; five: 0.38×; twenty: 0.39×)
FACE_HEIGHT_M = 0.20  # brow-to-chin-and-ear-to-ear extent the size is measured on (adult face)


def pipeline(**front_end) -> FacePipeline:
    return FacePipeline(FacePipelineConfig(front_end=FrontEndConfig(**front_end)))


# -- what it finds ---------------------------------------------------------------------------
def groups(shared: Path) -> dict:
    out = {}
    for path in sorted((shared / "media" / "groups").glob("*.jpg")):
        expected = int(re.search(r"_(\d+)\.jpg$", path.name).group(1))
        img = cv2.imread(str(path))
        row = {"expected": expected}
        for width in WIDTHS:
            s = width / img.shape[1]
            small = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
            for rng in ("auto", "far", "near"):
                p = pipeline(detector_range=rng)
                row[f"{rng}@{width}"] = len(p.process(small, 0.0, "bgr8", still=True).faces)
                p.close()
        out[path.name] = row
    totals = {k: sum(r[k] for r in out.values()) for k in next(iter(out.values())) if k != "expected"} if out else {}
    return {"photos": out, "found": totals, "expected": sum(r["expected"] for r in out.values())}


def false_positive_tracks(shared: Path, min_frames: int = 5) -> dict:
    """Tracks living longer than `min_frames` frames on material with no face in it."""
    clips = {"no_face.mp4": (0, None), "noface_face.mov": (0, 96), "face_then_noface_960x540.mov (cartoon part)": (80, None)}
    out = {}
    for name, (first, last) in clips.items():
        cap = cv2.VideoCapture(str(shared / "media" / name.split(" ")[0]))
        p = pipeline()
        lives: dict[int, int] = {}
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok or (last is not None and i >= last):
                break
            if i >= first:
                for f in p.process(frame, i / 25.0, "bgr8").faces:
                    lives[f.face_id] = lives.get(f.face_id, 0) + 1
            i += 1
        p.close()
        out[name] = {"frames": i - first, "tracks": len(lives), f"tracks_longer_than_{min_frames}": sum(n > min_frames for n in lives.values()),
                     "longest": max(lives.values(), default=0)}
    return out


# -- what it costs ---------------------------------------------------------------------------
def _frames_one_face(n: int) -> list[np.ndarray]:
    rgb = astronaut_rgb()
    return [cv2.cvtColor(place_face(rgb, (640, 480), (320 + 20 * math.sin(i / 9), 240 + 10 * math.cos(i / 7))), cv2.COLOR_BGR2RGB) for i in range(n)]


def _frames_four_faces(n: int) -> list[np.ndarray]:
    return [cv2.cvtColor(face_canvas([110] * 4, (640, 480), shift=(3 * math.sin(i / 9), 2 * math.cos(i / 7)))[0], cv2.COLOR_BGR2RGB) for i in range(n)]


def _interleaved(fns: dict, frames: list[np.ndarray], samples: dict[str, list[float]], block: int = BLOCK,
                 block_medians: dict[str, list[float]] | None = None) -> None:
    """Every function on frames i..i+block-1 before any goes on: this VM's speed drifts by half
    within seconds, and short blocks let the drift fall on every configuration alike, while each
    configuration keeps its own models in the cache for a few frames, as a node running alone does.
    block_medians: each function's median of each block, in block order (for paired ratios)."""
    for i in range(0, len(frames), block):
        for key, fn in fns.items():
            times = []
            for rgb in frames[i:i + block]:
                t = time.perf_counter()
                fn(rgb)
                times.append((time.perf_counter() - t) * 1e3)
            samples.setdefault(key, []).extend(times)
            if block_medians is not None:
                block_medians.setdefault(key, []).append(float(np.median(times)))


def _paired_ratios(block_medians: dict[str, list[float]], base: str) -> dict:
    """Each configuration against `base` block by block (the same frames, seconds apart), then
    the median and quartiles of those ratios: the drift that moves whole blocks cancels, where a
    ratio of two medians over a minute keeps it (single runs of that ranged 0.79-0.98x)."""
    ref = np.array(block_medians[base])
    out = {}
    for key, values in block_medians.items():
        if key != base:
            r = np.array(values) / ref
            out[key] = {"median": round(float(np.median(r)), 3), "q25": round(float(np.percentile(r, 25)), 3),
                        "q75": round(float(np.percentile(r, 75)), 3), "blocks": len(r)}
    return out


def _stage_costs(fe, rgb: np.ndarray, n: int, threads: int) -> dict:
    res = {}
    face = fe.find(rgb)[0].landmarks
    res[f"landmarks per face, {threads} thread(s)"] = stat(time_ms(lambda: fe.landmarker.mesh(rgb, face.roi), n))
    if fe.landmarker.iris is not None:
        res[f"iris per face (both eyes), {threads} thread(s)"] = stat(time_ms(lambda: fe.landmarker.add_iris(rgb, face), n))
    wins = fe.detector.windows(rgb.shape[1], rgb.shape[0])
    res[f"detection, whole frame (full range), {threads} thread(s)"] = stat(time_ms(lambda: fe.detector.detect(rgb, wins[:1]), n // 2))
    res[f"detection, one tile, {threads} thread(s)"] = stat(time_ms(lambda: fe.detector.detect(rgb, wins[1:2]), n // 2))
    return res


# The issue's cost goals were set from these bare-model figures (one thread, ai-edge-litert):
# landmarks 1.6 ms, iris 1.7 ms an eye. This machine's speed drifts by half between minutes
# (a shared VM), so the ms goals are scaled by the bare models timed in the same rounds.
ISSUE_BARE_MS = {"landmarks": 1.6, "iris (one eye)": 1.7}
ISSUE_GOALS = {"1 face, iris off, ratio": 0.35, "1 face, iris on, ratio": 0.85, "extra face ms, iris off": 2.0, "extra face ms, iris on": 5.5}


def _bare_models() -> dict:
    """The bare LiteRT interpreters (no pre- or post-processing) the goals were set from."""
    from ai_edge_litert.interpreter import Interpreter

    from sentin_ros.core.face_models import mediapipe_model

    out = {}
    for name, key in (("landmarks", "landmarks"), ("iris (one eye)", "iris")):
        it = Interpreter(model_path=mediapipe_model(key), num_threads=1)
        it.allocate_tensors()
        d = it.get_input_details()[0]
        it.set_tensor(d["index"], np.random.default_rng(0).random(d["shape"], np.float32))
        out[name] = it
    return out


def _goals(res: dict, ratios: dict, by_block: dict) -> dict:
    bare = {k: res[f"bare {k} invoke, 1 thread"]["p50"] for k in ISSUE_BARE_MS}
    speed = {"iris off": bare["landmarks"] / ISSUE_BARE_MS["landmarks"],
             "iris on": (bare["landmarks"] + 2 * bare["iris (one eye)"]) / (ISSUE_BARE_MS["landmarks"] + 2 * ISSUE_BARE_MS["iris (one eye)"])}
    out = {}
    for key, goal in ISSUE_GOALS.items():
        iris = "iris on" if "iris on" in key else "iris off"
        if key.endswith("ratio"):
            config = f"front end, 1 face, {iris}, 1 thread(s)"
            got = by_block[config]["median"]
            out[key] = {"result": got, "goal": goal, "met": got <= goal, "quartiles": [by_block[config]["q25"], by_block[config]["q75"]],
                        "ratio_of_medians": ratios[config]}
        else:
            got = ratios[f"extra face ms, {iris}, 1 thread(s)"]
            scaled = round(goal * speed[iris], 3)
            out[key] = {"result": got, "goal_as_set": goal, "goal_at_this_run_speed": scaled, "met": got <= scaled}
    out["bare models this run vs the issue's"] = {k: round(v, 3) for k, v in speed.items()}
    return out


def cost(n: int, repeats: int) -> dict:
    import mediapipe as mp

    one, four = _frames_one_face(n), _frames_four_faces(n)
    mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=8, refine_landmarks=True)
    runs = {}
    for threads in (1, 2):
        for iris in (False, True):
            # Detection on the frame itself: these are the one-core figures (and 2 XNNPACK threads).
            p = FacePipeline(FacePipelineConfig(front_end=FrontEndConfig(iris=iris, background_detection=False, landmark_workers=1,
                                                                         runtime=ModelOptions(num_threads=threads))))
            runs[(threads, iris)] = p
    bare = _bare_models()
    res: dict = {}
    samples: dict[str, list[float]] = {}
    paired: dict[str, dict[str, list[float]]] = {"1 face": {}, "4 faces": {}}
    for _ in range(repeats):
        for frames, label in ((one, "1 face"), (four, "4 faces")):
            fns = {f"facemesh solution, {label}": mesh.process}
            fns.update({f"bare {name} invoke, 1 thread": (lambda _rgb, it=it: it.invoke()) for name, it in bare.items()})
            for (threads, iris), p in runs.items():
                p.front_end.reset()
                fns[f"front end, {label}, iris {'on' if iris else 'off'}, {threads} thread(s)"] = p.front_end.find
            _interleaved(fns, frames[:10], {})  # tracks started, interpreters warm
            _interleaved(fns, frames, samples, block_medians=paired[label])
    mesh.close()
    res.update({k: stat(v) for k, v in samples.items()})
    for (threads, iris), p in runs.items():
        if iris:
            res.update(_stage_costs(p.front_end, one[0], n, threads))
        p.close()
    base1, base4 = res["facemesh solution, 1 face"]["p50"], res["facemesh solution, 4 faces"]["p50"]
    ratios = {}
    for key, v in res.items():
        if key.startswith("front end"):
            ratios[key] = round(v["p50"] / (base1 if "1 face" in key else base4), 3)
    for threads in (1, 2):
        for iris in ("off", "on"):
            a = res[f"front end, 1 face, iris {iris}, {threads} thread(s)"]["p50"]
            b = res[f"front end, 4 faces, iris {iris}, {threads} thread(s)"]["p50"]
            ratios[f"extra face ms, iris {iris}, {threads} thread(s)"] = round((b - a) / 3, 3)
    by_block = {}
    for label, medians in paired.items():
        by_block.update({k: v for k, v in _paired_ratios(medians, f"facemesh solution, {label}").items() if k.startswith("front end")})
    return {"ms": res, "ratio_to_facemesh_p50": ratios, "ratio_to_facemesh_by_block": by_block, "goals": _goals(res, ratios, by_block),
            "method": "per-frame wall time of FaceFrontEnd.find (detection schedule + landmarks (+ iris) per face) on 640×480 frames of "
                      "the astronaut moving (1 face) and four 110-px copies (4 faces), against mediapipe.solutions.face_mesh.FaceMesh "
                      "(refine_landmarks, video mode) on the same frames; the goals' ratios block by block (ratio_to_facemesh_by_block), "
                      "the p50 ratios of the whole run beside them"}


# -- how far it reaches ----------------------------------------------------------------------
def reach() -> dict:
    """Smallest face (landmark extent, px) each range finds on a still, and the distance that is
    for a camera of HFOV_DEG at that width."""
    out = {}
    for width, height in ((640, 480), (1280, 720)):
        sizes = [int(s) for s in np.geomspace(12, height / 3, 24)]
        focal = width / 2 / math.tan(math.radians(HFOV_DEG / 2))
        for rng in ("near", "far", "auto"):
            p = pipeline(detector_range=rng)
            smallest = None  # the smallest size from which every larger one (to a third of the height) is found
            for side in sorted(sizes, reverse=True):
                found = 0
                for k, shift in enumerate(((0, 0), (-width / 5, height / 6), (width / 4, -height / 7))):
                    img, _ = face_canvas([side], (width, height), shift=shift)
                    p.reset()
                    found += len(p.process(img, float(k), "bgr8", still=True).faces) > 0
                if found < 3:
                    break
                smallest = side
            p.close()
            out[f"{rng}@{width}x{height}"] = {
                "smallest_face_px": smallest,
                "max_distance_m": round(focal * FACE_HEIGHT_M / smallest, 1) if smallest else None,
            }
    return {"reach": out, "assumes": f"{HFOV_DEG:.0f}° horizontal field of view, a face {FACE_HEIGHT_M * 100:.0f} cm across its landmark extent; "
                                     "found = in 3 of 3 placements on a still, and so every larger face up to a third of the frame height"}


# -- how close to FaceMesh -------------------------------------------------------------------
def landmark_agreement(shared: Path | None) -> dict:
    import mediapipe as mp

    sources = {"astronaut": [cv2.cvtColor(astronaut_rgb(), cv2.COLOR_RGB2BGR)]}
    if shared is not None:
        for name in ("single_face_640x360.mp4", "pexels_wolfgang_langer_640x360.mp4"):
            cap = cv2.VideoCapture(str(shared / "media" / name))
            frames = []
            while len(frames) < 150:
                ok, f = cap.read()
                if not ok:
                    break
                frames.append(f)
            sources[name] = frames
    out = {}
    for name, frames in sources.items():
        p = pipeline()
        # Ours runs face_landmark.tflite, the model FaceMesh runs with refine_landmarks=False: that
        # solution is the like-for-like reference. refine_landmarks=True runs the attention model
        # (another network); its mesh and its iris are reported beside, with how far MediaPipe's
        # two models are from each other on the same frames.
        plain, refined = (mp.solutions.face_mesh.FaceMesh(static_image_mode=len(frames) == 1, refine_landmarks=r)
                          for r in (False, True))
        mesh, mesh_att, models_apart, iris = [], [], [], []
        for i, bgr in enumerate(frames):
            h, w = bgr.shape[:2]
            ours = p.process(bgr, i / 25.0, "bgr8").faces
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            ref_plain, ref_refined = plain.process(rgb).multi_face_landmarks, refined.process(rgb).multi_face_landmarks
            if not ours or not ref_plain or not ref_refined:
                continue
            o = ours[0].landmarks[:, :2] * (w, h)
            rp = np.array([(q.x * w, q.y * h) for q in ref_plain[0].landmark])
            rr = np.array([(q.x * w, q.y * h) for q in ref_refined[0].landmark])
            mesh.append(np.linalg.norm(o[:468] - rp[:468], axis=1).mean())
            mesh_att.append(np.linalg.norm(o[:468] - rr[:468], axis=1).mean())
            models_apart.append(np.linalg.norm(rp[:468] - rr[:468], axis=1).mean())
            iris.append(np.linalg.norm(o[468:] - rr[468:], axis=1).mean())
        plain.close()
        refined.close()
        p.close()
        out[name] = {"frames_compared": len(mesh), "mesh_mean_px": _px(mesh),
                     "mesh_vs_attention_model_mean_px": _px(mesh_att),
                     "mediapipe_models_apart_mean_px": _px(models_apart),
                     "iris_vs_attention_model_mean_px": _px(iris),
                     "iris_vs_attention_model_median_px": _px(iris, np.median)}
    return out


def _px(values: list[float], reduce=np.mean) -> float | None:
    return round(float(reduce(values)), 2) if values else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    ap.add_argument("--quick", action="store_true", help="fewer frames (a smoke run)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "face_front_end.json"))
    ap.add_argument("--only", choices=("finds", "cost", "reach", "landmarks"), help="one section, merged into an existing --out file")
    args = ap.parse_args()
    shared = Path(args.shared)
    have_data = (shared / "media" / "groups").is_dir()
    out = Path(args.out)
    report: dict = json.loads(out.read_text()) if args.only and out.exists() else {}
    report["machine" if not args.only else f"machine_{args.only}"] = machine()
    here = report.get("machine") or report[f"machine_{args.only}"]
    print(f"machine: {here['cpu']}; instruction set: {here['instruction_set']}", flush=True)
    want = {args.only} if args.only else {"finds", "cost", "reach", "landmarks"}
    if "finds" in want:
        if have_data:
            report["groups"] = groups(shared)
            report["false_positive_tracks"] = false_positive_tracks(shared)
        else:
            report["skipped"] = f"group photos and clips: {shared} not found (developers' data, not in a fresh clone)"
    n, repeats = (20, 1) if args.quick else (60, 3)
    if "cost" in want:
        report["cost"] = cost(n, repeats)
    if "reach" in want:
        report["reach"] = reach()
    if "landmarks" in want:
        report["landmarks_vs_facemesh"] = landmark_agreement(shared if have_data else None)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print_table(report)
    return 0


def print_table(r: dict) -> None:
    for key in [k for k in r if k.startswith("machine")]:
        m = r[key]
        print(f"\n{key}: measured {m['date_utc']} on {m['cpu']} ({m['cpus_usable']} usable CPUs; "
              f"{m['instruction_set']}), load average at start {m['load_avg_at_start'][0]:.2f}")
    print()
    if "groups" in r:
        g = r["groups"]
        print("| group photos (16 faces) | " + " | ".join(f"{w} px" for w in WIDTHS) + " |")
        print("|---|" + "---|" * len(WIDTHS))
        for rng in ("auto", "far", "near"):
            print(f"| {rng} | " + " | ".join(f"{g['found'][f'{rng}@{w}']}/{g['expected']}" for w in WIDTHS) + " |")
        print("\n| no-face material | frames | tracks | tracks > 5 frames | longest |\n|---|---|---|---|---|")
        for name, v in r["false_positive_tracks"].items():
            print(f"| {name} | {v['frames']} | {v['tracks']} | {v['tracks_longer_than_5']} | {v['longest']} |")
    if "cost" in r:
        print_cost(r["cost"])
    if "reach" in r:
        print("\n| range | smallest face | distance (60° camera) |\n|---|---|---|")
        for key, v in r["reach"]["reach"].items():
            print(f"| {key} | {v['smallest_face_px']} px | {v['max_distance_m']} m |")
    if "landmarks_vs_facemesh" in r:
        print("\n| landmarks vs FaceMesh | frames | mesh vs same model, mean px | mesh vs attention model | "
              "MediaPipe's two models apart | iris vs attention model, mean / median |\n|---|---|---|---|---|---|")
        for key, v in r["landmarks_vs_facemesh"].items():
            print(f"| {key} | {v['frames_compared']} | {v['mesh_mean_px']} | {v.get('mesh_vs_attention_model_mean_px')} | "
                  f"{v.get('mediapipe_models_apart_mean_px')} | {v.get('iris_vs_attention_model_mean_px')} / "
                  f"{v.get('iris_vs_attention_model_median_px')} |")


def print_cost(c: dict) -> None:
    print("\n| cost (ms p50 per frame) | value | ÷ FaceMesh (p50s) | ÷ FaceMesh block by block (median, quartiles) |\n|---|---|---|---|")
    for key, v in c["ms"].items():
        ratio = c["ratio_to_facemesh_p50"].get(key)
        b = c.get("ratio_to_facemesh_by_block", {}).get(key)
        paired = f"{b['median']:.2f}× ({b['q25']:.2f}–{b['q75']:.2f})" if b else ""
        print(f"| {key} | {v['p50']:.2f} | {'' if ratio is None else f'{ratio:.2f}×'} | {paired} |")
    for key, v in c["ratio_to_facemesh_p50"].items():
        if key.startswith("extra"):
            print(f"| {key} | {v:.2f} | | |")
    print("\n| cost goal (1 thread; ratios block by block) | result | goal | met |\n|---|---|---|---|")
    for key, v in c.get("goals", {}).items():
        if "result" in v:
            goal = v.get("goal", v.get("goal_at_this_run_speed"))
            how = "" if "goal" in v else f" ({v['goal_as_set']} at the issue's model speed)"
            print(f"| {key} | {v['result']:.2f} | {goal:.2f}{how} | {'yes' if v['met'] else 'no'} |")


if __name__ == "__main__":
    sys.exit(main())
