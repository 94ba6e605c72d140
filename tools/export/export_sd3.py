#!/usr/bin/env python3
"""Export a Stable Diffusion 3 / 3.5 diffusers checkpoint to the ONNX layout the server loads.

    export_sd3.py SRC OUT [--components transformer,text_encoder,text_encoder_2,text_encoder_3,vae_decoder]
                  [--dtype fp32|fp16|both] [--max-file-mb 2000] [--fuse layernorm,rmsnorm,gelu,reshape]
    export_sd3.py --tiny OUT [--tokenizers DIR]

SRC is a diffusers folder (model_index.json naming StableDiffusion3Pipeline; `<component>/config.json`
+ `*.safetensors`, sharded allowed; F32/F16/BF16). SD3, SD3.5-Large (q/k RMS norm) and
SD3.5-Medium (dual attention) transformers. T5 (`text_encoder_3`) may be left out: the server
then feeds zeros in its place, as diffusers does.

The transformer is exported at token level (tools/export/sd3_modules.py): inputs hidden_states
[B, N, p*p*C] (patch tokens, (dy, dx, c) order), encoder_hidden_states [B, L, joint dim],
pooled_projections [B, P], timestep [B] in scheduler units (0..1000), positions [N, 2] float
(row, col) in the position table's index space (the run's centre-crop offset added); output
out_hidden_states [B, N, p*p*C] in the same layout. The graph evaluates the sin-cos formula at
the positions; the checkpoint's stored table is checked against that formula (a warning says
where they differ). The CLIP encoders output last_hidden_state, text_embeds (projected pooled)
and penultimate_hidden_state. Norms and GELUs are fused as for FLUX (tools/export/fuse_graph.py); `--dtype fp16` / `both`
write the transformer as model_fp16.onnx (fp16 with fp32 islands, tools/export/mixed_precision.py).
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_flux import (copy_extras, dispatch, export_module, fit_preview, graph_name, load_module,  # noqa: E402
                         parser, precisions, write_preview)
from sd3_modules import COMPONENTS, sincos_table  # noqa: E402

ALL = ["transformer", "text_encoder", "text_encoder_2", "text_encoder_3", "vae_decoder"]


def example(comp, cfg):
    """Example inputs, output names and dynamic axes of one SD3 component."""
    if comp == "transformer":
        n, L, p = 12, 7, cfg.get("patch_size", 2)
        inputs = {
            "hidden_states": torch.randn(1, n, p * p * cfg.get("in_channels", 16)),
            "encoder_hidden_states": torch.randn(1, L, cfg["joint_attention_dim"]),
            "pooled_projections": torch.randn(1, cfg["pooled_projection_dim"]),
            "timestep": torch.tensor([500.0]),
            "positions": torch.rand(n, 2) * 8,
        }
        axes = {"hidden_states": {0: "B", 1: "n"}, "encoder_hidden_states": {0: "B", 1: "L"},
                "pooled_projections": {0: "B"}, "timestep": {0: "B"}, "positions": {0: "n"},
                "out_hidden_states": {0: "B", 1: "n"}}
        return inputs, ["out_hidden_states"], axes
    if comp in ("text_encoder", "text_encoder_2"):
        inputs = {"input_ids": torch.randint(0, cfg["vocab_size"], (1, 12))}
        axes = {"input_ids": {0: "B", 1: "S"}, "last_hidden_state": {0: "B", 1: "S"},
                "text_embeds": {0: "B"}, "penultimate_hidden_state": {0: "B", 1: "S"}}
        return inputs, ["last_hidden_state", "text_embeds", "penultimate_hidden_state"], axes
    if comp == "text_encoder_3":
        inputs = {"input_ids": torch.randint(0, cfg["vocab_size"], (1, 12))}
        return inputs, ["last_hidden_state"], {"input_ids": {0: "B", 1: "S"}, "last_hidden_state": {0: "B", 1: "S"}}
    inputs = {"latent_sample": torch.randn(1, cfg["latent_channels"], 4, 4)}
    return inputs, ["sample"], {"latent_sample": {0: "B", 2: "h", 3: "w"}, "sample": {0: "B", 2: "H", 3: "W"}}


def check_table(module, cfg):
    """Compares the checkpoint's stored position table with the formula the graph evaluates."""
    stored = module.pos_embed.pos_embed[0].double()
    p = cfg.get("patch_size", 2)
    want = sincos_table(stored.shape[1], cfg["pos_embed_max_size"], cfg.get("sample_size", 128) // p).double()
    # a table stored in 16 bits is the formula rounded: differences within that rounding are not
    # a different table (bf16 keeps 8 significant bits, fp16 11)
    bits = next((b for b in (8, 11) if torch.equal(stored, rounded(stored, b))), 24)
    slack = (want.abs() * 2.0 ** -bits + 1e-6) if bits < 24 else torch.full_like(want, 1e-4)
    off = ((stored - want).abs() > slack).any(dim=1).reshape(cfg["pos_embed_max_size"], -1)
    worst = float((stored - want).abs().max())
    if off.any():
        r, c = (int(v) for v in off.nonzero()[0])
        print(f"WARNING transformer: the stored position table differs from the sin-cos formula at "
              f"{int(off.sum())} of {off.numel()} positions (first at row {r}, col {c}; worst |diff| {worst:.3g}); "
              f"the export evaluates the formula, so its outputs will differ from the checkpoint's there", flush=True)
    return int(off.sum())


def rounded(t, bits):
    """t rounded to `bits` significant bits (8: bfloat16, 11: float16), to the nearest."""
    m, e = torch.frexp(t)
    return torch.ldexp(torch.round(m * 2.0 ** bits) / 2.0 ** bits, e)


def export_component(src, out, comp, dtype, max_bytes, fuse_forms):
    module, cfg = load_module(src, comp, COMPONENTS)
    if comp != "transformer":
        # text encoders and the VAE run once per image and stay fp32
        export_module(module, cfg, comp, out, "fp32", max_bytes, fuse_forms=fuse_forms, example=example(comp, cfg))
    else:
        check_table(module, cfg)
        for dt in precisions(dtype):
            export_module(module, cfg, comp, out, dt, max_bytes, fuse_forms=fuse_forms, example=example(comp, cfg),
                          name=graph_name(dt))
    if comp == "vae_decoder":
        write_preview(out, fit_preview(module, cfg))


def run(src, args, comps):
    index = os.path.join(src, "model_index.json")
    if os.path.exists(index):
        with open(index) as f:
            cls = json.load(f).get("_class_name", "")
        if "StableDiffusion3" not in cls:
            raise SystemExit(f"{index}: {cls!r} is not a StableDiffusion3Pipeline")
    forms = [f for f in args.fuse.split(",") if f]
    for comp in comps:
        if comp == "text_encoder_3" and not os.path.isdir(os.path.join(src, comp)):
            print("text_encoder_3: not in the checkpoint; the server will feed zeros for T5", flush=True)
            continue
        export_component(src, args.out, comp, args.dtype, int(args.max_file_mb * 2**20), forms)
    copy_extras(src, args.out, ("scheduler", "tokenizer", "tokenizer_2", "tokenizer_3"))


def main():
    ap = parser(__doc__, ALL, "--tiny: folder with clip-l/, clip-g-sd3/, t5-v1_1-xxl-sd3/")
    args = ap.parse_args()
    import sd3_tiny
    dispatch(ap, args, ALL, run, lambda src: sd3_tiny.write(src, tokenizers=args.tokenizers), sd3_tiny.RALU_JSON)


if __name__ == "__main__":
    main()
