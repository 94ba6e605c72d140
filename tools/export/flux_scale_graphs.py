#!/usr/bin/env python3
"""FLUX-width transformer graphs for the GPU timing check (bench/flux_scale.ts).

    flux_scale_graphs.py OUT [--heads 24] [--head-dim 128] [--axes 16,56,56] [--dtype fp32|fp16]
                         [--fuse layernorm,rmsnorm,gelu,reshape] [--split] [--attention matmul|mha]

Writes OUT/d1s1, OUT/d2s1, OUT/d1s2 (double/single block counts): FluxTransformer2DModel
graphs at FLUX.1's width (hidden 3072, 24 heads, RoPE axes 16/56/56, T5 width 4096, CLIP 768,
guidance embeds) whose data files are left sparse (right size, zeros): timing does not depend
on the weights' values, so only the small graph files need to travel. Differences between the
variants give the cost of one double and one single block per step. `--split` writes the
exporter's step graphs (the run's conditioning and the stage's RoPE tables as inputs, as
export_flux.py writes them by default), so "the rest of an evaluation" is what a step still does.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_flux import export_module, split_examples  # noqa: E402
from flux_modules import FluxTransformer, set_export_form  # noqa: E402
import tiny_checkpoint  # noqa: E402

VARIANTS = {"d1s1": (1, 1), "d2s1": (2, 1), "d1s2": (1, 2)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--heads", type=int, default=24)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--axes", default="16,56,56")
    ap.add_argument("--context-dim", type=int, default=4096)
    ap.add_argument("--pooled-dim", type=int, default=768)
    ap.add_argument("--dtype", choices=["fp32", "fp16"], default="fp32")
    ap.add_argument("--fuse", default="", help="fused forms (tools/export/fuse_graph.py); '' = plain")
    ap.add_argument("--split", action="store_true", help="step graphs (see above)")
    ap.add_argument("--attention", choices=["matmul", "mha"], default="matmul",
                    help="MatMul-Softmax-MatMul or one com.microsoft MultiHeadAttention per block")
    args = ap.parse_args()
    axes = tuple(int(a) for a in args.axes.split(","))
    for name, (double, single) in VARIANTS.items():
        cfg = tiny_checkpoint.transformer_config(
            True, heads=args.heads, head_dim=args.head_dim, axes=axes, double=double,
            single=single, context_dim=args.context_dim, pooled_dim=args.pooled_dim)
        with torch.no_grad():
            module = FluxTransformer(cfg).eval()
        set_export_form(module, mha=args.attention == "mha", fp16=args.dtype == "fp16")
        example = None
        if args.split:
            module.forward = module.step
            example = split_examples(cfg, True)[0]
        export_module(module, cfg, "transformer", os.path.join(args.out, name), args.dtype,
                      2000 * 2**20, skip_weights=True,
                      fuse_forms=[f for f in args.fuse.split(",") if f], example=example)
        del module


if __name__ == "__main__":
    main()
