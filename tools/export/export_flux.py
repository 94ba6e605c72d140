#!/usr/bin/env python3
"""Export a FLUX.1 diffusers checkpoint to the ONNX layout the server loads.

    export_flux.py SRC OUT [--components transformer,text_encoder,text_encoder_2,vae_decoder]
                   [--dtype fp32|fp16|both] [--max-file-mb 2000] [--fuse layernorm,rmsnorm,gelu,reshape]
                   [--whole-step]
    export_flux.py --tiny OUT [--tokenizers DIR] [--guidance | --no-guidance]

SRC is a diffusers folder (`<component>/config.json` + `*.safetensors`, sharded
`*.safetensors.index.json` allowed; F32/F16/BF16). OUT gets `<component>/model.onnx` with its
weights in `model.onnx_data[_k]` files under --max-file-mb each, the component configs, and
SRC's `model_index.json`, `scheduler/`, `tokenizer/`, `tokenizer_2/` when present.

The transformer is written as a step graph and its conditioning graph. `conditioning.onnx`
(fp32, run once per request) takes encoder_hidden_states, pooled_projections (and guidance when
the config has guidance embeds) and returns context (the embedded text) and vec (pooled text +
guidance embedding). The step graph `model.onnx` takes hidden_states [B,n,C], context, vec,
timestep [B] and the RoPE tables rope_cos / rope_sin [L+n, head_dim] (the server computes them
per stage) and returns out_hidden_states. `--whole-step` writes one graph in Optimum's form
instead (hidden_states, encoder_hidden_states, pooled_projections, timestep, img_ids [n,3],
txt_ids [L,3], guidance). `--dtype fp16` writes the transformer as `model_fp16.onnx`, fp16 with
fp32 islands (tools/export/mixed_precision.py), `both` writes both; the other components stay
fp32. Norms and tanh GELUs are fused into one operator each (tools/export/fuse_graph.py;
`--fuse ''` keeps the plain export), and the transformer gets TeaCache's indicator graph beside
it (`indicator.onnx`). `--tiny` writes a random-weight miniature of the whole pipeline (with the
real CLIP-L and T5 tokenizers) and exports it.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper, TensorProto
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flux_modules import COMPONENTS, set_export_form  # noqa: E402
import safetensors_io  # noqa: E402
from fuse_graph import fuse  # noqa: E402
from mixed_precision import to_mixed_fp16  # noqa: E402
from indicator_graph import FLUX_TENSOR, write_indicator  # noqa: E402

ALL = ["transformer", "text_encoder", "text_encoder_2", "vae_decoder"]
SOURCE = {"vae_decoder": "vae"}  # output component → diffusers folder
OPSET = 16  # torch 1.13 writes opset 17 LayerNormalization without weight as invalid


def load_module(src, comp, components=COMPONENTS):
    folder = os.path.join(src, SOURCE.get(comp, comp))
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    module = components[SOURCE.get(comp, comp)](cfg)
    tensors = safetensors_io.read_folder(folder)
    own = module.state_dict()
    if comp == "vae_decoder":  # the encoder half is not exported
        tensors = {k: v for k, v in tensors.items() if not k.startswith(("encoder.", "quant_conv."))}
    if "encoder.embed_tokens.weight" in tensors and "shared.weight" in own:
        tensors.pop("encoder.embed_tokens.weight")  # tied to shared.weight
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    if missing or unexpected:
        raise SystemExit(f"{folder}: checkpoint does not match the config: missing {missing[:5]}"
                         f" unexpected {unexpected[:5]}")
    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in tensors.items()})
    return module.eval(), cfg


def dummy(comp, module, cfg):
    """Example inputs, names and dynamic axes of one component."""
    if comp == "transformer":
        n, L = 16, 8
        dim = cfg["joint_attention_dim"]
        inputs = {
            "hidden_states": torch.randn(1, n, cfg.get("in_channels", 64)),
            "encoder_hidden_states": torch.randn(1, L, dim),
            "pooled_projections": torch.randn(1, cfg["pooled_projection_dim"]),
            "timestep": torch.tensor([0.5]),
            "img_ids": torch.rand(n, 3) * 4,
            "txt_ids": torch.zeros(L, 3),
        }
        if module.guidance:
            inputs["guidance"] = torch.tensor([3.5])
        axes = {"hidden_states": {0: "B", 1: "n"}, "encoder_hidden_states": {0: "B", 1: "L"},
                "pooled_projections": {0: "B"}, "timestep": {0: "B"}, "img_ids": {0: "n"},
                "txt_ids": {0: "L"}, "guidance": {0: "B"}, "out_hidden_states": {0: "B", 1: "n"}}
        return inputs, ["out_hidden_states"], axes
    if comp in ("text_encoder", "text_encoder_2"):
        inputs = {"input_ids": torch.randint(0, cfg["vocab_size"], (1, 12))}
        outs = ["last_hidden_state", "pooler_output"] if comp == "text_encoder" else ["last_hidden_state"]
        axes = {"input_ids": {0: "B", 1: "S"}, "last_hidden_state": {0: "B", 1: "S"},
                "pooler_output": {0: "B"}}
        return inputs, outs, axes
    inputs = {"latent_sample": torch.randn(1, cfg["latent_channels"], 4, 4)}
    axes = {"latent_sample": {0: "B", 2: "h", 3: "w"}, "sample": {0: "B", 2: "H", 3: "W"}}
    return inputs, ["sample"], axes


def save_with_data(model, out_dir, max_bytes, skip_weights=False, name="model.onnx"):
    """`name` with every initializer over 1 KiB in data files `<name>_data[_k]` of at most max_bytes
    each (with skip_weights the data files are left sparse: right size, all zeros, no disk)."""
    os.makedirs(out_dir, exist_ok=True)
    files, cur, size = [], None, 0
    for init in model.graph.initializer:
        raw = init.raw_data or numpy_helper.to_array(init).tobytes()
        if len(raw) < 1024:
            continue
        if cur is None or (size + len(raw) > max_bytes and size > 0):
            data = name + "_data" + (f"_{len(files)}" if files else "")
            cur = open(os.path.join(out_dir, data), "wb")
            files.append((data, cur))
            size = 0
        pad = -size % 64
        size += pad
        if skip_weights:
            cur.seek(size + len(raw))
        else:
            cur.seek(size)
            cur.write(raw)
        del init.external_data[:]
        init.ClearField("raw_data")
        for field in ("float_data", "int64_data", "int32_data", "double_data"):
            init.ClearField(field)
        init.data_location = TensorProto.EXTERNAL
        for k, v in (("location", files[-1][0]), ("offset", str(size)), ("length", str(len(raw)))):
            e = init.external_data.add()
            e.key, e.value = k, v
        size += len(raw)
    for _, f in files:
        f.truncate()
        f.close()
    onnx.save_model(model, os.path.join(out_dir, name))
    return [n for n, _ in files]


def split_examples(cfg, guidance):
    """Example inputs of the step graph and of the conditioning graph (see export_component)."""
    n, L = 16, 8
    dim = cfg["num_attention_heads"] * cfg["attention_head_dim"]
    step = {
        "hidden_states": torch.randn(1, n, cfg.get("in_channels", 64)),
        "context": torch.randn(1, L, dim),
        "vec": torch.randn(1, dim),
        "timestep": torch.tensor([0.5]),
        "rope_cos": torch.rand(L + n, cfg["attention_head_dim"]),
        "rope_sin": torch.rand(L + n, cfg["attention_head_dim"]),
    }
    step_axes = {"hidden_states": {0: "B", 1: "n"}, "context": {0: "B", 1: "L"}, "vec": {0: "B"},
                 "timestep": {0: "B"}, "rope_cos": {0: "S"}, "rope_sin": {0: "S"},
                 "out_hidden_states": {0: "B", 1: "n"}}
    cond = {"encoder_hidden_states": torch.randn(1, L, cfg["joint_attention_dim"]),
            "pooled_projections": torch.randn(1, cfg["pooled_projection_dim"])}
    if guidance:
        cond["guidance"] = torch.tensor([3.5])
    cond_axes = {"encoder_hidden_states": {0: "B", 1: "L"}, "pooled_projections": {0: "B"}, "guidance": {0: "B"},
                 "context": {0: "B", 1: "L"}, "vec": {0: "B"}}
    return (step, ["out_hidden_states"], step_axes), (cond, ["context", "vec"], cond_axes)


def precisions(dtype):
    """The transformer graphs `--dtype` asks for, in export order."""
    return ["fp32", "fp16"] if dtype == "both" else [dtype]


def graph_name(dtype, name="model.onnx"):
    """model.onnx (fp32), model_fp16.onnx (fp16 with fp32 islands, tools/export/mixed_precision.py)."""
    return name if dtype == "fp32" else name.replace(".onnx", "_fp16.onnx")


def export_component(src, out, comp, dtype, max_bytes, fuse_forms=None, whole_step=False, attention="matmul"):
    module, cfg = load_module(src, comp)
    if comp != "transformer":
        # text encoders and the VAE run once per image and stay fp32 (T5 overflows in fp16)
        export_module(module, cfg, comp, out, "fp32", max_bytes, fuse_forms=fuse_forms)
    else:
        # a step graph takes the run's conditioning and the stage's RoPE tables as inputs;
        # conditioning.onnx (fp32, once per run) computes the former, the server the latter
        step, cond = split_examples(cfg, module.guidance)
        for dt in precisions(dtype):
            set_export_form(module, mha=attention == "mha", fp16=dt == "fp16")
            if not whole_step:
                module.forward = module.step
            export_module(module, cfg, comp, out, dt, max_bytes, fuse_forms=fuse_forms,
                          example=None if whole_step else step, name=graph_name(dt))
        if not whole_step:
            module.forward = module.conditioning
            export_module(module, cfg, comp, out, "fp32", max_bytes, example=cond, name="conditioning.onnx")
        # TeaCache's indicator, cut from the exported DiT (src/samplers/tea_cache.ts)
        g = ["guidance"] if cfg.get("guidance_embeds") else []
        inputs = ["hidden_states", "pooled_projections", "timestep"] + g if whole_step else \
            ["hidden_states", "vec", "timestep"]
        write_indicator(os.path.join(out, comp, graph_name(precisions(dtype)[0])),
                        os.path.join(out, comp, "indicator.onnx"), FLUX_TENSOR, inputs)
    if comp == "vae_decoder":
        write_preview(out, fit_preview(module, cfg))


def fit_preview(vae, cfg, samples=32, size=8, seed=0):
    """The 3 x (C + 1) map from a model-space latent pixel to the RGB in [-1, 1] its VAE decodes
    it to (averaged over the pixel's footprint): least squares over random latents. The server's
    previews apply it to each step's clean estimate, with no decode."""
    g = torch.Generator().manual_seed(seed)
    C = cfg["latent_channels"]
    x = torch.randn(samples, C, size, size, generator=g)
    with torch.no_grad():
        img = vae(x / (cfg.get("scaling_factor") or 1.0) + (cfg.get("shift_factor") or 0.0))
    f = img.shape[-1] // size
    rgb = torch.nn.functional.avg_pool2d(img, f)  # [S, 3, size, size]
    A = torch.cat([x.permute(0, 2, 3, 1).reshape(-1, C), torch.ones(samples * size * size, 1)], 1)
    Y = rgb.permute(0, 2, 3, 1).reshape(-1, 3)
    W = torch.linalg.lstsq(A.double(), Y.double()).solution  # [C + 1, 3]
    return W.T.tolist()


def write_preview(out, weights):
    """Puts the fitted projection into OUT/ralu.json (other keys kept)."""
    path = os.path.join(out, "ralu.json")
    ours = {}
    if os.path.exists(path):
        with open(path) as f:
            ours = json.load(f)
    ours["preview"] = {"weights": [[round(v, 6) for v in row] for row in weights],
                       "fitted": "least squares of the VAE's decoded colours on random latents"}
    with open(path, "w") as f:
        json.dump(ours, f, indent=2)


def export_module(module, cfg, comp, out, dtype, max_bytes, skip_weights=False, fuse_forms=None,
                  example=None, name="model.onnx"):
    """`example`: (inputs, output names, dynamic axes) where not FLUX's (`dummy`); `name`: the
    graph's file in OUT/comp."""
    inputs, outputs, axes = example or dummy(comp, module, cfg)
    names = list(inputs)
    # ORT's operators (com.microsoft) only where the module emits one (--attention mha)
    ms = {"com.microsoft": 1} if any(getattr(m, "mha", False) for m in module.modules()) else {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        with torch.no_grad():
            torch.onnx.export(module, tuple(inputs.values()), path, input_names=names,
                              output_names=outputs, opset_version=OPSET, custom_opsets=ms,
                              dynamic_axes={k: v for k, v in axes.items() if k in names + outputs},
                              do_constant_folding=True)
        model = onnx.load(path, load_external_data=True)
    if fuse_forms:
        # one kernel per norm and GELU on the WebGPU EP (tools/export/fuse_graph.py)
        width = cfg.get("num_attention_heads", 0) * cfg.get("attention_head_dim", 0) or None
        print(f"{comp}: fused {fuse(model, fuse_forms, width)}", flush=True)
    if dtype == "fp16":
        print(f"{comp}: fp16 {to_mixed_fp16(model)}", flush=True)
    model.producer_name = "ralu tools/export/export_flux.py"
    target = os.path.join(out, comp)
    data = save_with_data(model, target, max_bytes, skip_weights, name)
    with open(os.path.join(target, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    try:
        onnx.checker.check_model(os.path.join(target, name))
    except onnx.checker.ValidationError as e:
        # ORT's SimplifiedLayerNormalization sits in the ONNX domain, unknown to the checker
        if "SimplifiedLayerNormalization" not in str(e):
            raise
    total = sum(os.path.getsize(os.path.join(target, n)) for n in data)
    print(f"{comp}: {target}/{name} + {len(data)} data file(s), {total / 2**20:.1f} MiB", flush=True)


def copy_extras(src, out, folders=("scheduler", "tokenizer", "tokenizer_2")):
    if os.path.exists(os.path.join(src, "model_index.json")):
        shutil.copy(os.path.join(src, "model_index.json"), os.path.join(out, "model_index.json"))
    for folder in folders:
        if os.path.isdir(os.path.join(src, folder)):
            shutil.copytree(os.path.join(src, folder), os.path.join(out, folder), dirs_exist_ok=True)


def parser(doc, components, tokenizers_help):
    """The arguments every exporter takes (FLUX's here, SD3's in export_sd3.py)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", nargs="?", help="diffusers checkpoint folder")
    ap.add_argument("out")
    ap.add_argument("--components", default=",".join(components))
    ap.add_argument("--dtype", choices=["fp32", "fp16", "both"], default="fp32",
                    help="the transformer's graphs: model.onnx (fp32), model_fp16.onnx (fp16 with fp32 "
                         "islands), or both; the server picks per GPU (--precision)")
    ap.add_argument("--max-file-mb", type=float, default=2000.0, help="largest data file (MiB)")
    ap.add_argument("--tiny", action="store_true", help="export a random-weight miniature")
    ap.add_argument("--tokenizers", default=None, help=tokenizers_help)
    ap.add_argument("--fuse", default="layernorm,rmsnorm,gelu,reshape",
                    help="fused forms (tools/export/fuse_graph.py), '' for the plain export")
    return ap


def dispatch(ap, args, components, run, write_tiny, ralu_json):
    """Checks the components, then exports SRC, or with --tiny a miniature `write_tiny(dir)` makes
    (and puts `ralu_json` into OUT/ralu.json)."""
    comps = [c for c in args.components.split(",") if c]
    bad = [c for c in comps if c not in components]
    if bad:
        ap.error(f"unknown components {bad}; choose from {components}")
    os.makedirs(args.out, exist_ok=True)
    if args.tiny:
        with tempfile.TemporaryDirectory() as src:
            write_tiny(src)
            run(src, args, comps)
        path = os.path.join(args.out, "ralu.json")
        ours = json.load(open(path)) if os.path.exists(path) else {}
        ours.update(ralu_json)
        with open(path, "w") as f:
            json.dump(ours, f, indent=2)
        return
    if not args.src:
        ap.error("SRC is required without --tiny")
    run(args.src, args, comps)


def main():
    ap = parser(__doc__, ALL, "--tiny: folder with clip-l/ and t5-v1_1-xxl/")
    ap.add_argument("--no-guidance", action="store_true", help="--tiny: schnell-like, no guidance embeds")
    ap.add_argument("--attention", choices=["matmul", "mha"], default="matmul",
                    help="attention as MatMul-Softmax-MatMul (default: the faster in fp16 on the H200 "
                         "at 1536 and 4608 tokens, issue #23) or one com.microsoft MultiHeadAttention")
    ap.add_argument("--whole-step", action="store_true",
                    help="one transformer graph per step (Optimum's form): the text embedding, the pooled "
                         "and guidance embedding and RoPE computed inside every step")
    args = ap.parse_args()
    import tiny_checkpoint
    dispatch(ap, args, ALL, run,
             lambda src: tiny_checkpoint.write(src, guidance=not args.no_guidance, tokenizers=args.tokenizers),
             tiny_checkpoint.RALU_JSON)


def run(src, args, comps):
    for comp in comps:
        forms = [f for f in args.fuse.split(",") if f]
        export_component(src, args.out, comp, args.dtype, int(args.max_file_mb * 2**20), forms,
                         getattr(args, "whole_step", False), getattr(args, "attention", "matmul"))
    copy_extras(src, args.out)


if __name__ == "__main__":
    main()
