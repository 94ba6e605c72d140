#!/usr/bin/env python3
"""PyTorch side of bench/webgpu_ceiling.ts: the same ops on the same GPU, CUDA events.

    webgpu_ceiling_torch.py '{"gemm": [[S, K, N], ...], "attention": [[S, H, D], ...],
                              "block": [[image tokens, text tokens, H, D], ...]}'

Prints one JSON object: {"device": name, "rows": [{op, shape, dtype, impl, ms}]}. GEMM is
x @ w + b (fp32 with TF32 off, and bf16); attention is written out (matmul, softmax, matmul)
and through F.scaled_dot_product_attention where torch has it; a block is one FLUX double block
as tools/export/flux_modules.py writes it (the exporter's module). Exits 2 without CUDA.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "export"))


def timed(fn, min_ms=200.0):
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    torch.cuda.synchronize()
    once = max(start.elapsed_time(end), 1e-3)
    reps = max(3, min(1000, int(min_ms / once)))
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / reps


def main():
    if not torch.cuda.is_available():
        print(json.dumps({"error": "no CUDA"}))
        sys.exit(2)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    spec = json.loads(sys.argv[1])
    rows = []
    for S, K, N in spec.get("gemm", []):
        for name, dt in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            x = torch.randn(S, K, device="cuda", dtype=dt)
            w = torch.randn(K, N, device="cuda", dtype=dt)
            b = torch.randn(N, device="cuda", dtype=dt)
            ms = timed(lambda: torch.addmm(b, x, w))
            rows.append({"op": "gemm", "shape": [S, K, N], "dtype": name, "impl": "torch.addmm", "ms": ms})
            del x, w, b
    sdpa = getattr(torch.nn.functional, "scaled_dot_product_attention", None)
    for S, H, D in spec.get("attention", []):
        for name, dt in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            q, k, v = (torch.randn(1, H, S, D, device="cuda", dtype=dt) for _ in range(3))
            scale = D ** -0.5
            ms = timed(lambda: torch.softmax((q @ k.transpose(-1, -2)) * scale, dim=-1) @ v)
            rows.append({"op": "attention", "shape": [S, H, D], "dtype": name, "impl": "matmul-softmax-matmul", "ms": ms})
            if sdpa:
                ms = timed(lambda: sdpa(q, k, v))
                rows.append({"op": "attention", "shape": [S, H, D], "dtype": name, "impl": "sdpa", "ms": ms})
            del q, k, v
    for Si, St, H, D in spec.get("block", []):
        from flux_modules import DoubleBlock
        dim = H * D
        for name, dt in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            with torch.no_grad():
                block = DoubleBlock(dim, H, D).to("cuda", dt).eval()
                x = torch.randn(1, Si, dim, device="cuda", dtype=dt)
                ctx = torch.randn(1, St, dim, device="cuda", dtype=dt)
                temb = torch.randn(1, dim, device="cuda", dtype=dt)
                cos, sin = (torch.randn(Si + St, D, device="cuda", dtype=dt) for _ in range(2))
                ms = timed(lambda: block(x, ctx, temb, cos, sin))
            rows.append({"op": "double block", "shape": [Si, St, H, D], "dtype": name,
                         "impl": "flux_modules.DoubleBlock", "ms": ms})
            del block, x, ctx
    print(json.dumps({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": rows}))


if __name__ == "__main__":
    main()
