#!/usr/bin/env python3
"""How far ORT-web's WebGPU Softmax is off in fp16, emulated in NumPy (no GPU needed):

    softmax_fp16.py [--keys 1536,4608] [--rows 16] [--seed 0]

ORT's WebGPU Softmax (onnxruntime/core/providers/webgpu/math/softmax.cc) keeps the row max and
the row sum in the input's type: for fp16 scores, each of 64 threads sums every 64th exp in fp16,
then a tree adds the 64 partial sums in fp16. This script does the same arithmetic with NumPy's
float16 on random scores (scaled normals; FLUX's attention scores at a few temperatures) and
reports, against a float64 softmax: the largest error relative to the row's largest
probability, and the row sums' distance from 1 — beside the same softmax computed in fp32 and
rounded to fp16 (what an fp32 island gives) and bf16's rounding step (2^-8), the precision FLUX
is usually run in. tools/export/mixed_precision.py cites the result.
"""
import argparse
import json

import numpy as np


def ort_fp16_softmax(x, threads=64):
    """Softmax over the last axis with fp16 max, exp and sums, in ORT's WebGPU order."""
    x = x.astype(np.float16)
    e = np.exp((x - x.max(-1, keepdims=True)).astype(np.float16)).astype(np.float16)
    rows, cols = e.shape
    part = np.zeros((rows, threads), np.float16)
    for c in range(0, cols, threads):
        blk = e[:, c:c + threads]
        part[:, :blk.shape[1]] = (part[:, :blk.shape[1]] + blk).astype(np.float16)
    n = threads
    while n > 1:
        n //= 2
        part[:, :n] = (part[:, :n] + part[:, n:2 * n]).astype(np.float16)
    return (e / part[:, :1]).astype(np.float16)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", default="1536,4608")
    ap.add_argument("--rows", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    out = []
    for keys in (int(k) for k in args.keys.split(",")):
        for temp in (1.0, 3.0, 8.0):
            x = rng.standard_normal((args.rows, keys)) * temp
            ref = np.exp(x - x.max(-1, keepdims=True))
            ref /= ref.sum(-1, keepdims=True)
            fp16 = ort_fp16_softmax(x.astype(np.float32)).astype(np.float64)
            island = ref.astype(np.float32).astype(np.float16).astype(np.float64)
            rel = lambda a: float(np.abs(a - ref).max() / ref.max())
            row = {"keys": keys, "score_std": temp, "fp16_rel": rel(fp16),
                   "fp16_rowsum": float(np.abs(fp16.sum(-1) - 1).max()), "fp32_island_rel": rel(island),
                   "bf16_step": 2.0 ** -8}
            out.append(row)
            print(f"{keys} keys, scores x{temp:g}: fp16 softmax {row['fp16_rel']:.2e} (row sums off "
                  f"{row['fp16_rowsum']:.2e}), fp32 island {row['fp32_island_rel']:.2e}, bf16 step 3.9e-03")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
