#!/usr/bin/env python3
"""PyTorch side of bench/flux_scale.ts: one FLUX double and one single block, the exporter's own
modules (tools/export/flux_modules.py: attention written out as matmul-softmax-matmul), at
FLUX.1's width, timed on the same GPU.

    flux_blocks_torch.py '{"tokens": [1024, 1636, 1945, 4096], "text": 512}' [--device cuda|cpu]
                         [--dtypes fp32,bf16] [--width 24x128]

Prints one JSON object: {"device", "torch", "rows": [{block, tokens, text, dtype, ms}]}. fp32
runs with TF32 off. Exits 2 when the device is not there.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "export"))
from flux_modules import DoubleBlock, SingleBlock, rope  # noqa: E402


def timed(fn, device, min_ms=200.0):
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    fn()
    sync()
    t = time.perf_counter()
    fn()
    sync()
    once = max((time.perf_counter() - t) * 1000, 1e-3)
    reps = max(2, min(200, int(min_ms / once)))
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    sync()
    return (time.perf_counter() - t) * 1000 / reps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("spec")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtypes", default="fp32,bf16")
    ap.add_argument("--width", default="24x128", help="heads x head dim")
    a = ap.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"error": "no CUDA"}))
        sys.exit(2)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    spec = json.loads(a.spec)
    heads, head_dim = (int(v) for v in a.width.split("x"))
    dim = heads * head_dim
    a0 = head_dim // 8 // 2 * 2
    a1 = (head_dim - a0) // 4 * 2
    axes = [a0, a1, head_dim - a0 - a1]  # FLUX's 128: 16, 56, 56
    rows = []
    for name in a.dtypes.split(","):
        dt = {"fp32": torch.float32, "bf16": torch.bfloat16}[name]
        with torch.no_grad():
            double = DoubleBlock(dim, heads, head_dim).to(a.device, dt).eval()
            single = SingleBlock(dim, heads, head_dim).to(a.device, dt).eval()
            for n in spec["tokens"]:
                L = spec["text"]
                x = torch.randn(1, n, dim, device=a.device, dtype=dt)
                ctx = torch.randn(1, L, dim, device=a.device, dtype=dt)
                temb = torch.randn(1, dim, device=a.device, dtype=dt)
                ids = torch.rand(L + n, 3, device=a.device) * 64
                cos, sin = (t.to(dt) for t in rope(ids, axes))
                joint = torch.cat([ctx, x], dim=1)
                ms_d = timed(lambda: double(x, ctx, temb, cos, sin), a.device)
                ms_s = timed(lambda: single(joint, temb, cos, sin), a.device)
                rows.append({"block": "double", "tokens": n, "text": L, "dtype": name, "ms": ms_d})
                rows.append({"block": "single", "tokens": n, "text": L, "dtype": name, "ms": ms_s})
        del double, single
    dev = torch.cuda.get_device_name() if a.device == "cuda" else "cpu"
    print(json.dumps({"device": dev, "torch": torch.__version__, "rows": rows}))


if __name__ == "__main__":
    main()
