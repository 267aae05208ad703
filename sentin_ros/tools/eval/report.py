"""Evaluation report: report.json (numbers), outputs.json (the per-frame outputs, canonical JSON)
and report.html (one self-contained page, PNG plots embedded as base64; matplotlib Agg)."""
from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path

import numpy as np

from ...inference.emotion import CLASSES
from .common import clean

# Keys of an evaluation result that go to outputs.json or are too bulky for report.json.
_BULK = ("frames", "outputs_json", "timings_ms_raw", "latency_ms_raw")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


# -- figures ----------------------------------------------------------------------------------
def fig_confusion(metrics: dict, title: str = "Confusion matrix (rows: truth, columns: prediction)") -> bytes:
    plt = _plt()
    cm = np.asarray(metrics["confusion_matrix"], dtype=float)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(CLASSES)), CLASSES, rotation=45, ha="right")
    ax.set_yticks(range(len(CLASSES)), CLASSES)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=8, color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046, label="row-normalized")
    return _png(fig)


def fig_per_class(metrics: dict) -> bytes:
    plt = _plt()
    pc = metrics["per_class"]
    x = np.arange(len(CLASSES))
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for k, name in enumerate(("precision", "recall", "f1")):
        ax.bar(x + (k - 1) * 0.27, [pc[c][name] for c in CLASSES], 0.27, label=name)
    ax.set_xticks(x, CLASSES)
    ax.set_ylim(0, 1)
    ax.legend(ncol=3, fontsize=8)
    ax.set_title("Per-class precision / recall / F1", fontsize=10)
    return _png(fig)


def fig_hist(series: dict[str, list[float]], title: str, xlabel: str = "ms") -> bytes | None:
    series = {k: [v for v in vals if v is not None] for k, vals in series.items()}
    series = {k: v for k, v in series.items() if v and max(v) > 0}
    if not series:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    hi = max(np.percentile(v, 99.5) for v in series.values())
    bins = np.linspace(0, hi * 1.05 if hi > 0 else 1, 60)
    for k, v in series.items():
        ax.hist(np.clip(v, 0, bins[-1]), bins=bins, alpha=0.55, label=f"{k} (p50 {np.percentile(v, 50):.1f}, p99 {np.percentile(v, 99):.1f})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return _png(fig)


def fig_faces_per_frame(counts: list[int]) -> bytes | None:
    if not counts:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 2.4))
    ax.step(range(len(counts)), counts, where="post", lw=1)
    ax.set_xlabel("frame")
    ax.set_ylabel("faces")
    ax.set_yticks(range(0, max(counts) + 1))
    ax.set_title("Faces found per frame", fontsize=10)
    return _png(fig)


def fig_traces(traces: dict, keys: tuple[str, ...], title: str, ylabel: str) -> bytes | None:
    have = {fid: d for fid, d in traces.items() if any(v is not None for k in keys for v in d[k])}
    if not have:
        return None
    plt = _plt()
    fig, axes = plt.subplots(len(keys), 1, figsize=(7, 2.2 * len(keys)), sharex=True, squeeze=False)
    for ax, key in zip(axes[:, 0], keys):
        for fid, d in sorted(have.items(), key=lambda kv: int(kv[0]))[:12]:
            t = [t for t, v in zip(d["t"], d[key]) if v is not None]
            v = [v for v in d[key] if v is not None]
            ax.plot(t, v, ".-", ms=2, lw=1, label=f"face {fid}")
        ax.set_ylabel(f"{ylabel} {key.split('_')[-1] if len(keys) > 1 else ''}".strip())
    axes[0, 0].set_title(title, fontsize=10)
    axes[-1, 0].set_xlabel("time (s)")
    axes[0, 0].legend(fontsize=7, ncol=4)
    return _png(fig)


def fig_stress_traces(traces: dict) -> bytes | None:
    """One panel per face (up to 6): the stress level and, shaded, its confidence (the share of the
    time horizon with good frames x emotion confidence); gaps: no Stress (no face, low quality)."""
    have = {fid: d for fid, d in traces.items() if any(v is not None for v in d["stress"])}
    if not have:
        return None
    plt = _plt()
    faces = sorted(have.items(), key=lambda kv: int(kv[0]))[:6]
    fig, axes = plt.subplots(len(faces), 1, figsize=(7, 1.7 * len(faces) + 0.4), sharex=True, squeeze=False)
    for ax, (fid, d) in zip(axes[:, 0], faces):
        t = np.array(d["t"], float)
        lv = np.array([np.nan if v is None else v for v in d["stress"]], float)
        cf = np.array([np.nan if v is None else v for v in d.get("stress_confidence", [None] * len(t))], float)
        ax.fill_between(t, 0, np.nan_to_num(cf), color="tab:gray", alpha=0.25, step="mid", label="confidence")
        ax.plot(t, lv, ".-", ms=2, lw=1, color="tab:red", label="level")
        for y in (0.4, 0.7):
            ax.axhline(y, color="k", lw=0.5, ls=":")
        ax.set_ylim(0, 1)
        ax.set_ylabel(f"face {fid}", fontsize=8)
    axes[0, 0].set_title("Stress per face: level (red), confidence (grey); dotted: ELEVATED / HIGH", fontsize=10)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("time (s)")
    return _png(fig)


