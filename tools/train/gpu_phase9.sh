#!/bin/bash
# Phase 9 on a CUDA GPU, from the phase-8 checkpoint (gpu_trials.sh run a, step 17,517):
# 1,024 teacher pairs from that model (as phase 7's, its own pictures now), then MINUTES of
# wall clock of the phase-7/8 recipe on them. The checkpoint is trained in $OUT/ck9.pt.
# A record of the stop-13 run (checkpoint.pt was then that step-17,517 model; run_all.sh
# replays phase 9 by step count).
set -eu
cd "$(dirname "$0")"
OUT=${OUT:-/tmp/gpu_out}
M=${MINUTES:-3}
PY=${PY:-python3}
mkdir -p "$OUT"
cp checkpoint.pt "$OUT/ck9.pt"
$PY train.py pairs --device cuda --checkpoint "$OUT/ck9.pt" --count 1024 --batch 64 --steps 20 \
  --single-share 0.35 --out "$OUT/pairs9.pt"
$PY train.py dit --device cuda --checkpoint "$OUT/ck9.pt" --steps 1000000 --minutes "$M" \
  --save-every 250 --threads 4 --sigma-shift 3 --hi-min 0.7 --band-weight 4 --single-share 0.35 \
  --batch 128 --fresh 128 --lr 3e-4 --hi-share 0.6 --full-share 0.7 --ema 0.995 --rewarm 100 \
  --pairs "$OUT/pairs9.pt" --pair-share 0.5
