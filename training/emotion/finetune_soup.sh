#!/usr/bin/env bash
# From one finished small_train run to an exported weight soup, the recipe of
# training/README.md ("State (2026-12-01, night)"):
#
#   TF_PY=/work/venv-train/bin/python training/emotion/finetune_soup.sh training/out/emotion_d5_run5
#
# 1. two fine-tunes of START/best.pt side by side, one core each (4,200 s of training each):
#    self-distillation of the mirror (START_ft_self) and the same plus flip consistency
#    (START_ft_flip); with EXTRA=PATH (transfer_set.py) both also train on those images
#    (START_ft_*_extra); each resumes after an interruption when this script is run again;
# 2. the greedy soup of START's selected and last weights and each fine-tune's selected, last
#    and last-EMA weights (START_soup), chosen on PublicTest;
# 3. small_export of the soup (START_soup/models/): INT8 and FP32 metrics, latency.
# Then, if its INT8 PrivateTest is >= 71.0 %: training/emotion/promote.sh START_soup.
# Export's latency is only meaningful on a quiet machine: stop other training first.
set -euo pipefail
cd "$(dirname "$0")/../.."
TF_PY=${TF_PY:-python}
START=${1:?usage: finetune_soup.sh START}
DATA=${DATA:-../shared/datasets/fer2013.npz}
BUDGET=${BUDGET:-4200}
EXTRA=${EXTRA:-}  # transfer images (transfer_set.py) added to every fine-tune epoch
SUFFIX=${EXTRA:+_extra}
CONFIG=$("$TF_PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['config'])" "$START/result.json")
VIEWS=$("$TF_PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['args'].get('teacher_views', 'single'))" "$START/result.json")

finetune() {  # OUT, extra flags...
    local out=$1; shift
    mkdir -p "$out"
    # the teacher's outputs on every row (135 s to compute on the Xeon; 270 s with 7 views on the EPYC) are the start run's
    [ -e "$out/targets.npz" ] || [ ! -e "$START/targets.npz" ] || cp "$START/targets.npz" "$out/"
    nice -n 10 "$TF_PY" -m training.emotion.small_train --data "$DATA" --out "$out" --config "$CONFIG" \
        --init "$START/best.pt" --w-self 0.5 --lr 4e-4 --warmup-frac 0.03 --budget-s "$BUDGET" \
        --ema-warmup --bf16 --threads 1 --teacher-views "$VIEWS" --no-export ${EXTRA:+--extra "$EXTRA"} "$@" >> "$out/train.log" 2>&1
}
finetune "${START}_ft_self$SUFFIX" &
self_pid=$!
finetune "${START}_ft_flip$SUFFIX" --flip-consistency 1.0 &
flip_pid=$!
wait "$self_pid" "$flip_pid"

candidates=("$START/best.pt" "$START/ckpt.pt:model")
for ft in "${START}_ft_self$SUFFIX" "${START}_ft_flip$SUFFIX"; do
    candidates+=("$ft/best.pt" "$ft/ckpt.pt:model" "$ft/ckpt.pt:ema")
done
"$TF_PY" -m training.emotion.soup --data "$DATA" --out "${START}_soup$SUFFIX" "${candidates[@]}" | tee "${START}_soup$SUFFIX.log"
"$TF_PY" -m training.emotion.small_export --data "$DATA" --out "${START}_soup$SUFFIX" | tee -a "${START}_soup$SUFFIX.log"
"$TF_PY" - "${START}_soup$SUFFIX/models/affective_cnn.metrics.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
for split in ("PublicTest", "PrivateTest"):
    r = m["int8"][split]
    print(f"INT8 {split}: one view {100 * r['accuracy']:.2f} %, mirror {100 * r['mirror_accuracy']:.2f} %")
EOF
