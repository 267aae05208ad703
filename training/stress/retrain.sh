#!/usr/bin/env bash
# Retrain the stress model on the emotion model now in models/affective_cnn_int8.tflite: ONE command.
#
#   TF_PY=/path/to/tf-venv/bin/python training/stress/retrain.sh [train.py options]
#
# TF_PY: python of the TensorFlow venv (training/stress/requirements.txt; default .venv-tf-stress);
# RT_PY: python of the runtime venv (mediapipe, LiteRT; default .venv). Steps:
#   1. train.py: re-embeds the FER2013 Training faces with the emotion model (when its sha256 changed;
#      rewrites the committed fixture training/stress/fixtures/heldout_bank.npz), regenerates the data
#      (generator + 0.25 s steps), trains (checkpoints; rerun to resume), exports INT8, measures MAE
#      (FP32 + INT8), the behaviour contract and latency -> models/affective_tcn.metrics.json
#   2. check_clips.py: the shared clips -> training/stress/clip_check.json + training/stress/results/*.png
#   3. card.py: models/affective_tcn_int8.md
#   4. the contract tests on the committed model (test/test_stress_core.py)
# Afterwards: read the plots, update training/stress/clip_notes.md, rerun card.py, commit.
set -euo pipefail
cd "$(dirname "$0")/../.."
TF_PY=${TF_PY:-.venv-tf-stress/bin/python}
RT_PY=${RT_PY:-.venv/bin/python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
nice -n 10 "$TF_PY" training/stress/train.py "$@"
"$RT_PY" training/stress/check_clips.py --json training/stress/clip_check.json --plots training/stress/results
"$RT_PY" training/stress/card.py
"$RT_PY" -m pytest -q test/test_stress_core.py test/test_stress_node.py
