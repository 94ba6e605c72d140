"""Random-weight FLUX.1 checkpoints in diffusers' folder format, for tests and --tiny.

`write(dir)` writes a whole pipeline: model_index.json, scheduler/, tokenizer/ (CLIP-L
vocab.json + merges.txt, as FLUX.1 ships it), tokenizer_2/ (T5 tokenizer.json), and
transformer/, text_encoder/, text_encoder_2/, vae/ each with config.json + safetensors.
"""
import json
import os
import shutil

import torch

from flux_modules import COMPONENTS
import safetensors_io

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_TOKENIZERS = os.path.normpath(os.path.join(HERE, "../../../shared/testdata/tokenizers"))
REPO_TOKENIZERS = os.path.normpath(os.path.join(HERE, "../../models/flux-tiny"))


def tokenizer_sources(folder):
    """(CLIP folder, T5 folder) from shared/testdata/tokenizers or from a FLUX.1 model folder."""
    if folder is None:
        folder = SHARED_TOKENIZERS if os.path.isdir(SHARED_TOKENIZERS) else REPO_TOKENIZERS
    if os.path.isdir(os.path.join(folder, "clip-l")):
        return os.path.join(folder, "clip-l"), os.path.join(folder, "t5-v1_1-xxl")
    return os.path.join(folder, "tokenizer"), os.path.join(folder, "tokenizer_2")


# what is ours in the miniature's ralu.json (the exporter adds the fitted preview projection)
RALU_JSON = {
    "description": "random-weight FLUX.1-dev miniature (tools/export/export_flux.py --tiny): double and "
                   "single blocks, 3-axis RoPE, guidance embedding, CLIP-L and T5 tokenizers; for tests, "
                   "its pictures are noise",
    "default_size": "512x512",
    "sizes": ["512x512", "768x768", "1024x1024"],
}


def transformer_config(guidance=True, heads=2, head_dim=16, axes=(4, 6, 6), double=1, single=1,
                       context_dim=32, pooled_dim=16):
    return {"_class_name": "FluxTransformer2DModel", "attention_head_dim": head_dim,
            "axes_dims_rope": list(axes), "guidance_embeds": guidance, "in_channels": 64,
            "joint_attention_dim": context_dim, "num_attention_heads": heads, "num_layers": double,
            "num_single_layers": single, "out_channels": None, "patch_size": 1,
            "pooled_projection_dim": pooled_dim}


def clip_config(hidden=8, layers=1, heads=2, projection=None, act="quick_gelu", cls="CLIPTextModel"):
    return {"_class_name": cls, "architectures": [cls], "vocab_size": 49408,
            "hidden_size": hidden, "intermediate_size": 4 * hidden, "num_hidden_layers": layers,
            "num_attention_heads": heads, "max_position_embeddings": 77, "hidden_act": act,
            "layer_norm_eps": 1e-5, "bos_token_id": 0, "eos_token_id": 2,
            "projection_dim": projection or hidden}


def t5_config(d_model=8, layers=1, heads=2, context_dim=32):
    # the transformer's joint_attention_dim is T5's d_model; a miniature keeps them equal
    return {"_class_name": "T5EncoderModel", "architectures": ["T5EncoderModel"], "vocab_size": 32128,
            "d_model": context_dim if d_model is None else d_model, "d_kv": 4, "d_ff": 16,
            "num_layers": layers, "num_heads": heads, "relative_attention_num_buckets": 32,
            "relative_attention_max_distance": 128, "layer_norm_epsilon": 1e-6,
            "feed_forward_proj": "gated-gelu", "is_encoder_decoder": False}


def vae_config():
    return {"_class_name": "AutoencoderKL", "block_out_channels": [8, 8, 16, 16], "in_channels": 3,
            "out_channels": 3, "latent_channels": 16, "layers_per_block": 1, "norm_num_groups": 4,
            "scaling_factor": 0.3611, "shift_factor": 0.1159, "use_post_quant_conv": False,
            "use_quant_conv": False, "sample_size": 1024}


def scheduler_config(guidance=True):
    return {"_class_name": "FlowMatchEulerDiscreteScheduler", "base_image_seq_len": 256,
            "base_shift": 0.5, "max_image_seq_len": 4096, "max_shift": 1.15,
            "num_train_timesteps": 1000, "shift": 3.0 if guidance else 1.0,
            "use_dynamic_shifting": guidance}


def write_component(folder, name, cfg, seed, dtype="F32", shards=1, scale=1.0, components=COMPONENTS):
    torch.manual_seed(seed)
    module = components[name](cfg)
    # a stored table (SD3's pos_embed.pos_embed) is data, not a weight to scale
    tensors = {k: v.detach().numpy() * (1.0 if k.endswith("pos_embed") else scale)
               for k, v in module.state_dict().items()}
    if name == "vae":  # an encoder tensor the exporter must skip, as in real checkpoints
        tensors["encoder.conv_in.weight"] = torch.zeros(8, 3, 3, 3).numpy()
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    prefix = "model" if name.startswith("text_encoder") else "diffusion_pytorch_model"
    safetensors_io.write_folder(folder, tensors, dtype=dtype, shards=shards, prefix=prefix)


def write(out, guidance=True, tokenizers=None, seed=0):
    clip_dir, t5_dir = tokenizer_sources(tokenizers)
    context = 8
    write_component(os.path.join(out, "transformer"), "transformer",
                    transformer_config(guidance, context_dim=context, pooled_dim=8), seed)
    write_component(os.path.join(out, "text_encoder"), "text_encoder", clip_config(hidden=8), seed + 1)
    write_component(os.path.join(out, "text_encoder_2"), "text_encoder_2",
                    t5_config(d_model=context), seed + 2)
    write_component(os.path.join(out, "vae"), "vae", vae_config(), seed + 3)
    os.makedirs(os.path.join(out, "scheduler"), exist_ok=True)
    with open(os.path.join(out, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump(scheduler_config(guidance), f, indent=2)
    tok = os.path.join(out, "tokenizer")
    os.makedirs(tok, exist_ok=True)
    for n in ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(os.path.join(clip_dir, n), os.path.join(tok, n))
    tok2 = os.path.join(out, "tokenizer_2")
    os.makedirs(tok2, exist_ok=True)
    for n in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(os.path.join(t5_dir, n), os.path.join(tok2, n))
    index = {"_class_name": "FluxPipeline", "_diffusers_version": "0.30.0",
             "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
             "text_encoder": ["transformers", "CLIPTextModel"],
             "text_encoder_2": ["transformers", "T5EncoderModel"],
             "tokenizer": ["transformers", "CLIPTokenizer"],
             "tokenizer_2": ["transformers", "T5TokenizerFast"],
             "transformer": ["diffusers", "FluxTransformer2DModel"],
             "vae": ["diffusers", "AutoencoderKL"]}
    with open(os.path.join(out, "model_index.json"), "w") as f:
        json.dump(index, f, indent=2)