def fig_gaze_heatmap(traces: dict) -> bytes | None:
    xs = [x for d in traces.values() for x, y in zip(d["gaze_x"], d["gaze_y"]) if x is not None and y is not None]
    ys = [y for d in traces.values() for x, y in zip(d["gaze_x"], d["gaze_y"]) if x is not None and y is not None]
    if not xs:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 4))
    h, _, _, im = ax.hist2d(np.clip(xs, -0.5, 1.5), np.clip(ys, -0.5, 1.5), bins=80, range=[[-0.5, 1.5], [-0.5, 1.5]], cmap="magma")
    ax.add_patch(_plt().Rectangle((0, 0), 1, 1, fill=False, ec="cyan", lw=1.5))
    ax.invert_yaxis()
    ax.set_xlabel("x (screen widths)")
    ax.set_ylabel("y (screen heights)")
    ax.set_title("Gaze heat-map (cyan: the screen)", fontsize=10)
    fig.colorbar(im, ax=ax, label="frames")
    return _png(fig)


def fig_resources(res: dict) -> bytes | None:
    rss, cpu = res.get("rss_mb_samples") or [], res.get("cpu_samples") or []
    if not rss:
        return None
    plt = _plt()
    t = np.arange(len(rss)) * res.get("sample_period_s", 0.25)
    fig, ax = plt.subplots(figsize=(7, 2.4))
    ax.plot(t, rss, color="tab:blue")
    ax.set_ylabel("RSS (MB)", color="tab:blue")
    ax.set_xlabel("time (s)")
    ax2 = ax.twinx()
    ax2.plot(t[: len(cpu)], cpu, color="tab:red", lw=0.8)
    ax2.set_ylabel("CPU (cores)", color="tab:red")
    ax.set_title("Process CPU and RSS during the run", fontsize=10)
    return _png(fig)


def figures(result: dict) -> dict[str, bytes]:
    """name -> PNG bytes, for every plot the result has data for."""
    figs: dict[str, bytes | None] = {}
    acc = result.get("accuracy") or {}
    if "detected" in acc:
        figs["confusion_matrix"] = fig_confusion(acc["detected"])
        figs["per_class_f1"] = fig_per_class(acc["detected"])
    ref = result.get("raw_crop_comparison") or {}
    if ref.get("raw_crop_metrics"):
        figs["confusion_matrix_raw_crops"] = fig_confusion(ref["raw_crop_metrics"], "Model on the raw 48×48 crops (same rows)")
    if result.get("latency_ms_raw"):
        figs["latency_hist"] = fig_hist(result["latency_ms_raw"], "End-to-end latency, image publish -> output received")
    if result.get("timings_ms_raw"):
        stages = {k: v for k, v in result["timings_ms_raw"].items() if k != "total"}
        figs["stage_time_hist"] = fig_hist(stages, "Per-stage processing time per frame (in-process)")
    figs["faces_per_frame"] = fig_faces_per_frame(result.get("faces_per_frame", []))
    tr = result.get("traces") or {}
    figs["stress_traces"] = fig_stress_traces(tr)
    figs["gaze_traces"] = fig_traces(tr, ("gaze_x", "gaze_y"), "Gaze point per face over time", "gaze")
    figs["gaze_heatmap"] = fig_gaze_heatmap(tr)
    figs["resources"] = fig_resources(result.get("resources") or {})
    return {k: v for k, v in figs.items() if v}


# -- tables -----------------------------------------------------------------------------------
def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return "–" if not math.isfinite(v) else f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return html.escape(str(v))


def _table(rows: list[list], head: list[str] | None = None) -> str:
    out = ["<table>"]
    if head:
        out.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>")
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in r) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _pct_rows(d: dict) -> list[list]:
    return [[k, v.get("n"), v.get("p50"), v.get("p90"), v.get("p99"), v.get("max"), v.get("mean")] for k, v in d.items() if v.get("n")]


