#!/usr/bin/env python3
"""Writes exported FLUX transformers and their expected outputs for tests/export.

    check_export.py OUT

For each case (dev-like with guidance, schnell-like without, a sharded BF16 checkpoint with
more blocks): a random diffusers checkpoint, its export through export_flux.py (the sharded
one with data split over several files), inputs with fractional image ids, and the output of
flux_reference.py (NumPy, float64). OUT/cases.json lists them; the Deno test runs each
model.onnx with onnxruntime-web and compares.
"""
import json
from collections import Counter
import os
import subprocess
import sys

import numpy as np
import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tiny_checkpoint  # noqa: E402
from flux_reference import Flux  # noqa: E402
import encoders_reference as ref_enc  # noqa: E402
import sd3_tiny  # noqa: E402
from sd3_reference import SD3  # noqa: E402
from sd3_modules import COMPONENTS as SD3_COMPONENTS  # noqa: E402

CASES = [
    {"name": "dev", "config": {"guidance": True}, "dtype": "F32", "shards": 1, "max_mb": 2000},
    {"name": "dev_fp16", "config": {"guidance": True}, "dtype": "F32", "shards": 1, "max_mb": 2000,
     "export_dtype": "both"},
    # the same checkpoint as dev, exported without fusing (tools/export/fuse_graph.py)
    {"name": "dev_unfused", "config": {"guidance": True}, "dtype": "F32", "shards": 1, "max_mb": 2000,
     "fuse": ""},
    # the same again as one graph per step (conditioning and RoPE inside it, Optimum's form)
    # attention as one com.microsoft MultiHeadAttention per block (--attention mha)
    {"name": "dev_mha", "config": {"guidance": True}, "dtype": "F32", "shards": 1, "max_mb": 2000,
     "attention": "mha", "expect_ops": {"MultiHeadAttention": 2, "Softmax": 0}},
    {"name": "dev_whole", "config": {"guidance": True}, "dtype": "F32", "shards": 1, "max_mb": 2000,
     "whole": True},
    {"name": "schnell", "config": {"guidance": False}, "dtype": "F32", "shards": 1, "max_mb": 2000},
    {"name": "sharded_bf16", "config": {"guidance": True, "double": 2, "single": 3, "heads": 3,
                                         "head_dim": 16, "axes": (4, 6, 6), "context_dim": 24},
     "dtype": "BF16", "shards": 3, "max_mb": 0.3},
]


def tensor(a):
    a = np.asarray(a)
    kind = "int64" if a.dtype.kind in "iu" else "float32"
    return {"dims": list(a.shape), "dtype": kind, "data": a.ravel().tolist()}


def data_files(model):
    data = os.path.basename(model) + "_data"
    return sorted(f for f in os.listdir(os.path.dirname(model)) if f.startswith(data))


