"""Torch modules of the Stable Diffusion 3 / 3.5 pipeline with diffusers' parameter names.

The transformer is SD3Transformer2DModel written at token level, so RALU can feed it any set of
tokens: patch tokens `[B, N, p*p*C]` in (dy, dx, c) order (the patch conv's weight applied as one
matrix), their `positions` `[N, 2]` as (row, col) in the stored position table's index space,
and the 2-D sin-cos embedding evaluated at those coordinates (fractional ones included) instead
of read from the table. Joint blocks with the last one context-pre-only, SD3.5's q/k RMS norm
and SD3.5-Medium's second (image-only) attention are all here. The text encoders are
CLIPTextModelWithProjection (the penultimate layer and the projected pooled vector, as the SD3
pipeline uses them) and T5; the VAE decoder is FLUX's (flux_modules.py).
"""
import torch
from torch import nn

from flux_modules import (COMPONENTS as FLUX_COMPONENTS, AdaNorm, ClipTextModel, FeedForward, NormOut,
                          RMSNorm, TimeTextEmbed, attention, modulate)


def sincos_table(dim, max_size, base_size, interpolation_scale=1.0):
    """The stored table diffusers builds (`pos_embed.pos_embed`), [max_size^2, dim], row-major."""
    idx = torch.arange(max_size, dtype=torch.float64)
    rows, cols = torch.meshgrid(idx, idx, indexing="ij")
    pos = torch.stack([rows.reshape(-1), cols.reshape(-1)], 1)
    return sincos(pos, dim, base_size / max_size / interpolation_scale).float()


def sincos(pos, dim, scale):
    """The 2-D sin-cos embedding of (row, col) positions [N, 2]: the first half encodes the
    column, the second the row, each as [sin, cos] over dim/4 frequencies 10000^(-k/(dim/4))."""
    quarter = dim // 4
    omega = 1.0 / 10000.0 ** (torch.arange(quarter, dtype=pos.dtype) / quarter)
    parts = []
    for axis in (1, 0):
        a = (pos[:, axis:axis + 1] * scale) * omega[None]
        parts += [torch.sin(a), torch.cos(a)]
    return torch.cat(parts, dim=1)


class PatchEmbed(nn.Module):
    """The patch conv as a linear map of (dy, dx, c) tokens, plus the position embedding."""

    def __init__(self, cin, dim, patch, max_size, base_size):
        super().__init__()
        self.proj = nn.Conv2d(cin, dim, patch, stride=patch)
        self.register_buffer("pos_embed", sincos_table(dim, max_size, base_size)[None])
        self.dim, self.scale = dim, base_size / max_size

    def forward(self, tokens, positions):
        w = self.proj.weight.permute(0, 2, 3, 1).reshape(self.dim, -1)  # [D, (dy, dx, c)]
        return tokens @ w.T + self.proj.bias + sincos(positions, self.dim, self.scale)[None]


class JointAttention(nn.Module):
    """Joint attention over image then context tokens (SD3's order); `context=False` is the
    dual-attention blocks' image-only `attn2`."""

    def __init__(self, dim, heads, head_dim, qk_norm, context=True, pre_only=False):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        inner = heads * head_dim
        self.to_q, self.to_k, self.to_v = (nn.Linear(dim, inner) for _ in range(3))
        self.to_out = nn.ModuleList([nn.Linear(inner, dim)])
        if qk_norm:
            self.norm_q, self.norm_k = RMSNorm(head_dim), RMSNorm(head_dim)
        if context:
            self.add_q_proj, self.add_k_proj, self.add_v_proj = (nn.Linear(dim, inner) for _ in range(3))
            if qk_norm:
                self.norm_added_q, self.norm_added_k = RMSNorm(head_dim), RMSNorm(head_dim)
            if not pre_only:
                self.to_add_out = nn.Linear(inner, dim)
        self.qk_norm, self.pre_only = qk_norm, pre_only

    def _heads(self, x):
        b, s, _ = x.shape
        return x.reshape(b, s, self.heads, self.head_dim).transpose(1, 2)

    def _qkv(self, x, q, k, v, nq, nk):
        q, k, v = self._heads(q(x)), self._heads(k(x)), self._heads(v(x))
        if self.qk_norm:
            q, k = nq(q), nk(k)
        return q, k, v

    def forward(self, x, ctx=None):
        q, k, v = self._qkv(x, self.to_q, self.to_k, self.to_v, getattr(self, "norm_q", None),
                            getattr(self, "norm_k", None))
        if ctx is not None:
            cq, ck, cv = self._qkv(ctx, self.add_q_proj, self.add_k_proj, self.add_v_proj,
                                   getattr(self, "norm_added_q", None), getattr(self, "norm_added_k", None))
            q, k, v = torch.cat([q, cq], 2), torch.cat([k, ck], 2), torch.cat([v, cv], 2)
        o = attention(q, k, v)
        b, h, s, d = o.shape
        o = o.transpose(1, 2).reshape(b, s, h * d)
        if ctx is None:
            return self.to_out[0](o)
        n = x.shape[1]
        img = self.to_out[0](o[:, :n])
        return img, (None if self.pre_only else self.to_add_out(o[:, n:]))


