"""An independent NumPy computation of diffusers' SD3Transformer2DModel forward pass.

Written from the diffusers source (transformer_sd3.py, attention.py's JointTransformerBlock,
embeddings.py's PatchEmbed and sin-cos helpers, normalization.py) and sharing no code with the
exporter: float64 throughout, the safetensors reader and small helpers of flux_reference.py
(itself independent of the exporter). `image(...)` is the model's own forward on a latent
`[B, C, H, W]` (patch conv, the stored table centre-cropped, unpatchify); `tokens(...)` is the
same network on patch tokens at arbitrary (row, col) positions, the sin-cos formula evaluated
there. check_export.py uses both to verify exported transformers.
"""
import json
import os

import numpy as np

from flux_reference import gelu_tanh, layer_norm, load_tensors, rms_norm, silu


def sincos_1d(dim, pos):
    """diffusers' get_1d_sincos_pos_embed_from_grid: [sin(pos w), cos(pos w)], w = 10000^(-k/(dim/2))."""
    omega = 1.0 / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))
    out = np.einsum("m,d->md", pos.reshape(-1), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d(dim, rows, cols):
    """get_2d_sincos_pos_embed_from_grid with grid = meshgrid(w, h): the first half from the
    column coordinate, the second from the row coordinate."""
    return np.concatenate([sincos_1d(dim // 2, cols), sincos_1d(dim // 2, rows)], axis=1)


class SD3:
    def __init__(self, folder):
        with open(os.path.join(folder, "config.json")) as f:
            self.cfg = json.load(f)
        self.w = load_tensors(folder)
        c = self.cfg
        self.p = c.get("patch_size", 2)
        self.max = c["pos_embed_max_size"]
        self.base = c.get("sample_size", 128) // self.p
        self.heads = c["num_attention_heads"]
        self.dim = self.heads * c["attention_head_dim"]

    def lin(self, name, x):
        y = x @ self.w[name + ".weight"].T
        b = self.w.get(name + ".bias")
        return y if b is None else y + b

    def table_formula(self):
        """The table the model's config implies, [max^2, D] (diffusers' get_2d_sincos_pos_embed)."""
        g = np.arange(self.max, dtype=np.float64) / (self.max / self.base)
        gw, gh = np.meshgrid(g, g)
        return sincos_2d(self.dim, gh.reshape(-1), gw.reshape(-1))

    def split_heads(self, x):
        B, S, _ = x.shape
        return x.reshape(B, S, self.heads, -1).transpose(0, 2, 1, 3)

    def qkv(self, p, x, q, k, v, nq, nk):
        Q, K, V = (self.split_heads(self.lin(p + n, x)) for n in (q, k, v))
        if p + nq + ".weight" in self.w:
            Q, K = rms_norm(Q, self.w[p + nq + ".weight"]), rms_norm(K, self.w[p + nk + ".weight"])
        return Q, K, V

    @staticmethod
    def sdpa(Q, K, V):
        s = Q @ K.transpose(0, 1, 3, 2) / np.sqrt(Q.shape[-1])
        s = np.exp(s - s.max(-1, keepdims=True))
        o = (s / s.sum(-1, keepdims=True)) @ V
        B, H, S, D = o.shape
        return o.transpose(0, 2, 1, 3).reshape(B, S, H * D)

    def block(self, i, x, c, st):
        p = f"transformer_blocks.{i}."
        last = i == self.cfg["num_layers"] - 1
        dual = i in set(self.cfg.get("dual_attention_layers") or ())
        m = np.split(self.lin(p + "norm1.linear", st), 9 if dual else 6, axis=1)
        nx = layer_norm(x) * (1 + m[1][:, None]) + m[0][:, None]
        if last:
            scale, shift = np.split(self.lin(p + "norm1_context.linear", st), 2, axis=1)
            nc = layer_norm(c) * (1 + scale[:, None]) + shift[:, None]
        else:
            cm = np.split(self.lin(p + "norm1_context.linear", st), 6, axis=1)
            nc = layer_norm(c) * (1 + cm[1][:, None]) + cm[0][:, None]
        a = p + "attn."
        Q, K, V = self.qkv(a, nx, "to_q", "to_k", "to_v", "norm_q", "norm_k")
        cQ, cK, cV = self.qkv(a, nc, "add_q_proj", "add_k_proj", "add_v_proj", "norm_added_q", "norm_added_k")
        o = self.sdpa(*(np.concatenate(t, axis=2) for t in ((Q, cQ), (K, cK), (V, cV))))
        n = x.shape[1]
        h = x + m[2][:, None] * self.lin(a + "to_out.0", o[:, :n])
        if dual:
            nx2 = layer_norm(x) * (1 + m[7][:, None]) + m[6][:, None]
            o2 = self.sdpa(*self.qkv(p + "attn2.", nx2, "to_q", "to_k", "to_v", "norm_q", "norm_k"))
            h = h + m[8][:, None] * self.lin(p + "attn2.to_out.0", o2)
        ff = lambda q, t: self.lin(q + ".net.2", gelu_tanh(self.lin(q + ".net.0.proj", t)))
        h = h + m[5][:, None] * ff(p + "ff", layer_norm(h) * (1 + m[4][:, None]) + m[3][:, None])
        if last:
            return h, None
        c = c + cm[2][:, None] * self.lin(a + "to_add_out", o[:, n:])
        c = c + cm[5][:, None] * ff(p + "ff_context", layer_norm(c) * (1 + cm[4][:, None]) + cm[3][:, None])
        return h, c

    def network(self, x, context, pooled, timestep):
        """Everything after the patch and position embedding: x [B, N, D] → [B, N, p*p*C]."""
        half = 128
        arg = np.asarray(timestep, np.float64)[:, None] * np.exp(-np.log(10000.0) * np.arange(half) / half)[None]
        sinus = np.concatenate([np.cos(arg), np.sin(arg)], axis=-1)  # flip_sin_to_cos
        emb = lambda q, t: self.lin(q + ".linear_2", silu(self.lin(q + ".linear_1", t)))
        temb = emb("time_text_embed.timestep_embedder", sinus) + emb("time_text_embed.text_embedder",
                                                                      np.asarray(pooled, np.float64))
        st = silu(temb)
        c = self.lin("context_embedder", np.asarray(context, np.float64))
        for i in range(self.cfg["num_layers"]):
            x, c = self.block(i, x, c, st)
        scale, shift = np.split(self.lin("norm_out.linear", st), 2, axis=1)
        return self.lin("proj_out", layer_norm(x) * (1 + scale[:, None]) + shift[:, None])

    def image(self, latent, context, pooled, timestep):
        """The model's forward on a latent [B, C, H, W] → [B, C_out, H, W]."""
        latent = np.asarray(latent, np.float64)
        B, C, H, W = latent.shape
        p = self.p
        h, w = H // p, W // p
        if h > self.max or w > self.max:
            raise ValueError(f"{h}x{w} patches exceed the {self.max}-wide position table")
        # the patch conv: weight [D, C, p, p], stride p
        patches = latent.reshape(B, C, h, p, w, p)
        x = np.einsum("bchiwj,dcij->bhwd", patches, self.w["pos_embed.proj.weight"]).reshape(B, h * w, -1)
        x = x + self.w["pos_embed.proj.bias"]
        top, left = (self.max - h) // 2, (self.max - w) // 2
        table = self.w["pos_embed.pos_embed"].reshape(self.max, self.max, -1)
        x = x + table[top:top + h, left:left + w].reshape(1, h * w, -1)
        out = self.network(x, context, pooled, timestep)
        cout = out.shape[-1] // (p * p)
        out = out.reshape(B, h, w, p, p, cout)
        return np.einsum("nhwpqc->nchpwq", out).reshape(B, cout, h * p, w * p)

    def tokens(self, tokens, context, pooled, timestep, positions):
        """Patch tokens [B, N, p*p*C] in (dy, dx, c) order at (row, col) positions [N, 2]."""
        tokens = np.asarray(tokens, np.float64)
        B, N, _ = tokens.shape
        wt = self.w["pos_embed.proj.weight"]  # [D, C, p, p]
        C = wt.shape[1]
        x = np.einsum("bnijc,dcij->bnd", tokens.reshape(B, N, self.p, self.p, C), wt) + self.w["pos_embed.proj.bias"]
        pos = np.asarray(positions, np.float64) * (self.base / self.max)
        x = x + sincos_2d(self.dim, pos[:, 0], pos[:, 1])[None]
        return self.network(x, context, pooled, timestep)
