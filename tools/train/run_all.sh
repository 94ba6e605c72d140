#!/bin/sh
# One command reproduces the default model (seeded; every stage resumes from checkpoint.pt).
set -e
cd "$(dirname "$0")"
PY=${PY:-/usr/bin/python3}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
$PY train.py ae --steps ${AE_STEPS:-400} --batch 16
$PY train.py dit --steps ${DIT_STEPS:-6000} --batch 32 --save-every 50
$PY train.py export --out ../../models/default