class JointBlock(nn.Module):
    def __init__(self, dim, heads, head_dim, pre_only, qk_norm, dual):
        super().__init__()
        self.dim, self.pre_only, self.dual = dim, pre_only, dual
        self.norm1 = AdaNorm(dim, 9 if dual else 6)
        self.norm1_context = NormOut(dim) if pre_only else AdaNorm(dim, 6)
        self.attn = JointAttention(dim, heads, head_dim, qk_norm, pre_only=pre_only)
        if dual:
            self.attn2 = JointAttention(dim, heads, head_dim, qk_norm, context=False)
        self.ff = FeedForward(dim)
        if not pre_only:
            self.ff_context = FeedForward(dim)

    def forward(self, x, ctx, temb):
        nx, gate, shift2, scale2, gate2, *extra = self.norm1(x, temb)
        if self.pre_only:
            nc = self.norm1_context(ctx, temb)
        else:
            nc, cgate, cshift2, cscale2, cgate2 = self.norm1_context(ctx, temb)
        a, ca = self.attn(nx, nc)
        out = x + gate[:, None] * a
        if self.dual:
            shift_b, scale_b, gate_b = extra
            out = out + gate_b[:, None] * self.attn2(modulate(x, shift_b, scale_b, self.dim))
        out = out + gate2[:, None] * self.ff(modulate(out, shift2, scale2, self.dim))
        if self.pre_only:
            return out, None
        ctx = ctx + cgate[:, None] * ca
        ctx = ctx + cgate2[:, None] * self.ff_context(modulate(ctx, cshift2, cscale2, self.dim))
        return out, ctx


class SD3Transformer(nn.Module):
    """SD3Transformer2DModel at token level: (tokens, context, pooled, timestep 0..1000, positions)."""

    def __init__(self, cfg):
        super().__init__()
        heads, head_dim = cfg["num_attention_heads"], cfg["attention_head_dim"]
        dim = heads * head_dim
        p, cin = cfg.get("patch_size", 2), cfg.get("in_channels", 16)
        cout = cfg.get("out_channels") or cin
        self.pos_embed = PatchEmbed(cin, dim, p, cfg["pos_embed_max_size"], cfg.get("sample_size", 128) // p)
        self.time_text_embed = TimeTextEmbed(dim, cfg["pooled_projection_dim"], guidance=False)
        self.context_embedder = nn.Linear(cfg["joint_attention_dim"], cfg.get("caption_projection_dim", dim))
        dual = set(cfg.get("dual_attention_layers") or ())
        n = cfg["num_layers"]
        qk = cfg.get("qk_norm")
        if qk not in (None, "rms_norm"):
            raise SystemExit(f"transformer/config.json: qk_norm {qk!r} is not supported (rms_norm or none)")
        self.transformer_blocks = nn.ModuleList(
            [JointBlock(dim, heads, head_dim, i == n - 1, qk == "rms_norm", i in dual) for i in range(n)])
        self.norm_out = NormOut(dim)
        self.proj_out = nn.Linear(dim, p * p * cout)

    def forward(self, hidden_states, encoder_hidden_states, pooled_projections, timestep, positions):
        x = self.pos_embed(hidden_states, positions)
        temb = self.time_text_embed(timestep, None, pooled_projections)
        ctx = self.context_embedder(encoder_hidden_states)
        for b in self.transformer_blocks:
            x, ctx = b(x, ctx, temb)
        return self.proj_out(self.norm_out(x, temb))


class ClipWithProjection(ClipTextModel):
    """CLIPTextModelWithProjection as SD3 uses it: the penultimate layer's hidden states (before
    the final norm) and the projected pooled vector."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.text_projection = nn.Linear(cfg["hidden_size"], cfg["projection_dim"], bias=False)

    def forward(self, input_ids):
        last, pooled, penultimate = self.encode(input_ids)
        return last, self.text_projection(pooled), penultimate


COMPONENTS = {
    "transformer": SD3Transformer,
    "text_encoder": ClipWithProjection,
    "text_encoder_2": ClipWithProjection,
    "text_encoder_3": FLUX_COMPONENTS["text_encoder_2"],
    "vae": FLUX_COMPONENTS["vae"],
}
