"""Independent NumPy computations (float64) of transformers' CLIPTextModel and T5EncoderModel
and of diffusers' AutoencoderKL decoder, written from those libraries' sources and sharing no
code with the exporter (its own safetensors reading comes from flux_reference.py, which shares
none either). Used by check_export.py to verify the exported text encoders and VAE decoder.
"""
import json
import math
import os

import numpy as np

from flux_reference import load_tensors


def _cfg(folder):
    with open(os.path.join(folder, "config.json")) as f:
        return json.load(f)


def _ln(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _softmax(s):
    s = s - s.max(-1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(-1, keepdims=True)


_erf = np.vectorize(math.erf)


def clip_text(folder, ids):
    """→ (last_hidden_state [B,S,D], pooler_output [B,D]) for int ids [B,S]; with a
    `text_projection` (CLIPTextModelWithProjection) also text_embeds [B,P] and hidden_states[-2]
    (the penultimate layer's output, before the final norm), as SD3 reads them."""
    c, w = _cfg(folder), load_tensors(folder)
    p = "text_model."
    B, S = ids.shape
    D, H = c["hidden_size"], c["num_attention_heads"]
    eps = c.get("layer_norm_eps", 1e-5)
    x = w[p + "embeddings.token_embedding.weight"][ids] + w[p + "embeddings.position_embedding.weight"][:S][None]
    lin = lambda n, t: t @ w[n + ".weight"].T + w[n + ".bias"]
    mask = np.triu(np.full((S, S), -np.inf), 1)
    hidden = [x]
    for i in range(c["num_hidden_layers"]):
        q = f"{p}encoder.layers.{i}."
        h = _ln(x, w[q + "layer_norm1.weight"], w[q + "layer_norm1.bias"], eps)
        heads = lambda t: t.reshape(B, S, H, D // H).transpose(0, 2, 1, 3)
        Q = heads(lin(q + "self_attn.q_proj", h)) * (D // H) ** -0.5
        K, V = heads(lin(q + "self_attn.k_proj", h)), heads(lin(q + "self_attn.v_proj", h))
        o = _softmax(Q @ K.transpose(0, 1, 3, 2) + mask) @ V
        x = x + lin(q + "self_attn.out_proj", o.transpose(0, 2, 1, 3).reshape(B, S, D))
        h = _ln(x, w[q + "layer_norm2.weight"], w[q + "layer_norm2.bias"], eps)
        h = lin(q + "mlp.fc1", h)
        if c.get("hidden_act", "quick_gelu") == "quick_gelu":
            h = h * (1 / (1 + np.exp(-1.702 * h)))
        else:  # "gelu": the exact, erf form
            h = 0.5 * h * (1 + _erf(h / math.sqrt(2)))
        x = x + lin(q + "mlp.fc2", h)
        hidden.append(x)
    x = _ln(x, w[p + "final_layer_norm.weight"], w[p + "final_layer_norm.bias"], eps)
    # the end token: the highest id for configs with eos_token_id 2, else the first eos_token_id
    at = ids.argmax(-1) if c.get("eos_token_id", 2) == 2 else (ids == c["eos_token_id"]).argmax(-1)
    pooled = x[np.arange(B), at]
    if "text_projection.weight" not in w:
        return x, pooled
    return x, pooled, pooled @ w["text_projection.weight"].T, hidden[-2]


def _bucket(rel, num_buckets, max_distance):
    """transformers' T5Attention._relative_position_bucket, bidirectional."""
    n = num_buckets // 2
    out = (rel > 0).astype(np.int64) * n
    a = np.abs(rel)
    exact = n // 2
    with np.errstate(divide="ignore"):
        large = exact + (np.log(np.maximum(a, 1) / exact) / math.log(max_distance / exact) * (n - exact)).astype(np.int64)
    large = np.minimum(large, n - 1)
    return out + np.where(a < exact, a, large)


def t5_encoder(folder, ids):
    """→ last_hidden_state [B,S,D] (no attention mask, as FLUX.1 calls it)."""
    c, w = _cfg(folder), load_tensors(folder)
    B, S = ids.shape
    H, dk = c["num_heads"], c["d_kv"]
    eps = c.get("layer_norm_epsilon", 1e-6)
    rms = lambda t, g: t / np.sqrt((t * t).mean(-1, keepdims=True) + eps) * g
    x = w["shared.weight"][ids]
    rel = np.arange(S)[None, :] - np.arange(S)[:, None]
    b = _bucket(rel, c["relative_attention_num_buckets"], c.get("relative_attention_max_distance", 128))
    bias = w["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"][b].transpose(2, 0, 1)[None]
    gelu = lambda t: 0.5 * t * (1 + np.tanh(math.sqrt(2 / math.pi) * (t + 0.044715 * t ** 3)))
    for i in range(c["num_layers"]):
        q = f"encoder.block.{i}.layer."
        h = rms(x, w[q + "0.layer_norm.weight"])
        heads = lambda t: t.reshape(B, S, H, dk).transpose(0, 2, 1, 3)
        Q, K, V = (heads(h @ w[q + f"0.SelfAttention.{n}.weight"].T) for n in "qkv")
        o = _softmax(Q @ K.transpose(0, 1, 3, 2) + bias) @ V  # T5 does not scale the scores
        x = x + o.transpose(0, 2, 1, 3).reshape(B, S, H * dk) @ w[q + "0.SelfAttention.o.weight"].T
        h = rms(x, w[q + "1.layer_norm.weight"])
        h = gelu(h @ w[q + "1.DenseReluDense.wi_0.weight"].T) * (h @ w[q + "1.DenseReluDense.wi_1.weight"].T)
        x = x + h @ w[q + "1.DenseReluDense.wo.weight"].T
    return rms(x, w["encoder.final_layer_norm.weight"])


def _conv(x, w, b, pad):
    """2-D convolution, stride 1, [B,C,H,W] x [O,C,k,k]."""
    B, C, Hh, Ww = x.shape
    O, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = np.stack([xp[:, :, i:i + Hh, j:j + Ww] for i in range(k) for j in range(k)], axis=2)  # B,C,k*k,H,W
    out = np.einsum("bckhw,ock->bohw", cols, w.reshape(O, C, k * k))
    return out + b[None, :, None, None]


def _gn(x, g, b, groups, eps=1e-6):
    B, C, H, W = x.shape
    t = x.reshape(B, groups, -1)
    t = (t - t.mean(-1, keepdims=True)) / np.sqrt(t.var(-1, keepdims=True) + eps)
    return t.reshape(B, C, H, W) * g[None, :, None, None] + b[None, :, None, None]


def vae_decode(folder, z):
    """AutoencoderKL.decode(z).sample for z [B,C,h,w] (already unscaled)."""
    c, w = _cfg(folder), load_tensors(folder)
    G = c.get("norm_num_groups", 32)
    silu = lambda t: t / (1 + np.exp(-t))
    conv = lambda n, t, pad: _conv(t, w[n + ".weight"], w[n + ".bias"], pad)
    gn = lambda n, t: _gn(t, w[n + ".weight"], w[n + ".bias"], G)

    def resnet(n, t):
        h = conv(n + ".conv1", silu(gn(n + ".norm1", t)), 1)
        h = conv(n + ".conv2", silu(gn(n + ".norm2", h)), 1)
        sc = conv(n + ".conv_shortcut", t, 0) if n + ".conv_shortcut.weight" in w else t
        return sc + h

    if c.get("use_post_quant_conv", True):
        z = conv("post_quant_conv", z, 0)
    x = conv("decoder.conv_in", z, 1)
    x = resnet("decoder.mid_block.resnets.0", x)
    a = "decoder.mid_block.attentions.0"
    B, C, H, W = x.shape
    t = gn(a + ".group_norm", x).reshape(B, C, H * W).transpose(0, 2, 1)
    lin = lambda n, u: u @ w[n + ".weight"].T + w[n + ".bias"]
    att = _softmax(lin(a + ".to_q", t) @ lin(a + ".to_k", t).transpose(0, 2, 1) / math.sqrt(C)) @ lin(a + ".to_v", t)
    x = x + lin(a + ".to_out.0", att).transpose(0, 2, 1).reshape(B, C, H, W)
    x = resnet("decoder.mid_block.resnets.1", x)
    i = 0
    while f"decoder.up_blocks.{i}.resnets.0.conv1.weight" in w:
        j = 0
        while f"decoder.up_blocks.{i}.resnets.{j}.conv1.weight" in w:
            x = resnet(f"decoder.up_blocks.{i}.resnets.{j}", x)
            j += 1
        if f"decoder.up_blocks.{i}.upsamplers.0.conv.weight" in w:
            x = conv(f"decoder.up_blocks.{i}.upsamplers.0.conv", x.repeat(2, axis=2).repeat(2, axis=3), 1)
        i += 1
    return conv("decoder.conv_out", silu(gn("decoder.conv_norm_out", x)), 1)
