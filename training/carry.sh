#!/usr/bin/env bash
# A training run that spans working sessions, carried in the repository.
#
#   training/carry.sh save    training/out/emotion_d5_run6   # at the end of a session, then commit
#   training/carry.sh restore training/out/emotion_d5_run6   # in a new checkout, before resuming
#
# training/out/ is scratch (ignored), and a session may start from a fresh clone, so a run that
# is still going keeps what it needs to resume in training/carry/<run>/: the last epoch's
# checkpoint (weights, EMA, optimizer, RNG, schedule), the selected weights, the cached targets
# and the log. Rerunning the run's own command then resumes after its last finished epoch.
# A finished run (result.json written) is carried without its optimizer state and EMA copy: what
# follows it (fine-tunes, soup) takes only best.pt and the last raw weights. Delete the carried
# folder once the run is exported.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:?save or restore}
run=${2:?a run folder under training/out}
name=$(basename "$run")
carried=training/carry/$name
files=(ckpt.pt best.pt targets.npz distill.log train.log result.json)
case $what in
  save)
    mkdir -p "$carried"
    for f in "${files[@]}"; do [ ! -e "$run/$f" ] || cp -p "$run/$f" "$carried/"; done
    if [ -e "$run/result.json" ]; then
        "${TF_PY:-python}" - "$carried/ckpt.pt" <<'EOF'
import sys, torch
ck = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
for key in ("opt", "ema"):  # the soup takes only the last raw weights of a finished start
    ck.pop(key, None)
torch.save(ck, sys.argv[1])
EOF
    fi
    du -sh "$carried" ;;
  restore)
    [ -d "$carried" ] || { echo "nothing carried for $name" >&2; exit 1; }
    mkdir -p "$run"
    for f in "${files[@]}"; do [ ! -e "$carried/$f" ] || cp -p "$carried/$f" "$run/"; done
    tail -n 1 "$run/train.log" ;;
  *) echo "usage: $0 save|restore RUN_DIR" >&2; exit 2 ;;
esac
