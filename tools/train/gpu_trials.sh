#!/bin/bash
# Stop-13 GPU trial: three DiT trainings side by side on one CUDA GPU for MINUTES of wall
# clock each (the DiT is small, so they share the GPU), from checkpoint.pt as it was then
# (step 13,900; its autoencoder kept by all three). A record of that run: checkpoint.pt now
# holds the step-20,933 default, and run_all.sh replays the kept run (a) by step count.
#   a: the shipped 2.5M-parameter DiT continued with its phase-7 recipe, batch 128
#   b: a new, wider DiT (dim 192, 3 heads, depth 6) + text encoder (96 wide, 4 layers),
#      batch 128, lr 5e-4
#   c: the same wider model, batch 256, lr 7e-4
# Scenes are rendered on the GPU (scenes_torch.py). Checkpoints and logs go to $OUT, the
# ones over 15 MB in 15 MB parts (`cat ck_b.pt.* > ck_b.pt`).
set -u
cd "$(dirname "$0")"
OUT=${OUT:-/tmp/gpu_out}
M=${MINUTES:-7}
PY=${PY:-python3}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
$PY -c "import torch; print('torch', torch.__version__, torch.cuda.is_available())"
cp checkpoint.pt ck_a.pt
cp checkpoint.pt ck_b.pt
$PY train.py fresh --checkpoint ck_b.pt --dim 192 --heads 3 --depth 6 --txt-dim 96 --txt-layers 4
cp ck_b.pt ck_c.pt
COMMON="--device cuda --steps 1000000 --minutes $M --save-every 500 --threads 4 --sigma-shift 3
  --hi-min 0.7 --band-weight 4 --single-share 0.35"
$PY train.py dit --checkpoint ck_a.pt $COMMON --batch 128 --fresh 128 --lr 3e-4 --hi-share 0.6 \
  --full-share 0.7 --ema 0.995 --rewarm 100 --pairs pairs.pt --pair-share 0.5 > "$OUT/a.log" 2>&1 &
$PY train.py dit --checkpoint ck_b.pt $COMMON --batch 128 --fresh 128 --lr 5e-4 --hi-share 0.4 \
  --full-share 0.6 > "$OUT/b.log" 2>&1 &
$PY train.py dit --checkpoint ck_c.pt $COMMON --batch 256 --fresh 256 --lr 7e-4 --hi-share 0.4 \
  --full-share 0.6 > "$OUT/c.log" 2>&1 &
sleep 45
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
for r in a b c; do echo "== $r"; tail -n 3 "$OUT/$r.log"; done
wait
for r in a b c; do echo "== $r"; tail -n 4 "$OUT/$r.log"; done
cp ck_a.pt "$OUT/"
for r in b c; do split -b 15M ck_$r.pt "$OUT/ck_$r.pt."; done
ls -la "$OUT"
