"""Random-weight SD3 / SD3.5 checkpoints in diffusers' folder format, for tests and --tiny.

`write(dir)` writes a whole StableDiffusion3Pipeline folder: model_index.json, scheduler/,
tokenizer/ (CLIP-L), tokenizer_2/ (CLIP-G: CLIP's BPE with SD3's pad "!"), tokenizer_3/ (SD3's
T5 tokenizer.json), and transformer/, text_encoder/, text_encoder_2/, text_encoder_3/, vae/ each
with config.json + safetensors. The two CLIPs get different widths so a wrong concatenation
order cannot pass unnoticed.
"""
import json
import os
import shutil

from sd3_modules import COMPONENTS
import tiny_checkpoint as tc

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_SD3 = os.path.normpath(os.path.join(HERE, "../../models/sd3-tiny"))

# what is ours in the miniature's ralu.json (the exporter adds the fitted preview projection)
RALU_JSON = {
    "description": "random-weight SD3 miniature (tools/export/export_sd3.py --tiny): joint blocks with a "
                   "context-pre-only last block, sin-cos positions, CLIP-L + CLIP-G + T5 with their real "
                   "tokenizers, classifier-free guidance; for tests, its pictures are noise",
    "default_size": "512x512",
    "sizes": ["512x512", "768x768", "1024x1024"],
}

CLIP_L, CLIP_G, T5_DIM = 8, 12, 32  # hidden widths; the transformer's joint dim is T5's


def transformer_config(layers=2, heads=2, head_dim=8, qk_norm=None, dual=(), max_size=96, sample=64):
    return {"_class_name": "SD3Transformer2DModel", "sample_size": sample, "patch_size": 2,
            "in_channels": 16, "out_channels": 16, "num_layers": layers, "attention_head_dim": head_dim,
            "num_attention_heads": heads, "joint_attention_dim": T5_DIM,
            "caption_projection_dim": heads * head_dim, "pooled_projection_dim": CLIP_L + CLIP_G,
            "pos_embed_max_size": max_size, "dual_attention_layers": list(dual), "qk_norm": qk_norm}


def clip_configs():
    return (tc.clip_config(hidden=CLIP_L, cls="CLIPTextModelWithProjection"),
            tc.clip_config(hidden=CLIP_G, layers=2, heads=3, act="gelu", cls="CLIPTextModelWithProjection"))


def vae_config():
    return dict(tc.vae_config(), scaling_factor=1.5305, shift_factor=0.0609)


def write_transformer(folder, cfg, seed, dtype="F32", shards=1):
    tc.write_component(folder, "transformer", cfg, seed, dtype=dtype, shards=shards, components=COMPONENTS)


def tokenizer_sources(folder=None):
    """(CLIP-L folder, CLIP-G config folder, SD3 T5 folder) from shared/testdata/tokenizers or the
    committed miniature."""
    if folder is None:
        folder = tc.SHARED_TOKENIZERS if os.path.isdir(tc.SHARED_TOKENIZERS) else REPO_SD3
    if os.path.isdir(os.path.join(folder, "clip-l")):
        return tuple(os.path.join(folder, n) for n in ("clip-l", "clip-g-sd3", "t5-v1_1-xxl-sd3"))
    return tuple(os.path.join(folder, n) for n in ("tokenizer", "tokenizer_2", "tokenizer_3"))


def write(out, tokenizers=None, seed=0, transformer=None):
    clip_l, clip_g = clip_configs()
    write_transformer(os.path.join(out, "transformer"), transformer or transformer_config(), seed)
    for i, (name, cfg) in enumerate((("text_encoder", clip_l), ("text_encoder_2", clip_g),
                                     ("text_encoder_3", tc.t5_config(d_model=T5_DIM)),
                                     ("vae", vae_config()))):
        tc.write_component(os.path.join(out, name), name, cfg, seed + 1 + i, components=COMPONENTS)
    os.makedirs(os.path.join(out, "scheduler"), exist_ok=True)
    with open(os.path.join(out, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump({"_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 1000,
                   "shift": 3.0}, f, indent=2)
    l_dir, g_dir, t5_dir = tokenizer_sources(tokenizers)
    files = {
        "tokenizer": [(l_dir, n) for n in ("vocab.json", "merges.txt", "tokenizer_config.json",
                                           "special_tokens_map.json")],
        # CLIP-G shares CLIP-L's BPE data; its configs pad with "!"
        "tokenizer_2": [(l_dir, "vocab.json"), (l_dir, "merges.txt"), (g_dir, "tokenizer_config.json"),
                        (g_dir, "special_tokens_map.json")],
        "tokenizer_3": [(t5_dir, n) for n in ("tokenizer.json", "tokenizer_config.json",
                                              "special_tokens_map.json")],
    }
    for folder, sources in files.items():
        os.makedirs(os.path.join(out, folder), exist_ok=True)
        for src_dir, name in sources:
            shutil.copy(os.path.join(src_dir, name), os.path.join(out, folder, name))
    index = {"_class_name": "StableDiffusion3Pipeline", "_diffusers_version": "0.31.0",
             "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
             "text_encoder": ["transformers", "CLIPTextModelWithProjection"],
             "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
             "text_encoder_3": ["transformers", "T5EncoderModel"],
             "tokenizer": ["transformers", "CLIPTokenizer"],
             "tokenizer_2": ["transformers", "CLIPTokenizer"],
             "tokenizer_3": ["transformers", "T5TokenizerFast"],
             "transformer": ["diffusers", "SD3Transformer2DModel"],
             "vae": ["diffusers", "AutoencoderKL"]}
    with open(os.path.join(out, "model_index.json"), "w") as f:
        json.dump(index, f, indent=2)
