#!/bin/bash
# One device call's worth of GPU measurements (the lent H200: ../shared/GPU.md). After the staging
# calls that recipe prints, the last call runs, e.g.:
#   bash .gpu/3/stage.sh && export DENO_DIR=/opt/gpu-deps/denodir && bash bench/gpu_session.sh
# Each part is bounded (seconds, overridable) and writes its JSON and log under $OUT as it goes,
# so a part that runs out of time still leaves the others' results.
# A device call sends the working tree (tracked + untracked-not-ignored files) plus what it
# carries, at most 64 MiB: the tree is ~56 MiB (2026-12-05; `git ls-files -z | du -cb
# --files0-from=- | tail -1`), so pack.sh cuts its payload into ~6 MiB parts, one call each.
# The parts run in the order of what #23 needs most, so a call cut short (the device budget is
# 15 minutes in all, the machine's start and the staging calls included) keeps the most:
#   1. bench/flux_scale.ts on the FLUX-width step graphs as export_flux.py writes them (fused
#      norms and GELUs; conditioning and RoPE tables outside the step) in fp16 with fp32 islands
#      (flux_scale_split16), PyTorch fp32/bf16 blocks beside them when torch has CUDA
#   2. the same in fp32 (flux_scale_split)
#   3. bench/webgpu_ceiling.ts --tune: ORT's block against the sum of its own MatMuls and
#      attention; our WGSL GEMM, attention and double block vs ORT-web vs PyTorch
#   4. the fp16 step graphs again with Deno's decimal vendor id (RALU_RAW_VENDOR=1): what
#      ORT-web's vendor-specific choices change when it sees "nvidia" (src/gpu/vendor.ts)
set -u
OUT=${OUT:-/tmp/gpu-session}
mkdir -p "$OUT"
T_SCALE=${T_SCALE:-110}
T_VENDOR=${T_VENDOR:-90}
T_CEILING=${T_CEILING:-260}
SIZE=${SIZE:-1024}
part() { # name seconds command...
  local name=$1 secs=$2
  shift 2
  echo "== $name (≤ ${secs} s)"
  timeout "$secs" "$@" > "$OUT/$name.log" 2>&1
  echo "   exit $? — $(tail -n 3 "$OUT/$name.log" | tr '\n' ' ' | cut -c1-300)"
}
part flux_scale_split16 "$T_SCALE" deno run -A bench/flux_scale.ts --size "$SIZE" --repeat 3 \
  --graphs bench/flux_scale_split16 --out "$OUT/flux_scale_split16.json"
part flux_scale_split "$T_SCALE" deno run -A bench/flux_scale.ts --size "$SIZE" --repeat 3 \
  --graphs bench/flux_scale_split --out "$OUT/flux_scale_split.json"
part webgpu_ceiling "$T_CEILING" deno run -A bench/webgpu_ceiling.ts --tune \
  --out "$OUT/webgpu_ceiling.json"
RALU_RAW_VENDOR=1 part flux_scale_split16_raw_vendor "$T_VENDOR" deno run -A bench/flux_scale.ts \
  --size "$SIZE" --repeat 2 --graphs bench/flux_scale_split16 --out "$OUT/flux_scale_split16_raw_vendor.json"