def html_page(result: dict, figs: dict[str, bytes], title: str) -> str:
    r = result
    parts = [f"<h1>{html.escape(title)}</h1>"]
    bag = r.get("bag", {})
    summary = [
        ["mode", r.get("mode")], ["bag", bag.get("path")], ["image topic", f"{bag.get('image_topic')} ({bag.get('image_type')})"],
        ["frames in bag", r.get("frames_in_bag")], ["frames processed", r.get("frames_processed")], ["dropped frames", r.get("dropped")],
        ["recorded rate (Hz)", bag.get("rate_hz")],
    ]
    if r.get("mode") == "realtime":
        summary += [["played at (Hz)", r.get("play_rate_hz")], ["FaceArray output rate (Hz)", r.get("frame_output_rate_hz")]]
    summary += [[f"stage: {k}", v] for k, v in r.get("stages", {}).items()]
    if r.get("outputs_sha256"):
        summary.append(["outputs sha256", r["outputs_sha256"]])
    parts.append("<h2>Run</h2>" + _table(summary))

    acc = r.get("accuracy")
    if acc:
        rows = [["labelled frames", acc["labelled_frames"]], ["faces missed by the detector", f"{acc['detector_missed']} ({100 * acc['detector_miss_rate']:.1f}%)"],
                ["accuracy, detected faces", acc.get("accuracy_detected")], ["accuracy, all labelled (miss = wrong)", acc.get("accuracy_all")],
                ["top class below min_confidence ('uncertain')", acc.get("uncertain")]]
        if "detected" in acc:
            rows.append(["macro F1 (detected)", acc["detected"]["macro_f1"]])
        ref = r.get("raw_crop_comparison")
        if ref:
            rows += [["model on raw 48×48 crops, same rows", ref["raw_crop_accuracy"]],
                     ["loss through the pipeline, all (points)", ref["loss_points_all"]],
                     ["loss through the pipeline, detected only (points)", ref["loss_points_detected"]]]
        parts.append("<h2>Emotion accuracy</h2>" + _table(rows))
        if acc.get("note"):
            parts.append(f"<p>{html.escape(acc['note'])}</p>")
        if "detected" in acc:
            pc = acc["detected"]["per_class"]
            parts.append(_table([[c, pc[c]["precision"], pc[c]["recall"], pc[c]["f1"], pc[c]["support"], acc["missed_per_class"][c]] for c in CLASSES],
                                ["class", "precision", "recall", "F1", "support", "missed by detector"]))
    if r.get("latency_ms"):
        parts.append("<h2>End-to-end latency (ms), image publish → output</h2>"
                     + _table(_pct_rows(r["latency_ms"]), ["output", "n", "p50", "p90", "p99", "max", "mean"]))
        parts.append("<h3>Drops</h3>" + _table([[k, v] for k, v in r.get("drops", {}).items()]))
        if r.get("output_rate_hz"):
            parts.append("<h3>Output rates (Hz)</h3>" + _table([[k, v] for k, v in r["output_rate_hz"].items()]))
    if r.get("timings_ms"):
        parts.append("<h2>Per-stage time per frame (ms, in-process)</h2>"
                     + _table(_pct_rows(r["timings_ms"]), ["stage", "n", "p50", "p90", "p99", "max", "mean"]))
    res = r.get("resources")
    if res:
        parts.append("<h2>Resources (this process)</h2>" + _table([
            ["wall (s)", res["wall_s"]], ["CPU time (s)", res["cpu_s"]], ["CPU, mean cores busy", res["cpu_cores_mean"]],
            ["RSS start (MB)", res["rss_mb_start"]], ["RSS max (MB)", res["rss_mb_max"]], ["RSS end (MB)", res["rss_mb_end"]]]))
    fs = r.get("faces_per_frame_summary")
    if fs:
        parts.append("<h2>Faces</h2>" + _table([[k, v] for k, v in fs.items()]))
    for name, png in figs.items():
        parts.append(f'<figure><img alt="{name}" src="data:image/png;base64,{base64.b64encode(png).decode()}"><figcaption>{name}</figcaption></figure>')
    style = ("body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:.5em 0}"
             "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}th{background:#f3f3f3}img{max-width:100%}"
             "figcaption{font-size:12px;color:#666}")
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{style}</style></head><body>{''.join(parts)}</body></html>"


def write_report(result: dict, out_dir: str | Path, title: str | None = None, html_page_too: bool = True, figures_dir: str | Path | None = None) -> dict:
    """Writes report.json, outputs.json and report.html into out_dir; PNGs also into figures_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"outputs": str(out / "outputs.json"), "json": str(out / "report.json")}
    (out / "outputs.json").write_text(result["outputs_json"])
    summary = {k: v for k, v in result.items() if k not in _BULK}
    if summary.get("resources"):
        summary["resources"] = {k: v for k, v in summary["resources"].items() if not k.endswith("_samples") or k.startswith("cpu_cores")}
    (out / "report.json").write_text(json.dumps(clean(summary, 4), indent=1, sort_keys=True))
    if html_page_too or figures_dir:
        figs = figures(result)
        if figures_dir:
            fd = Path(figures_dir)
            fd.mkdir(parents=True, exist_ok=True)
            for name, png in figs.items():
                (fd / f"{name}.png").write_bytes(png)
            paths["figures"] = str(fd)
        if html_page_too:
            (out / "report.html").write_text(html_page(result, figs, title or f"sentin_ros evaluation: {Path(result['bag']['path']).name} ({result['mode']})"))
            paths["html"] = str(out / "report.html")
    return paths