def export(src, dst, comp, tool="export_flux.py", *extra):
    subprocess.run([sys.executable, os.path.join(HERE, tool), src, dst, "--components", comp, *extra],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    half = "--dtype" in extra and extra[extra.index("--dtype") + 1] == "fp16"
    return os.path.join(dst, comp, "model_fp16.onnx" if half else "model.onnx")


def case(name, model, inputs, expected):
    return {"name": name, "model": model, "fp16": False, "data_files": data_files(model),
            "inputs": {k: tensor(v) for k, v in inputs.items()},
            "expected": {k: tensor(v) for k, v in expected.items()}}


def encoder_cases(out, rng):
    """CLIP-L-, T5- and VAE-decoder-shaped components (other sizes than the miniature's, the VAE
    with post_quant_conv), exported and computed by encoders_reference.py."""
    src = os.path.join(out, "encoders_src")
    dst = os.path.join(out, "encoders")
    clip = dict(tiny_checkpoint.clip_config(hidden=16, layers=2, heads=2))
    t5 = dict(tiny_checkpoint.t5_config(d_model=16, layers=2, heads=2), d_kv=8, d_ff=24)
    vae = dict(tiny_checkpoint.vae_config(), block_out_channels=[8, 16], layers_per_block=2,
               use_post_quant_conv=True)
    for name, comp, cfg in (("text_encoder", "text_encoder", clip), ("text_encoder_2", "text_encoder_2", t5),
                            ("vae", "vae", vae)):
        tiny_checkpoint.write_component(os.path.join(src, name), comp, cfg, 30 + len(name), scale=1.0)
    cases = []
    # CLIP: start token, prompt tokens, the end token, padded with the end token (FLUX.1's way)
    ids = np.full((2, 77), 49407, dtype=np.int64)
    ids[:, 0] = 49406
    ids[0, 1:6] = rng.integers(0, 49400, 5)
    ids[1, 1:21] = rng.integers(0, 49400, 20)
    last, pooled = ref_enc.clip_text(os.path.join(src, "text_encoder"), ids)
    cases.append(case("clip", export(src, dst, "text_encoder"), {"input_ids": ids},
                      {"last_hidden_state": last, "pooler_output": pooled}))
    # T5: prompt tokens, </s>, padded with 0; long enough for the log-spaced position buckets
    ids = np.zeros((2, 160), dtype=np.int64)
    ids[0, :9] = rng.integers(2, 32000, 9)
    ids[0, 9] = 1
    ids[1, :150] = rng.integers(2, 32000, 150)
    ids[1, 150] = 1
    cases.append(case("t5", export(src, dst, "text_encoder_2"), {"input_ids": ids},
                      {"last_hidden_state": ref_enc.t5_encoder(os.path.join(src, "text_encoder_2"), ids)}))
    z = rng.standard_normal((1, 16, 6, 5)).astype(np.float32)
    cases.append(case("vae_decoder", export(src, dst, "vae_decoder"), {"latent_sample": z},
                      {"sample": ref_enc.vae_decode(os.path.join(src, "vae"), z.astype(np.float64))}))
    return cases


SD3_CASES = [
    {"name": "sd3", "config": {}},
    {"name": "sd3_fp16", "config": {}, "export_dtype": "fp16"},
    {"name": "sd35_large", "config": {"layers": 3, "heads": 3, "qk_norm": "rms_norm"}, "shards": 2},
    {"name": "sd35_medium", "config": {"layers": 3, "qk_norm": "rms_norm", "dual": (0, 1)}},
]


def patch_tokens(latent, p=2):
    """[B, C, H, W] → [B, (H/p)(W/p), p*p*C] in (dy, dx, c) order."""
    B, C, H, W = latent.shape
    t = latent.reshape(B, C, H // p, p, W // p, p).transpose(0, 2, 4, 3, 5, 1)
    return t.reshape(B, (H // p) * (W // p), p * p * C)


def table_checks(out):
    """The exporter's stored-table check on three checkpoints: a BF16 one (the formula rounded: no
    warning), one whose table was changed at one place (a warning naming it), and an FP32 one.
    Writes OUT/sd3_table.json: name → the exporter's warning lines."""
    result = {}
    for name, dtype, tamper in (("bf16", "BF16", False), ("tampered", "F32", True), ("fp32", "F32", False)):
        src = os.path.join(out, f"sd3_table_{name}_src")
        cfg = sd3_tiny.transformer_config()
        folder = os.path.join(src, "transformer")
        sd3_tiny.write_transformer(folder, cfg, 60, dtype=dtype)
        if tamper:
            import safetensors_io
            t = safetensors_io.read_folder(folder)
            t["pos_embed.pos_embed"][0, 7 * cfg["pos_embed_max_size"] + 11, 3] += 0.01  # row 7, col 11
            for f in os.listdir(folder):
                if f.endswith(".safetensors"):
                    os.remove(os.path.join(folder, f))
            safetensors_io.write_folder(folder, t, dtype=dtype, prefix="diffusion_pytorch_model")
        run = subprocess.run([sys.executable, os.path.join(HERE, "export_sd3.py"), src, os.path.join(out, f"sd3_table_{name}"),
                              "--components", "transformer"], check=True, capture_output=True, text=True)
        result[name] = [line for line in run.stdout.splitlines() if line.startswith("WARNING")]
    with open(os.path.join(out, "sd3_table.json"), "w") as f:
        json.dump(result, f)


def sd3_cases(out, rng):
    """SD3 transformers (SD3, SD3.5-Large's q/k norm over a sharded checkpoint, SD3.5-Medium's
    dual attention, an fp16 export) against sd3_reference.py: a full grid against the model's
    image-level forward (the stored table, centre-cropped), fractional positions against the
    formula; and the SD3 CLIP encoders (penultimate layer, projection, exact GELU)."""
    cases = []
    for i, spec in enumerate(SD3_CASES):
        src = os.path.join(out, spec["name"] + "_src")
        cfg = sd3_tiny.transformer_config(**spec["config"])
        # sd3_fp16 is sd3's checkpoint exported in fp16
        seed = 40 + (0 if spec["name"].startswith("sd3") else i)
        sd3_tiny.write_transformer(os.path.join(src, "transformer"), cfg, seed, dtype=spec.get("dtype", "F32"),
                                   shards=spec.get("shards", 1))
        model = export(src, os.path.join(out, spec["name"]), "transformer", "export_sd3.py",
                       "--dtype", spec.get("export_dtype", "fp32"), "--max-file-mb", "0.05")
        ref = SD3(os.path.join(src, "transformer"))
        B, L = 2, 6
        common = {
            "encoder_hidden_states": rng.standard_normal((B, L, cfg["joint_attention_dim"])),
            "pooled_projections": rng.standard_normal((B, cfg["pooled_projection_dim"])),
            "timestep": np.array([900.0, 350.0]),
        }
        common = {k: v.astype(np.float32) for k, v in common.items()}
        # the whole grid of a 6 x 8 latent (3 x 4 patches) against the image-level forward
        h, w = 3, 4
        latent = rng.standard_normal((B, 16, 2 * h, 2 * w)).astype(np.float32)
        top, left = (cfg["pos_embed_max_size"] - h) // 2, (cfg["pos_embed_max_size"] - w) // 2
        grid = np.array([[top + r, left + c] for r in range(h) for c in range(w)], np.float32)
        image = ref.image(latent, common["encoder_hidden_states"], common["pooled_projections"], common["timestep"])
        full = case(spec["name"] + "_grid", model, dict(common, hidden_states=patch_tokens(latent), positions=grid),
                    {"out_hidden_states": patch_tokens(image)})
        # RALU-like tokens: low-resolution cells and copies at fractional positions
        frac = np.array([[40.0, 41.0], [40.5, 41.0], [40.5, 41.5], [12.25, 60.75], [0.0, 0.0], [95.0, 3.5]],
                        np.float32)
        tokens = rng.standard_normal((B, len(frac), 64)).astype(np.float32)
        fractional = case(spec["name"] + "_fractional", model, dict(common, hidden_states=tokens, positions=frac),
                          {"out_hidden_states": ref.tokens(tokens, common["encoder_hidden_states"],
                                                           common["pooled_projections"], common["timestep"], frac)})
        for c in (full, fractional):
            c["fp16"] = spec.get("export_dtype") == "fp16"
            c["family"] = "sd3"
        cases += [full, fractional]
    table_checks(out)
    src = os.path.join(out, "sd3_encoders_src")
    clip_l, clip_g = sd3_tiny.clip_configs()
    ids = np.zeros((2, 77), dtype=np.int64)  # CLIP-G pads with "!" (id 0)
    ids[:, 0] = 49406
    ids[0, 1:8] = rng.integers(1, 49400, 7)
    ids[0, 8] = 49407
    ids[1, 1:30] = rng.integers(1, 49400, 29)
    ids[1, 30] = 49407
    for name, cfg in (("text_encoder", clip_l), ("text_encoder_2", clip_g)):
        tiny_checkpoint.write_component(os.path.join(src, name), name, cfg, 50 + len(name), components=SD3_COMPONENTS)
        last, _, embeds, penultimate = ref_enc.clip_text(os.path.join(src, name), ids)
        c = case("sd3_" + name, export(src, os.path.join(out, "sd3_encoders"), name, "export_sd3.py"),
                 {"input_ids": ids},
                 {"last_hidden_state": last, "text_embeds": embeds, "penultimate_hidden_state": penultimate})
        c["family"] = "sd3"
        cases.append(c)
    return cases


def main(out):
    os.makedirs(out, exist_ok=True)
    cases = []
    rng = np.random.default_rng(7)
    for i, spec in enumerate(CASES):
        src = os.path.join(out, spec["name"] + "_src")
        cfg = tiny_checkpoint.transformer_config(**spec["config"])
        tiny_checkpoint.write_component(os.path.join(src, "transformer"), "transformer", cfg,
                                        10 + (0 if spec["name"].startswith("dev") else i),
                                        dtype=spec["dtype"], shards=spec["shards"])
        dst = os.path.join(out, spec["name"])
        subprocess.run([sys.executable, os.path.join(HERE, "export_flux.py"), src, dst,
                        "--components", "transformer", "--max-file-mb", str(spec["max_mb"]),
                        "--dtype", spec.get("export_dtype", "fp32")]
                       + (["--fuse", spec["fuse"]] if "fuse" in spec else [])
                       + (["--whole-step"] if spec.get("whole") else [])
                       + (["--attention", spec["attention"]] if "attention" in spec else []),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ref = Flux(os.path.join(src, "transformer"))
        B, n, L = 2, 12, 5
        h, w = 3, 4
        ids = np.array([[0.0, r + 0.5 * (r % 2), c * 0.75] for r in range(h) for c in range(w)])
        inputs = {
            "hidden_states": rng.standard_normal((B, n, 64)),
            "encoder_hidden_states": rng.standard_normal((B, L, cfg["joint_attention_dim"])),
            "pooled_projections": rng.standard_normal((B, cfg["pooled_projection_dim"])),
            "timestep": np.array([0.9, 0.35]),
            "img_ids": ids,
            "txt_ids": np.zeros((L, 3)),
        }
        if cfg["guidance_embeds"]:
            inputs["guidance"] = np.array([3.5, 1.0])
        # the exporter gets float32 inputs: the reference computes on the same rounded values
        inputs = {k: v.astype(np.float32) for k, v in inputs.items()}
        expected = ref(inputs["hidden_states"], inputs["encoder_hidden_states"],
                       inputs["pooled_projections"], inputs["timestep"], inputs["img_ids"],
                       inputs["txt_ids"], inputs.get("guidance"))
        half = spec.get("export_dtype") in ("fp16", "both")
        model = os.path.join(dst, "transformer", "model_fp16.onnx" if half else "model.onnx")
        if spec.get("whole"):
            c = case(spec["name"], model, inputs, {"out_hidden_states": expected})
        else:
            # the step graph, fed by conditioning.onnx (run first by the test) and the stage's RoPE
            # tables from the reference
            cos, sin = ref.rotary(np.concatenate([inputs["txt_ids"], inputs["img_ids"]], 0).astype(np.float64))
            step_in = {"hidden_states": inputs["hidden_states"], "timestep": inputs["timestep"],
                       "rope_cos": cos.astype(np.float32), "rope_sin": sin.astype(np.float32)}
            c = case(spec["name"], model, step_in, {"out_hidden_states": expected})
            cond_in = {k: inputs[k] for k in ("encoder_hidden_states", "pooled_projections", "guidance") if k in inputs}
            c["conditioning"] = {"model": os.path.join(dst, "transformer", "conditioning.onnx"),
                                 "inputs": {k: tensor(v) for k, v in cond_in.items()}}
            c["rope"] = {"ids": tensor(np.concatenate([inputs["txt_ids"], inputs["img_ids"]], 0)),
                         "axes": cfg["axes_dims_rope"], "text": L}
        c["fp16"] = half
        if "expect_ops" in spec:
            ops = Counter(n.op_type for n in onnx.load(model, load_external_data=False).graph.node)
            c["ops"] = {"expected": spec["expect_ops"], "counted": {k: ops[k] for k in spec["expect_ops"]}}
        cases.append(c)
    cases += encoder_cases(out, rng)
    cases += sd3_cases(out, rng)
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(cases, f)
    print(f"{len(cases)} cases in {out}/cases.json")


if __name__ == "__main__":
    main(sys.argv[1])
