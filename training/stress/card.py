"""Render models/affective_tcn_int8.md from the measured numbers, so the card never disagrees with them.

    python training/stress/card.py      # any venv (numpy only)

Reads models/affective_tcn.metrics.json (train.py), training/stress/generator_params.json,
training/stress/geometry_stats.json and training/stress/clip_check.json (check_clips.py --json).
The prose lives here; CLIP_NOTES is what a person saw on the clips (edit it after re-running).
"""
from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, ROOT)

from training.stress import generator as gen  # noqa: E402

METRICS = os.path.join(ROOT, "models", "affective_tcn.metrics.json")
CARD = os.path.join(ROOT, "models", "affective_tcn_int8.md")
PARAMS = os.path.join(HERE, "generator_params.json")
STATS = os.path.join(HERE, "geometry_stats.json")
CLIPS = os.path.join(HERE, "clip_check.json")

CLIP_NOTES = os.path.join(HERE, "clip_notes.md")


def f(v, n=3):
    return "n/a" if v is None else f"{v:.{n}f}"


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--metrics", default=METRICS)
    ap.add_argument("--clips", default=CLIPS)
    ap.add_argument("--out", default=CARD)
    args = ap.parse_args()
    m = json.load(open(args.metrics))
    p = json.load(open(PARAMS))
    s = json.load(open(STATS))
    clips = json.load(open(args.clips)) if os.path.isfile(args.clips) else {}
    notes = open(CLIP_NOTES).read().strip() if os.path.isfile(CLIP_NOTES) else "(not run yet)"
    c = m["contract_int8"]
    cf = m["contract_fp32"]
    mae = m["heldout_mae"]
    tp = p["target"]
    w = tp["weights"]
    lat = m["latency"]
    L = []
    a = L.append
    a("# affective_tcn_int8.tflite: visible facial strain (\"stress\") index")
    a("")
    a("## What the score is, and what it is not")
    a("")
    a("**It is** a learned index, in [0, 1], of *visible facial strain* in the last 15 frames of one face "
      "(~0.6 s at 25 fps; 0.5 s at 30 fps, 1 s at 15 fps): sustained brow lowering, a suppressed or "
      "down-turned smile, raised blinking and eyelid tension, head micro-motion and negative, high-arousal "
      "expression. The network was trained to reproduce a *documented formula* over those cues (below), "
      "computed on synthetic sequences built from real FER2013 faces and measured face geometry. What the "
      "number means is exactly what that formula and generator say, nothing more.")
    a("")
    a("**It is not** a physiological or medical measure of stress, it was **not validated against real "
      "stress labels** (none exist here), and it is **not a lie detector** or a measure of intent, honesty, "
      "health or emotion felt. Faces look strained for many reasons (concentration, bright light, glasses, "
      "speaking, a person's resting face). Do not use it to make decisions about people.")
    a("")
    a("## Interface")
    a("")
    a("* Input `1x15x268` int8 (scale/zero point in the file): 15 frames, oldest first; per frame the emotion "
      "model's 256-d embedding (`models/affective_cnn_int8.tflite`, dequantized) then the 12 geometry metrics of "
      "`sentin_ros.core.features.GEOMETRY_NAMES`. Output `1x1` int8 -> level in [0, 1].")
    a("* Preprocessing (`sentin_ros/inference/stress.py`, `prepare_window`, the same code in training): "
      "embedding x `EMBEDDING_SCALE` (4; the emotion embedding spans ~0-1.1, the standardised geometry ~-4..6, and "
      "the int8 input has one scale for both); geometry: `head_motion -> log1p(deg/s)`, then `(g - GEOMETRY_MEAN) / GEOMETRY_STD` "
      "(fixed constants in stress.py), clipped to +-6. The embedding's per-dimension standardisation (training-set "
      "mean/std, std floored at 1/4 of the median: ~50 dimensions are always 0 on FER faces) is folded into the first "
      "1x1 convolution. Reason: the int8 input has one scale for all 268 features "
      f"(scale {m['int8_input_quantization']['scale']:.4f}, zero point {m['int8_input_quantization']['zero_point']}: it "
      f"represents {(-128 - m['int8_input_quantization']['zero_point']) * m['int8_input_quantization']['scale']:.1f} .. "
      f"{(127 - m['int8_input_quantization']['zero_point']) * m['int8_input_quantization']['scale']:.1f}, set from the "
      "representative windows; standardised geometry outside that range saturates).")
    a("* `StressTracker` (stress.py): per-face windows; no estimate before `min_frames` (default 8) frames; shorter "
      "histories are left-padded by repeating the oldest frame (the model saw such padded windows in training: "
      f"{m['data']['pad_augment_fraction']:.0%} of training sequences); `confidence` = filled fraction x mean emotion "
      "confidence; state LOW < 0.4 <= ELEVATED < 0.7 <= HIGH (node parameters); a face's window restarts after a gap "
      "> `max_gap_s` (0.5 s), on `reset(face_id)` (face lost) and `prune`/`forget` drop faces that are gone.")
    a("")
    a("## The target: a documented model of visible facial strain")
    a("")
    a("Five latent drivers, each in [0, 1] per frame: `au4` (sustained brow lowering/knitting, FACS AU4), "
      "`au12_suppression` (suppressed lip-corner pull, corners down, lips pressed), `blink_rate` (raised blink rate, "
      "eyelid tension), `head_motion` (head micro-motion), `neg_arousal` (negative high-arousal expression).")
    a("")
    a("```")
    a("s(t)  = " + " + ".join(f"{w[k]} * {k}(t)" for k in gen.DRIVERS))
    a(f"S     = sum_t a_t s(t) / sum_t a_t,   a_t = exp(-(14 - t) / {tp['tau_frames']})    (t = 0..14, 14 = newest)")
    a(f"level = 1 / (1 + exp(-{tp['gain']} * (S - {tp['centre']})))")
    a("```")
    a("")
    a("Monotone non-decreasing in every driver at every frame. Because `S` averages the whole window, strain must be "
      "*sustained*: every driver at full strength on the newest frame only gives "
      f"{gen.target_from_drivers(_last_frames(1))[0]:.2f}, on the newest 3 frames "
      f"{gen.target_from_drivers(_last_frames(3))[0]:.2f}, 5 frames {gen.target_from_drivers(_last_frames(5))[0]:.2f}. "
      f"Steady values: all drivers 0 -> {_steady(0, 0, 0, 0, 0):.2f}; all 0.15 (calm) -> {_steady(*[.15] * 5):.2f}; "
      f"one of au4 / neg_arousal at 1 -> {_steady(1, 0, 0, 0, 0):.2f} (ELEVATED); au4 + au12_suppression -> "
      f"{_steady(1, 1, 0, 0, 0):.2f}; au4 + neg_arousal -> {_steady(1, 0, 0, 0, 1):.2f}; blink_rate + head_motion -> "
      f"{_steady(0, 0, 1, 1, 0):.2f}; all 0.5 -> {_steady(*[.5] * 5):.2f}.")
    a("")
    a("## The generator (`training/stress/generator.py`, parameters `training/stress/generator_params.json`)")
    a("")
    a("Driver trajectories: scenario mixture " + ", ".join(f"{k} {v:.0%}" for k, v in p["drivers"]["scenario_probs"].items()) +
      " (calm: all drivers <= 0.15; random: independent levels with steady / onset / decay / 1-2 frame spike "
      "profiles; strain: most drivers 0.55-1; single: one driver; spike: short spikes; transition: all drivers switch "
      f"on or off together), plus AR(1) noise (std {p['drivers']['ar_noise']}, rho {p['drivers']['ar_rho']}).")
    a("")
    a("**Embedding part, from real faces.** The emotion model was run over the 28,709 FER2013 Training faces "
      f"({m['emotion_embeddings']}); 90 % of them feed the training sequences, the other 10 % (seeded split) only the "
      "validation/test sequences and the test fixture. Each frame shows a face from the pool of one expression class "
      f"(faces whose label the emotion model gives >= {p['embedding']['min_label_prob']}); the class is drawn from a "
      "softmax whose logits depend on the drivers:")
    a("")
    a("| class | bias | driver weights | smile |")
    a("|---|---|---|---|")
    for cname in gen.CLASSES:
        dw = p["embedding"]["drive"].get(cname, {})
        a(f"| {cname} | {p['embedding']['bias'][cname]} | {', '.join(f'{k} {v:+}' for k, v in dw.items()) or '-'} | "
          f"{p['embedding']['smile_weight'].get(cname, '-')} |")
    a("")
    a(f"`smile` is a per-sequence nuisance (relaxed smiling, not strain). A face is held for runs (mean "
      f"{p['embedding']['run_mean']} frames; redrawn early when the class distribution moves by > "
      f"{p['embedding']['redraw_tv']} total variation), consecutive faces cross-fade over {p['embedding']['blend_frames']} "
      f"frames, and every frame gets Gaussian jitter of {p['embedding']['jitter']} x the per-dimension std.")
    a("")
    a("**Geometry part, grounded in measurements** (`training/stress/measure_geometry.py` -> `geometry_stats.json`): "
      "MediaPipe FaceMesh on FER2013 Training faces (48 -> 192 px, padded to 384 x 384 grey; found "
      + ", ".join(f"{k} {v['n_found']}/{v['n_faces']}" for k, v in s["fer"].items()) +
      ") gives the neutral baseline, the between-person spread and the class differences; the three shared clips "
      "through the full `FacePipeline` give the per-frame measurement noise (robust std of frame-to-frame changes) "
      "and the resting head_motion (pose-estimation jitter).")
    a("")
    a("| metric | neutral median | person std | angry - neutral | happy - neutral | surprise - neutral | noise/frame |")
    a("|---|---|---|---|---|---|---|")
    st = gen.GeometryStats.load(STATS)
    for i, name in enumerate(gen.GEOMETRY_NAMES):
        a(f"| {name} | {st.neutral_mean[i]:.3f} | {st.person_std[i]:.3f} | {st.class_delta[gen.C['angry'], i]:+.3f} | "
          f"{st.class_delta[gen.C['happy'], i]:+.3f} | {st.class_delta[gen.C['surprise'], i]:+.3f} | {st.jitter[i]:.4f} |")
    a("")
    g = p["geometry"]
    a(f"Per sequence a person baseline (neutral + {g['person_spread']} x person std; EARs {g['ear_spread']} x). Drivers "
      f"move it: `au4` lowers/knits the brows by {g['au4_gain']} x the angry - neutral difference (at least "
      f"{g['au4_min_effect']}); lip_corner_pull = + {g['smile_gain']} x (happy - neutral) x P(happy | face shown) x "
      f"(1 - au12_suppression) - {g['au12_down']} x au12_suppression; lip_press x (1 - {g['lip_press_drop']} x "
      f"au12_suppression); the eye, brow and mouth metrics also follow the class of the face shown ({g['expression_gain']} "
      f"x measured class difference); `blink_rate` raises blink onsets from {g['blink_onset_base']} to "
      f"{g['blink_onset_max']} per frame (blinks dip both EARs by {g['blink_depth']} over 3-5 frames; `blink` recomputed "
      f"with the core's EAR < 0.18 rule) and narrows the eyes by up to {g['eyelid_tension']:.0%}; `head_motion` adds a "
      f"jittery zero-mean rotation of ~{g['motion_deg_s']} deg/s; nuisances that are not strain: deliberate head turns "
      f"({g['look_prob']:.0%} of sequences, {g['look_deg_s']} deg/s, smooth, moving yaw/pitch), talking "
      f"({g['talk_prob']:.0%}), heavy-tailed pose jitter (median {st.head_motion_rest:.1f} deg/s as on the steady "
      f"clip); plus {g['noise_scale']} x the measured per-frame noise.")
    a("")
    a("## Architecture and training")
    a("")
    a(f"{m['architecture']}; {m['parameters']:,} parameters; receptive field 15 frames (causal); the head reads the "
      f"newest step and the mean over the window (steadier on steady input). Trained on {m['data']['train_sequences']:,} sequences (val {m['data']['val_sequences']:,}, test "
      f"{m['data']['test_sequences']:,} on held-out faces), Huber loss (delta 0.1: between L1, which fits the conditional median that the MAE measures and does not hedge upwards on calm-looking windows, and MSE, whose conditional mean changes more smoothly from frame to frame; calm sequences weighted x4), Adam + cosine decay, Gaussian noise and dropout on "
      f"the standardised input, {m['data']['epochs']} epochs, best epoch by validation MAE. Full-integer INT8 "
      f"(int8 input and output; 500 representative windows from the training split): **{m['bytes']:,} bytes**.")
    a("")
    a("## Results (held-out faces, generated sequences)")
    a("")
    a("| | FP32 (Keras) | INT8 (LiteRT) |")
    a("|---|---|---|")
    a(f"| MAE vs generator target ({m['data']['test_sequences']:,} sequences) | {f(mae['fp32']['all'], 4)} | {f(mae['int8']['all'], 4)} |")
    a(f"| RMSE | {f(mae['fp32']['rmse'], 4)} | {f(mae['int8']['rmse'], 4)} |")
    a(f"| 95th percentile abs. error | {f(mae['fp32']['p95_abs_error'], 4)} | {f(mae['int8']['p95_abs_error'], 4)} |")
    for k in mae["int8"]["by_scenario"]:
        a(f"| MAE, {k} sequences | {f(mae['fp32']['by_scenario'][k], 4)} | {f(mae['int8']['by_scenario'][k], 4)} |")
    a("")
    a(f"Mean |INT8 - FP32| = {mae['int8_vs_fp32_mean_abs_diff']}. Part of the error is irreducible by design: a 15-frame "
      "window cannot tell a person's resting brows/eyes from a strained state, and blinks are sparse events. "
      "Hence the model is conservative where the evidence is weak: it rises less than the target with `blink_rate` "
      "(0-2.5 blinks per window are hard to tell from a normal rate) and with `head_motion` above ~0.5 (fast "
      "micro-motion overlaps with the pose-estimation jitter and with deliberate head turns, which are not strain), and "
      "it stays below the target at low driver levels (see the monotonicity rows); the errors are largest on the "
      "`random` sequences, where drivers switch independently within the window.")
    a("")
    a("### Behaviour contract (INT8; `training/stress/contract.py`, asserted by `test/test_stress_core.py`)")
    a("")
    a("| check | result (INT8) | FP32 | required |")
    a("|---|---|---|---|")
    a(f"| calm drivers (<= 0.15), neutral/happy faces, {c['calm']['n']} sequences: max level | {f(c['calm']['max'])} "
      f"(p99 {f(c['calm']['p99'])}, mean {f(c['calm']['mean'])}) | {f(cf['calm']['max'])} | < 0.3 |")
    a(f"| calm drivers, natural face mix (some negative faces): max / mean | {f(c['calm_mixed_faces']['max'])} / "
      f"{f(c['calm_mixed_faces']['mean'])} | {f(cf['calm_mixed_faces']['max'])} | (reported) |")
    so = c["strain_onset"]
    a(f"| sustained strain after 15 calm frames ({so['n']} sequences): above 0.7 within 15 frames | "
      f"{so['frac_above_0.7_within_15']:.0%} (median {so['frames_to_0.7_median']:.0f} frames, max "
      f"{so['frames_to_0.7_max']}; level at 15: min {f(so['level_at_15_min'])}, mean {f(so['level_at_15_mean'])}) | "
      f"{cf['strain_onset']['frac_above_0.7_within_15']:.0%} | 100 % |")
    a(f"| level before the onset (calm window), max | {f(so['level_before_onset_max'])} | "
      f"{f(cf['strain_onset']['level_before_onset_max'])} | (reported; natural face mix) |")
    for k in gen.DRIVERS:
        mo = c["monotone"][k]
        a(f"| monotone in `{k}` (others 0.3; mean level at 0/.25/.5/.75/1) | {' / '.join(f'{v:.2f}' for v in mo['mean_levels'])} "
          f"({mo['seq_steps_not_dropping']:.0%} of per-sequence steps do not drop > 0.02) | "
          f"{' / '.join(f'{v:.2f}' for v in cf['monotone'][k]['mean_levels'])} | non-decreasing; target "
          f"{' / '.join(f'{v:.2f}' for v in mo['target'])} |")
    sd = c["steady"]
    a(f"| steady input (one face, constant drivers, no head turns or talking, 60 frames, sliding window): frame-to-frame change median / p95 | "
      f"{f(sd['median_abs_delta'], 4)} / {f(sd['p95_abs_delta'], 4)} | {f(cf['steady']['median_abs_delta'], 4)} / "
      f"{f(cf['steady']['p95_abs_delta'], 4)} | <= 0.02 / <= 0.1 |")
    for k in ("calm", "mid", "strain"):
        a(f"| steady {k}: mean level, within-sequence std | {f(sd[k]['mean_level'])}, {f(sd[k]['std_level'])} | "
          f"{f(cf['steady'][k]['mean_level'])} | |")
    a("")
    a(f"Strain onset, mean level by number of strain frames in the window (0..15): "
      f"{' '.join(f'{v:.2f}' for v in so['mean_trace'])}.")
    a("")
    a(f"**Latency** (LiteRT {lat['backend']}, {lat['threads']} thread, {lat['runs']} windows, the machine that trained it, "
      f"shared CPU): `StressModel.predict` (standardise + quantize + invoke + dequantize) median "
      f"{lat['predict_ms_median']} ms, p99 {lat['predict_ms_p99']} ms; `invoke` alone median {lat['invoke_ms_median']} ms, "
      f"p99 {lat['invoke_ms_p99']} ms.")
    a("")
    a("## On the real clips (`training/stress/check_clips.py`)")
    a("")
    if clips:
        a("| clip | face | estimates | mean | std | min - max | median / p95 frame-to-frame change | LOW / ELEVATED / HIGH |")
        a("|---|---|---|---|---|---|---|---|")
        for clip, r in clips.items():
            for fid, v in r["faces"].items():
                a(f"| {clip} | {fid} | {v['estimates']} | {v['mean']:.3f} | {v['std']:.3f} | {v['min']:.2f} - {v['max']:.2f} | "
                  f"{v['median_abs_delta']} / {v['p95_abs_delta']} | {' / '.join(f'{x:.0%}' for x in v['state_fraction'])} |")
        a("")
    a(notes)
    a("")
    a("## Limitations")
    a("")
    a("* Trained only on generated sequences; the drivers, their visual effects and the target formula are design "
      "choices grounded in FER2013 statistics and three short clips, not in data of people under stress.")
    a("* FER2013 faces are different people from frame to frame of a generated sequence (held for runs, cross-faded); "
      "real video shows one person. The generator's person baseline and per-frame noise come from FER stills and three "
      "clips of two people; unusual faces, glasses, occlusion, strong yaw or low light shift the geometry.")
    a("* The frame rate is assumed ~25 fps; at other rates the window covers a different time span and blink counts "
      "per window scale with it.")
    a("* A resting face with low brows, narrow eyes or down-turned mouth corners reads higher: the window is too short "
      "to learn a person's baseline.")
    a("* Data: FER2013 (Goodfellow et al., ICML 2013 workshop \"Challenges in Representation Learning\"), no explicit "
      "license, research use; the emotion model that produced the embeddings was trained on it too.")
    a("")
    a("## Reproduce")
    a("")
    a("```")
    a("python3.11 -m venv .venv-tf-stress && .venv-tf-stress/bin/pip install -r training/stress/requirements.txt")
    a(".venv/bin/python training/stress/measure_geometry.py      # geometry_stats.json (mediapipe; ~1 min)")
    a(m["command"] + "    # bank + data + train (resumes) + INT8 + metrics")
    a(".venv/bin/python training/stress/check_clips.py --json training/stress/clip_check.json")
    a(".venv/bin/python training/stress/card.py                  # this card")
    a(".venv/bin/python -m pytest test/test_stress_core.py")
    a("```")
    a("")
    a(f"Generator parameters as used: `training/stress/generator_params.json`. Training took {m['train_seconds']:.0f} s "
      "on 2 shared CPU cores (data generation included).")
    with open(args.out, "w") as fh:
        fh.write("\n".join(L) + "\n")
    print(f"wrote {args.out}")


def _last_frames(k: int):
    d = gen.steady_drivers([0.0] * 5)
    d[0, -k:] = 1.0
    return d


def _steady(*levels) -> float:
    return float(gen.target_from_drivers(gen.steady_drivers(list(levels)))[0])


if __name__ == "__main__":
    main()
