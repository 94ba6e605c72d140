#!/bin/sh
# One command reproduces the default model (seeded; every stage resumes from checkpoint.pt,
# so a phase already past its step count is skipped).
set -e
cd "$(dirname "$0")"
PY=${PY:-/usr/bin/python3}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
$PY train.py ae --steps ${AE_STEPS:-1100} --batch 16
# phase 1: logit-normal sigmas, fresh scenes every step
$PY train.py dit --steps 3000 --batch 32 --save-every 50
# phase 2: sigmas shifted like the sampler's (h0 = 3), a replay ring for 128x128 scenes,
# learning rate falling linearly to 0.1x over the last steps
DIT_STEPS=${DIT_STEPS:-6000}
$PY train.py dit --steps $DIT_STEPS --batch 32 --save-every 50 --sigma-shift 3 --fresh 8 \
  --decay-from $((DIT_STEPS - 1500))
# phase 3: deepen the DiT (5 -> 8 blocks) and the text encoder (2 -> 3 layers) with new blocks
# that start as the identity, then continue at 45% full-resolution batches
$PY train.py grow --depth 8 --txt-layers 3
DIT3_STEPS=${DIT3_STEPS:-8600}
$PY train.py dit --steps $DIT3_STEPS --batch 32 --save-every 50 --sigma-shift 3 --fresh 8 \
  --full-share 0.45 --rewarm 200 --decay-from $((DIT3_STEPS - 1000))
# phase 4: 60% of the samples with sigma uniform in [0.7, 1], where the model lost shapes and
# places (tools/train/diagnose.py), half the batches at 128x128
DIT4_STEPS=${DIT4_STEPS:-10500}
$PY train.py dit --steps $DIT4_STEPS --batch 32 --save-every 50 --sigma-shift 3 --fresh 8 \
  --full-share 0.5 --hi-share 0.6 --hi-min 0.7 --rewarm 100 --decay-from $((DIT4_STEPS - 600))
# phase 5: the outline band of the caption's objects weighs 5x in the loss (a weight read from
# the caption alone, so the loss keeps its minimiser) and 60% of the scenes hold one object;
# the phase-4 model drew circles and squares alike. Two legs: all batches at 128x128 for the
# first 150 steps, then 70%, with a faster EMA so the export forgets the phase-4 weights.
DIT5_STEPS=${DIT5_STEPS:-12150}
P5="--batch 32 --save-every 50 --sigma-shift 3 --fresh 8 --hi-share 0.6 --hi-min 0.7 --rewarm 50
  --band-weight 4 --single-share 0.6 --replay 512"
$PY train.py dit --steps $((DIT4_STEPS + 150)) $P5 --full-share 1.0
$PY train.py dit --steps $DIT5_STEPS $P5 --full-share 0.7 --ema 0.995 \
  --decay-from $((DIT5_STEPS - 350))
# phase 6: the phase-5 model follows the shape word for one object but draws most objects of
# two- and three-object scenes round: the same loss with 35% one-object scenes
# (a flag given twice takes its later value: P6's --single-share and --rewarm replace P5's)
P6="$P5 --full-share 0.7 --ema 0.995 --single-share 0.35 --rewarm 100"
DIT6_STEPS=${DIT6_STEPS:-13200}
$PY train.py dit --steps $DIT6_STEPS $P6
# phase 7: resolution consistency. The phase-6 model samples 1024 teacher pairs (20 base
# steps at 128x128 from noise eps; the picture pooled to 64x64 and encoded, with eps's box
# sums / 2, RALU's anchored stage-1 noise); half of the 64x64 samples train on those pairs,
# so half-resolution sampling from a seed's anchored noise draws the seed's 128x128 picture
[ -f pairs.pt ] || $PY train.py pairs --count 1024 --batch 32 --steps 20 --single-share 0.35 \
  --out pairs.pt
DIT7_STEPS=${DIT7_STEPS:-13900}
$PY train.py dit --steps $DIT7_STEPS $P6 --pairs pairs.pt --pair-share 0.5 \
  --decay-from $((DIT7_STEPS - 300))
# phases 8 and 9 ran on a GPU machine (stop 13; DEVICE=cpu runs them here, tens of seconds a
# step): the phase-7 recipe at batch 128, with every scene rendered on the device
# (scenes_torch.py). Phase 8 keeps phase 7's pairs; phase 9 makes 1,024 new ones with the
# phase-8 model as the teacher and trains on them. On the GPU both ran on a wall-clock budget
# (gpu_trials.sh run a: 7.5 min, gpu_phase9.sh: 3 min, learning rate falling to 0.1x over
# the last quarter); the step counts below are where they ended and where the decay began.
DEVICE=${DEVICE:-$($PY -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")}
P8="$P6 --device $DEVICE --batch 128 --fresh 128 --save-every 250 --threads 4"
DIT8_STEPS=${DIT8_STEPS:-17517}
$PY train.py dit --steps $DIT8_STEPS $P8 --pairs pairs.pt --pair-share 0.5 --decay-from 16613
[ -f pairs9.pt ] || $PY train.py pairs --device $DEVICE --count 1024 --batch 64 --steps 20 \
  --single-share 0.35 --out pairs9.pt
DIT9_STEPS=${DIT9_STEPS:-20933}
$PY train.py dit --steps $DIT9_STEPS $P8 --pairs pairs9.pt --pair-share 0.5 --decay-from 20079
$PY train.py export --out ../../models/default
