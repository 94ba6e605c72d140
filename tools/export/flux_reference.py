"""An independent NumPy computation of diffusers' FluxTransformer2DModel forward pass.

Written from the diffusers source (transformer_flux.py, embeddings.py, normalization.py,
attention_processor.py) and sharing no code with the exporter: its own safetensors reader,
float64 throughout. Used by check_export.py to verify exported transformers.
"""
import glob
import json
import os
import struct

import numpy as np


def load_tensors(folder):
    out = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.safetensors"))):
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n).decode())
            blob = f.read()
        for name, t in header.items():
            if name == "__metadata__":
                continue
            start, end = t["data_offsets"]
            b = blob[start:end]
            if t["dtype"] == "BF16":
                a = (np.frombuffer(b, "<u2").astype("<u4") << 16).view("<f4")
            else:
                a = np.frombuffer(b, {"F32": "<f4", "F16": "<f2"}[t["dtype"]])
            out[name] = a.astype(np.float64).reshape(t["shape"])
    return out


def silu(x):
    return x / (1.0 + np.exp(-x))


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def layer_norm(x, eps=1e-6):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps)


def rms_norm(x, w, eps=1e-6):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


class Flux:
    def __init__(self, folder):
        with open(os.path.join(folder, "config.json")) as f:
            self.cfg = json.load(f)
        self.w = load_tensors(folder)

    def lin(self, name, x):
        y = x @ self.w[name + ".weight"].T
        b = self.w.get(name + ".bias")
        return y if b is None else y + b

    def sinusoid(self, t):
        half = 128
        exponent = -np.log(10000.0) * np.arange(half) / half
        arg = t[:, None] * np.exp(exponent)[None, :]
        emb = np.concatenate([np.sin(arg), np.cos(arg)], axis=-1)
        return np.concatenate([emb[:, half:], emb[:, :half]], axis=-1)  # flip_sin_to_cos

    def embed(self, prefix, x):
        return self.lin(prefix + ".linear_2", silu(self.lin(prefix + ".linear_1", x)))

    def rotary(self, ids):
        cos, sin = [], []
        for i, d in enumerate(self.cfg.get("axes_dims_rope", [16, 56, 56])):
            freqs = 1.0 / 10000.0 ** (np.arange(0, d, 2)[: d // 2] / d)
            ang = np.outer(ids[:, i], freqs)
            cos.append(np.repeat(np.cos(ang), 2, axis=1))
            sin.append(np.repeat(np.sin(ang), 2, axis=1))
        return np.concatenate(cos, -1), np.concatenate(sin, -1)

    @staticmethod
    def rotate(x, cos, sin):
        real, imag = x[..., 0::2], x[..., 1::2]
        rot = np.empty_like(x)
        rot[..., 0::2] = -imag
        rot[..., 1::2] = real
        return x * cos + rot * sin

    def heads(self, x):
        H = self.cfg["num_attention_heads"]
        B, S, _ = x.shape
        return x.reshape(B, S, H, -1).transpose(0, 2, 1, 3)

    def attn(self, p, x, cos, sin, ctx=None):
        q = rms_norm(self.heads(self.lin(p + ".to_q", x)), self.w[p + ".norm_q.weight"])
        k = rms_norm(self.heads(self.lin(p + ".to_k", x)), self.w[p + ".norm_k.weight"])
        v = self.heads(self.lin(p + ".to_v", x))
        if ctx is not None:
            cq = rms_norm(self.heads(self.lin(p + ".add_q_proj", ctx)), self.w[p + ".norm_added_q.weight"])
            ck = rms_norm(self.heads(self.lin(p + ".add_k_proj", ctx)), self.w[p + ".norm_added_k.weight"])
            cv = self.heads(self.lin(p + ".add_v_proj", ctx))
            q, k, v = (np.concatenate(a, axis=2) for a in ((cq, q), (ck, k), (cv, v)))
        q, k = self.rotate(q, cos, sin), self.rotate(k, cos, sin)
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1])
        s = np.exp(s - s.max(-1, keepdims=True))
        o = (s / s.sum(-1, keepdims=True)) @ v
        B, H, S, D = o.shape
        o = o.transpose(0, 2, 1, 3).reshape(B, S, H * D)
        if ctx is None:
            return o
        L = ctx.shape[1]
        return self.lin(p + ".to_out.0", o[:, L:]), self.lin(p + ".to_add_out", o[:, :L])

    def ff(self, p, x):
        return self.lin(p + ".net.2", gelu_tanh(self.lin(p + ".net.0.proj", x)))

    def double_block(self, p, x, c, st, cos, sin):
        """One double block: image tokens x, text tokens c, silu(temb) st, RoPE of [text, image]."""
        m = np.split(self.lin(p + ".norm1.linear", st), 6, axis=1)
        cm = np.split(self.lin(p + ".norm1_context.linear", st), 6, axis=1)
        nx = layer_norm(x) * (1 + m[1][:, None]) + m[0][:, None]
        nc = layer_norm(c) * (1 + cm[1][:, None]) + cm[0][:, None]
        a, ca = self.attn(p + ".attn", nx, cos, sin, nc)
        x = x + m[2][:, None] * a
        x = x + m[5][:, None] * self.ff(p + ".ff", layer_norm(x) * (1 + m[4][:, None]) + m[3][:, None])
        c = c + cm[2][:, None] * ca
        c = c + cm[5][:, None] * self.ff(p + ".ff_context", layer_norm(c) * (1 + cm[4][:, None]) + cm[3][:, None])
        return x, c

    def __call__(self, hidden, context, pooled, sigma, img_ids, txt_ids, guidance=None):
        hidden, context, pooled = (np.asarray(a, np.float64) for a in (hidden, context, pooled))
        x = self.lin("x_embedder", hidden)
        temb = self.embed("time_text_embed.timestep_embedder", self.sinusoid(np.asarray(sigma, np.float64) * 1000))
        if guidance is not None:
            temb = temb + self.embed("time_text_embed.guidance_embedder",
                                     self.sinusoid(np.asarray(guidance, np.float64) * 1000))
        temb = temb + self.embed("time_text_embed.text_embedder", pooled)
        c = self.lin("context_embedder", context)
        cos, sin = self.rotary(np.concatenate([txt_ids, img_ids], 0).astype(np.float64))
        st = silu(temb)
        for i in range(self.cfg["num_layers"]):
            x, c = self.double_block(f"transformer_blocks.{i}", x, c, st, cos, sin)
        L = c.shape[1]
        x = np.concatenate([c, x], axis=1)
        for i in range(self.cfg["num_single_layers"]):
            p = f"single_transformer_blocks.{i}"
            shift, scale, gate = np.split(self.lin(p + ".norm.linear", st), 3, axis=1)
            nx = layer_norm(x) * (1 + scale[:, None]) + shift[:, None]
            mlp = gelu_tanh(self.lin(p + ".proj_mlp", nx))
            y = np.concatenate([self.attn(p + ".attn", nx, cos, sin), mlp], axis=2)
            x = x + gate[:, None] * self.lin(p + ".proj_out", y)
        x = x[:, L:]
        scale, shift = np.split(self.lin("norm_out.linear", st), 2, axis=1)
        return self.lin("proj_out", layer_norm(x) * (1 + scale[:, None]) + shift[:, None])
