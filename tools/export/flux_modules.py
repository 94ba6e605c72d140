"""Torch modules of the FLUX.1 pipeline with diffusers' / transformers' parameter names.

Written for the exporter on Debian's torch 1.13 (no diffusers or transformers here): the
transformer (FluxTransformer2DModel: double and single blocks, 3-axis RoPE computed in
float32 from float ids, optional guidance embedding), CLIPTextModel, T5EncoderModel and the
decoder half of AutoencoderKL. Each module is built from the component's config.json and
loads a state dict with the checkpoint's own tensor names.
"""
import math

import torch
from torch import nn
import torch.nn.functional as F

FP16_MAX = 65504.0


def attention(q, k, v, bias=None, causal=False, scale=None):
    """softmax(q k^T * scale + bias) v over [B, H, S, D] (torch 1.13 has no SDPA)."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = torch.matmul(q, k.transpose(-1, -2)) * scale
    if bias is not None:
        s = s + bias
    if causal:
        i = torch.arange(q.shape[-2])
        s = s.masked_fill(i[None, :] > i[:, None], torch.finfo(s.dtype).min)
    return torch.matmul(torch.softmax(s, dim=-1), v)


class MultiHeadAttention(torch.autograd.Function):
    """softmax(q k^T / sqrt(D)) v over q, k, v [B, S, H*D] → [B, S, H*D]: computed as
    `attention` for tracing, exported as ORT's com.microsoft MultiHeadAttention (one operator)."""

    @staticmethod
    def forward(ctx, q, k, v, heads):
        b, s, hd = q.shape
        split = lambda x: x.reshape(b, x.shape[1], heads, hd // heads).transpose(1, 2)
        return attention(split(q), split(k), split(v)).transpose(1, 2).reshape(b, s, hd)

    @staticmethod
    def symbolic(g, q, k, v, heads):
        out = g.op("com.microsoft::MultiHeadAttention", q, k, v, num_heads_i=heads)
        out.setType(q.type())
        return out


def set_export_form(module, mha=False, fp16=False):
    """The exporter's choices on a FluxTransformer's blocks: attention as one MultiHeadAttention
    operator (`mha`), and the clamps of an fp16 export (`fp16`)."""
    for m in module.modules():
        if hasattr(m, "mha"):
            m.mha = mha
        if hasattr(m, "fp16_clip"):
            m.fp16_clip = fp16


class RMSNorm(nn.Module):
    """x / rms(x) * weight (torch 1.13 has no nn.RMSNorm)."""

    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return x * torch.rsqrt(var + self.eps) * self.weight


# ---------------------------------------------------------------- FLUX transformer


def timestep_embedding(t, dim=256, max_period=10000.0):
    """Sinusoidal embedding, cos first (flip_sin_to_cos, no frequency shift)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None].float() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class MLPEmbedder(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.linear_1 = nn.Linear(d_in, d_out)
        self.linear_2 = nn.Linear(d_out, d_out)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class TimeTextEmbed(nn.Module):
    def __init__(self, dim, pooled_dim, guidance):
        super().__init__()
        self.timestep_embedder = MLPEmbedder(256, dim)
        if guidance:
            self.guidance_embedder = MLPEmbedder(256, dim)
        self.text_embedder = MLPEmbedder(pooled_dim, dim)

    def forward(self, timestep, guidance, pooled):
        emb = self.timestep_embedder(timestep_embedding(timestep))
        if guidance is not None:
            emb = emb + self.guidance_embedder(timestep_embedding(guidance))
        return emb + self.text_embedder(pooled)


def rope(ids, axes_dim, theta=10000.0):
    """cos, sin [S, sum(axes_dim)] from float ids [S, 3], pairs interleaved, in float32."""
    cos, sin = [], []
    for i, d in enumerate(axes_dim):
        freqs = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
        a = ids[:, i:i + 1].float() * freqs[None]
        # each frequency twice, side by side; torch 1.13 exports repeat_interleave as a Concat of
        # d/2 slices, which for FLUX's 56-wide axes needs more GPU storage buffers than allowed
        cos.append(torch.stack([torch.cos(a)] * 2, dim=-1).reshape(a.shape[0], d))
        sin.append(torch.stack([torch.sin(a)] * 2, dim=-1).reshape(a.shape[0], d))
    return torch.cat(cos, dim=-1), torch.cat(sin, dim=-1)


def apply_rope(x, cos, sin):
    b, h, s, d = x.shape
    pairs = x.reshape(b, h, s, d // 2, 2)
    rotated = torch.stack([-pairs[..., 1], pairs[..., 0]], dim=-1).reshape(b, h, s, d)
    return x * cos + rotated * sin


class FluxAttention(nn.Module):
    def __init__(self, dim, heads, head_dim, context=False, pre_only=False):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        inner = heads * head_dim
        self.to_q, self.to_k, self.to_v = (nn.Linear(dim, inner) for _ in range(3))
        self.norm_q, self.norm_k = RMSNorm(head_dim), RMSNorm(head_dim)
        if not pre_only:
            self.to_out = nn.ModuleList([nn.Linear(inner, dim)])
        self.context = context
        self.mha = False  # the exporter's --attention mha: one MultiHeadAttention operator
        if context:
            self.add_q_proj, self.add_k_proj, self.add_v_proj = (nn.Linear(dim, inner) for _ in range(3))
            self.norm_added_q, self.norm_added_k = RMSNorm(head_dim), RMSNorm(head_dim)
            self.to_add_out = nn.Linear(inner, dim)

    def _heads(self, x):
        b, s, _ = x.shape
        return x.reshape(b, s, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x, cos, sin, ctx=None):
        q, k, v = self._heads(self.to_q(x)), self._heads(self.to_k(x)), self._heads(self.to_v(x))
        q, k = self.norm_q(q), self.norm_k(k)
        if ctx is not None:
            cq = self.norm_added_q(self._heads(self.add_q_proj(ctx)))
            ck = self.norm_added_k(self._heads(self.add_k_proj(ctx)))
            cv = self._heads(self.add_v_proj(ctx))
            q, k, v = torch.cat([cq, q], 2), torch.cat([ck, k], 2), torch.cat([cv, v], 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        # [B, H, S, D] → [B, S, H*D], each by its own shape: what fuse_graph.py's reshape form
        # can prove and make constant
        tokens = lambda t: t.transpose(1, 2).reshape(t.shape[0], t.shape[2], -1)
        if self.mha:
            o = MultiHeadAttention.apply(tokens(q), tokens(k), tokens(v), self.heads)
        else:
            o = tokens(attention(q, k, v))
        if ctx is None:
            return o
        L = ctx.shape[1]
        return self.to_out[0](o[:, L:]), self.to_add_out(o[:, :L])


def modulate(x, shift, scale, dim):
    return F.layer_norm(x, (dim,), eps=1e-6) * (1 + scale[:, None]) + shift[:, None]


class AdaNorm(nn.Module):
    """LayerNorm without affine, modulated by chunks of linear(silu(temb))."""

    def __init__(self, dim, chunks):
        super().__init__()
        self.chunks, self.dim = chunks, dim
        self.linear = nn.Linear(dim, chunks * dim)

    def forward(self, x, temb):
        mods = self.linear(F.silu(temb)).chunk(self.chunks, dim=1)
        return (modulate(x, mods[0], mods[1], self.dim),) + mods[2:]


class FeedForward(nn.Module):
    def __init__(self, dim):
        super().__init__()
        proj = nn.Module()
        proj.proj = nn.Linear(dim, 4 * dim)
        self.net = nn.ModuleList([proj, nn.Identity(), nn.Linear(4 * dim, dim)])

    def forward(self, x):
        return self.net[2](F.gelu(self.net[0].proj(x), approximate="tanh"))


class DoubleBlock(nn.Module):
    # an fp16 export clamps the text stream to fp16's range after each double block and the joint
    # stream after each single block, as diffusers does in fp16 (set by export_flux.py)
    fp16_clip = False

    def __init__(self, dim, heads, head_dim):
        super().__init__()
        self.dim = dim
        self.norm1, self.norm1_context = AdaNorm(dim, 6), AdaNorm(dim, 6)
        self.attn = FluxAttention(dim, heads, head_dim, context=True)
        self.ff, self.ff_context = FeedForward(dim), FeedForward(dim)

    def forward(self, x, ctx, temb, cos, sin):
        nx, gate, shift2, scale2, gate2 = self.norm1(x, temb)
        nc, cgate, cshift2, cscale2, cgate2 = self.norm1_context(ctx, temb)
        a, ca = self.attn(nx, cos, sin, ctx=nc)
        x = x + gate[:, None] * a
        x = x + gate2[:, None] * self.ff(modulate(x, shift2, scale2, self.dim))
        ctx = ctx + cgate[:, None] * ca
        ctx = ctx + cgate2[:, None] * self.ff_context(modulate(ctx, cshift2, cscale2, self.dim))
        if self.fp16_clip:
            ctx = ctx.clamp(-FP16_MAX, FP16_MAX)
        return x, ctx


class SingleBlock(nn.Module):
    fp16_clip = False

    def __init__(self, dim, heads, head_dim):
        super().__init__()
        self.norm = AdaNorm(dim, 3)
        self.proj_mlp = nn.Linear(dim, 4 * dim)
        self.attn = FluxAttention(dim, heads, head_dim, pre_only=True)
        self.proj_out = nn.Linear(5 * dim, dim)

    def forward(self, x, temb, cos, sin):
        nx, gate = self.norm(x, temb)
        mlp = F.gelu(self.proj_mlp(nx), approximate="tanh")
        y = torch.cat([self.attn(nx, cos, sin), mlp], dim=2)
        x = x + gate[:, None] * self.proj_out(y)
        return x.clamp(-FP16_MAX, FP16_MAX) if self.fp16_clip else x


class NormOut(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim
        self.linear = nn.Linear(dim, 2 * dim)

    def forward(self, x, temb):
        scale, shift = self.linear(F.silu(temb)).chunk(2, dim=1)  # scale first here
        return modulate(x, shift, scale, self.dim)


class FluxTransformer(nn.Module):
    """FluxTransformer2DModel's forward: (hidden, context, pooled, sigma, img_ids, txt_ids, guidance)."""

    def __init__(self, cfg):
        super().__init__()
        heads, head_dim = cfg["num_attention_heads"], cfg["attention_head_dim"]
        dim = heads * head_dim
        self.axes = list(cfg.get("axes_dims_rope", [16, 56, 56]))
        assert sum(self.axes) == head_dim, "axes_dims_rope must add up to attention_head_dim"
        cin = cfg.get("in_channels", 64)
        cout = cfg.get("out_channels") or cin
        self.guidance = bool(cfg.get("guidance_embeds", False))
        self.x_embedder = nn.Linear(cin, dim)
        self.context_embedder = nn.Linear(cfg["joint_attention_dim"], dim)
        self.time_text_embed = TimeTextEmbed(dim, cfg["pooled_projection_dim"], self.guidance)
        self.transformer_blocks = nn.ModuleList(
            [DoubleBlock(dim, heads, head_dim) for _ in range(cfg["num_layers"])])
        self.single_transformer_blocks = nn.ModuleList(
            [SingleBlock(dim, heads, head_dim) for _ in range(cfg["num_single_layers"])])
        self.norm_out = NormOut(dim)
        self.proj_out = nn.Linear(dim, cfg.get("patch_size", 1) ** 2 * cout)

    def forward(self, hidden_states, encoder_hidden_states, pooled_projections, timestep, img_ids,
                txt_ids, guidance=None):
        context, vec = self.conditioning(encoder_hidden_states, pooled_projections, guidance)
        cos, sin = rope(torch.cat([txt_ids, img_ids], dim=0), self.axes)
        return self.step(hidden_states, context, vec, timestep, cos, sin)

    def conditioning(self, encoder_hidden_states, pooled_projections, guidance=None):
        """What a run does not change: the embedded text, and the pooled text (+ guidance) vector
        that each step's timestep embedding is added to."""
        e = self.time_text_embed
        vec = e.text_embedder(pooled_projections)
        if guidance is not None:
            vec = vec + e.guidance_embedder(timestep_embedding(guidance * 1000.0))
        return self.context_embedder(encoder_hidden_states), vec

    def step(self, hidden_states, context, vec, timestep, rope_cos, rope_sin):
        """One evaluation given the run's conditioning and the stage's RoPE tables ([text, image])."""
        x = self.x_embedder(hidden_states)
        temb = self.time_text_embed.timestep_embedder(timestep_embedding(timestep * 1000.0)) + vec
        ctx, cos, sin = context, rope_cos, rope_sin
        for b in self.transformer_blocks:
            x, ctx = b(x, ctx, temb, cos, sin)
        L = ctx.shape[1]
        x = torch.cat([ctx, x], dim=1)
        for b in self.single_transformer_blocks:
            x = b(x, temb, cos, sin)
        return self.proj_out(self.norm_out(x[:, L:], temb))


# ---------------------------------------------------------------- CLIP text model


class ClipLayer(nn.Module):
    def __init__(self, d, ff, heads, eps):
        super().__init__()
        self.heads, self.eps = heads, eps
        attn = nn.Module()
        attn.q_proj, attn.k_proj, attn.v_proj, attn.out_proj = (nn.Linear(d, d) for _ in range(4))
        self.self_attn = attn
        self.layer_norm1, self.layer_norm2 = nn.LayerNorm(d, eps=eps), nn.LayerNorm(d, eps=eps)
        mlp = nn.Module()
        mlp.fc1, mlp.fc2 = nn.Linear(d, ff), nn.Linear(ff, d)
        self.mlp = mlp

    def forward(self, x, act):
        b, s, d = x.shape
        h = self.layer_norm1(x)
        a = self.self_attn
        split = lambda t: t.reshape(b, s, self.heads, d // self.heads).transpose(1, 2)
        o = attention(split(a.q_proj(h)), split(a.k_proj(h)), split(a.v_proj(h)), causal=True)
        x = x + a.out_proj(o.transpose(1, 2).reshape(b, s, d))
        return x + self.mlp.fc2(act(self.mlp.fc1(self.layer_norm2(x))))


class ClipTextModel(nn.Module):
    """CLIPTextModel: input_ids → last_hidden_state, pooler_output (the first end token)."""

    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        tm = nn.Module()
        emb = nn.Module()
        emb.token_embedding = nn.Embedding(cfg["vocab_size"], d)
        emb.position_embedding = nn.Embedding(cfg["max_position_embeddings"], d)
        tm.embeddings = emb
        enc = nn.Module()
        eps = cfg.get("layer_norm_eps", 1e-5)
        enc.layers = nn.ModuleList([
            ClipLayer(d, cfg["intermediate_size"], cfg["num_attention_heads"], eps)
            for _ in range(cfg["num_hidden_layers"])
        ])
        tm.encoder = enc
        tm.final_layer_norm = nn.LayerNorm(d, eps=eps)
        self.text_model = tm
        self.eos = cfg.get("eos_token_id", 2)
        self.quick = cfg.get("hidden_act", "quick_gelu") == "quick_gelu"

    def encode(self, input_ids):
        """→ (last_hidden_state, pooled, the penultimate layer's output before the final norm)."""
        tm = self.text_model
        s = input_ids.shape[1]
        pos = torch.arange(s, dtype=torch.long)[None]
        x = tm.embeddings.token_embedding(input_ids) + tm.embeddings.position_embedding(pos)
        act = (lambda t: t * torch.sigmoid(1.702 * t)) if self.quick else F.gelu
        penultimate = x
        for i, layer in enumerate(tm.encoder.layers):
            x = layer(x, act)
            if i == len(tm.encoder.layers) - 2:
                penultimate = x
        x = tm.final_layer_norm(x)
        # transformers: argmax of the ids when eos_token_id is 2 (old configs), else the first eos
        if self.eos == 2:
            at = input_ids.to(torch.int32).argmax(dim=-1)
        else:
            at = (input_ids == self.eos).to(torch.int32).argmax(dim=-1)
        pooled = x[torch.arange(x.shape[0]), at]
        return x, pooled, penultimate

    def forward(self, input_ids):
        x, pooled, _ = self.encode(input_ids)
        return x, pooled


# ---------------------------------------------------------------- T5 encoder


def t5_buckets(q_len, k_len, num_buckets=32, max_distance=128):
    rel = torch.arange(k_len)[None, :] - torch.arange(q_len)[:, None]
    half = num_buckets // 2
    out = (rel > 0).long() * half
    rel = rel.abs()
    exact = half // 2
    large = exact + (torch.log(rel.float().clamp(min=1) / exact) / math.log(max_distance / exact)
                     * (half - exact)).long()
    large = torch.clamp(large, max=half - 1)
    return out + torch.where(rel < exact, rel, large)


class T5Block(nn.Module):
    def __init__(self, cfg, has_bias):
        super().__init__()
        d, inner, ff = cfg["d_model"], cfg["num_heads"] * cfg["d_kv"], cfg["d_ff"]
        eps = cfg.get("layer_norm_epsilon", 1e-6)
        att = nn.Module()
        sa = nn.Module()
        sa.q, sa.k, sa.v = (nn.Linear(d, inner, bias=False) for _ in range(3))
        sa.o = nn.Linear(inner, d, bias=False)
        if has_bias:
            sa.relative_attention_bias = nn.Embedding(cfg["relative_attention_num_buckets"],
                                                      cfg["num_heads"])
        att.SelfAttention = sa
        att.layer_norm = RMSNorm(d, eps)
        mlp = nn.Module()
        drd = nn.Module()
        self.gated = cfg.get("feed_forward_proj", "gated-gelu").startswith("gated")
        if self.gated:
            drd.wi_0, drd.wi_1 = nn.Linear(d, ff, bias=False), nn.Linear(d, ff, bias=False)
        else:
            drd.wi = nn.Linear(d, ff, bias=False)
        drd.wo = nn.Linear(ff, d, bias=False)
        mlp.DenseReluDense = drd
        mlp.layer_norm = RMSNorm(d, eps)
        self.layer = nn.ModuleList([att, mlp])
        self.heads, self.d_kv = cfg["num_heads"], cfg["d_kv"]

    def forward(self, x, bias):
        att, mlp = self.layer
        sa = att.SelfAttention
        h = att.layer_norm(x)
        b, s, _ = h.shape
        split = lambda t: t.reshape(b, s, self.heads, self.d_kv).transpose(1, 2)
        o = attention(split(sa.q(h)), split(sa.k(h)), split(sa.v(h)), bias=bias, scale=1.0)
        x = x + sa.o(o.transpose(1, 2).reshape(b, s, self.heads * self.d_kv))
        d = mlp.DenseReluDense
        h = mlp.layer_norm(x)
        if self.gated:
            h = F.gelu(d.wi_0(h), approximate="tanh") * d.wi_1(h)
        else:
            h = F.relu(d.wi(h))
        return x + d.wo(h)


class T5Encoder(nn.Module):
    """T5EncoderModel: input_ids → last_hidden_state (no attention mask, as FLUX calls it)."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.shared = nn.Embedding(cfg["vocab_size"], cfg["d_model"])
        enc = nn.Module()
        enc.block = nn.ModuleList([T5Block(cfg, i == 0) for i in range(cfg["num_layers"])])
        enc.final_layer_norm = RMSNorm(cfg["d_model"], cfg.get("layer_norm_epsilon", 1e-6))
        self.encoder = enc

    def forward(self, input_ids):
        x = self.shared(input_ids)
        s = input_ids.shape[1]
        rab = self.encoder.block[0].layer[0].SelfAttention.relative_attention_bias
        buckets = t5_buckets(s, s, self.cfg["relative_attention_num_buckets"],
                             self.cfg.get("relative_attention_max_distance", 128))
        bias = rab(buckets).permute(2, 0, 1)[None]
        for blk in self.encoder.block:
            x = blk(x, bias)
        return self.encoder.final_layer_norm(x)


# ---------------------------------------------------------------- VAE decoder


class Resnet(nn.Module):
    def __init__(self, cin, cout, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=1e-6)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, cout, eps=1e-6)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        if cin != cout:
            self.conv_shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if hasattr(self, "conv_shortcut") else x) + h


class VaeAttention(nn.Module):
    def __init__(self, c, groups):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, c, eps=1e-6)
        self.to_q, self.to_k, self.to_v = (nn.Linear(c, c) for _ in range(3))
        self.to_out = nn.ModuleList([nn.Linear(c, c)])

    def forward(self, x):
        b, c, h, w = x.shape
        t = self.group_norm(x).reshape(b, c, h * w).transpose(1, 2)[:, None]
        o = attention(self.to_q(t), self.to_k(t), self.to_v(t))[:, 0]
        return x + self.to_out[0](o).transpose(1, 2).reshape(b, c, h, w)


class VaeDecoder(nn.Module):
    """AutoencoderKL's decode (post_quant_conv when configured, then the decoder)."""

    def __init__(self, cfg):
        super().__init__()
        ch = list(cfg["block_out_channels"])
        g = cfg.get("norm_num_groups", 32)
        zc = cfg["latent_channels"]
        layers = cfg.get("layers_per_block", 2)
        if cfg.get("use_post_quant_conv", True):
            self.post_quant_conv = nn.Conv2d(zc, zc, 1)
        dec = nn.Module()
        dec.conv_in = nn.Conv2d(zc, ch[-1], 3, padding=1)
        mid = nn.Module()
        mid.resnets = nn.ModuleList([Resnet(ch[-1], ch[-1], g), Resnet(ch[-1], ch[-1], g)])
        mid.attentions = nn.ModuleList([VaeAttention(ch[-1], g)])
        dec.mid_block = mid
        ups = []
        rev = ch[::-1]
        prev = rev[0]
        for i, c in enumerate(rev):
            up = nn.Module()
            up.resnets = nn.ModuleList([Resnet(prev if j == 0 else c, c, g) for j in range(layers + 1)])
            if i < len(rev) - 1:
                us = nn.Module()
                us.conv = nn.Conv2d(c, c, 3, padding=1)
                up.upsamplers = nn.ModuleList([us])
            ups.append(up)
            prev = c
        dec.up_blocks = nn.ModuleList(ups)
        dec.conv_norm_out = nn.GroupNorm(g, ch[0], eps=1e-6)
        dec.conv_out = nn.Conv2d(ch[0], cfg.get("out_channels", 3), 3, padding=1)
        self.decoder = dec

    def forward(self, latent_sample):
        z = self.post_quant_conv(latent_sample) if hasattr(self, "post_quant_conv") else latent_sample
        d = self.decoder
        x = d.conv_in(z)
        x = d.mid_block.resnets[0](x)
        x = d.mid_block.attentions[0](x)
        x = d.mid_block.resnets[1](x)
        for up in d.up_blocks:
            for r in up.resnets:
                x = r(x)
            if hasattr(up, "upsamplers"):
                x = up.upsamplers[0].conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return d.conv_out(F.silu(d.conv_norm_out(x)))


COMPONENTS = {
    "transformer": FluxTransformer,
    "text_encoder": ClipTextModel,
    "text_encoder_2": T5Encoder,
    "vae": VaeDecoder,
}
