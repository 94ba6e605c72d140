"""The default model's three networks, with the FLUX.1 ONNX contract.

* TextEncoder: word ids [1, L] -> last_hidden_state [1, L, D_txt], pooled [1, D_txt]
* Autoencoder: image [-1, 1] <-> latent [C, H/4, W/4]
* DiT: single-stream joint attention over text + image tokens, 2-D rotary positions over
  id axes 1 and 2 (axis 0 is kept, as FLUX does), adaLN-zero conditioning on the
  timestep (sigma) and the pooled text.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class TextEncoder(nn.Module):
    def __init__(self, vocab, max_tokens, dim=64, layers=2, heads=4):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.randn(1, max_tokens, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, heads, rope=False) for _ in range(layers)])
        self.norm = nn.LayerNorm(dim)

    def forward(self, input_ids):
        x = self.embed(input_ids) + self.pos[:, : input_ids.shape[1]]
        for b in self.blocks:
            x = b(x, None, None)
        x = self.norm(x)
        return x, x.mean(dim=1)


class Autoencoder(nn.Module):
    def __init__(self, channels=4, width=64):
        super().__init__()
        w = width
        self.encoder = nn.Sequential(
            nn.Conv2d(3, w // 2, 3, padding=1), nn.SiLU(),
            nn.Conv2d(w // 2, w, 4, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(w, w, 3, padding=1), nn.SiLU(),
            nn.Conv2d(w, w, 4, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(w, w, 3, padding=1), nn.SiLU(),
            nn.Conv2d(w, channels, 3, padding=1),
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(channels, w, 3, padding=1), nn.SiLU(),
            nn.Conv2d(w, w, 3, padding=1), nn.SiLU(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(w, w, 3, padding=1), nn.SiLU(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(w, w // 2, 3, padding=1), nn.SiLU(),
            nn.Conv2d(w // 2, w // 2, 3, padding=1), nn.SiLU(),
            nn.Conv2d(w // 2, 3, 3, padding=1),
        )

    def encode(self, img):
        return self.encoder(img)

    def decode(self, z):
        return self.decoder(z)


class Decoder(nn.Module):
    """What vae_decoder.onnx contains: raw latent -> image in [-1, 1]."""

    def __init__(self, ae):
        super().__init__()
        self.decoder = ae.decoder

    def forward(self, latent_sample):
        return torch.clamp(self.decoder(latent_sample), -1.0, 1.0)


def rope(ids, axes_dim, theta=10000.0):
    """ids [n, 3] -> (cos, sin) each [n, head_dim/2]; one frequency band per id axis."""
    cos, sin = [], []
    for axis, d in enumerate(axes_dim):
        omega = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float32, device=ids.device) / d)
        ang = ids[:, axis : axis + 1] * omega[None, :]
        cos.append(torch.cos(ang))
        sin.append(torch.sin(ang))
    return torch.cat(cos, -1), torch.cat(sin, -1)


def apply_rope(x, cos, sin):
    # x [B, heads, n, d]; rotate consecutive pairs (x0, x1)
    b, h, n, d = x.shape
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    x = x.reshape(b, h, n, d // 2, 2)
    x0, x1 = x[..., 0], x[..., 1]
    y0 = x0 * cos - x1 * sin
    y1 = x0 * sin + x1 * cos
    return torch.stack([y0, y1], -1).reshape(b, h, n, d)


class Block(nn.Module):
    """Pre-norm transformer block; with `mod` it is adaLN-zero modulated."""

    def __init__(self, dim, heads, rope=True, mlp_ratio=4):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.q_norm = nn.LayerNorm(dim // heads)
        self.k_norm = nn.LayerNorm(dim // heads)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * mlp_ratio), nn.GELU(approximate="tanh"),
                                 nn.Linear(dim * mlp_ratio, dim))

    def forward(self, x, pe, mod):
        b, n, d = x.shape
        if mod is not None:
            sh1, sc1, g1, sh2, sc2, g2 = mod
        h = self.norm1(x)
        if mod is not None:
            h = h * (1 + sc1) + sh1
        q, k, v = self.qkv(h).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k = self.q_norm(q), self.k_norm(k)
        if pe is not None:
            q, k = apply_rope(q, *pe), apply_rope(k, *pe)
        q, k = q.to(v.dtype), k.to(v.dtype)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.heads), dim=-1)
        h = self.proj((att.to(v.dtype) @ v).transpose(1, 2).reshape(b, n, d))
        x = x + (g1 * h if mod is not None else h)
        h = self.norm2(x)
        if mod is not None:
            h = h * (1 + sc2) + sh2
        h = self.mlp(h)
        return x + (g2 * h if mod is not None else h)


def timestep_embedding(t, dim, max_period=10000.0):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device)
                      / half)
    args = t[:, None].float() * 1000.0 * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class DiT(nn.Module):
    def __init__(self, in_dim=16, txt_dim=64, dim=192, depth=6, heads=3, axes_dim=(8, 28, 28)):
        super().__init__()
        assert sum(axes_dim) == dim // heads
        self.axes_dim = axes_dim
        self.dim = dim
        self.img_in = nn.Linear(in_dim, dim)
        self.txt_in = nn.Linear(txt_dim, dim)
        self.time_in = nn.Sequential(nn.Linear(256, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.vec_in = nn.Sequential(nn.Linear(txt_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        self.mods = nn.ModuleList([nn.Linear(dim, 6 * dim) for _ in range(depth)])
        self.final_norm = nn.LayerNorm(dim)
        self.final_mod = nn.Linear(dim, 2 * dim)
        self.final = nn.Linear(dim, in_dim)
        for m in list(self.mods) + [self.final_mod, self.final]:
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, hidden_states, encoder_hidden_states, pooled_projections, timestep,
                img_ids, txt_ids):
        x = self.img_in(hidden_states)
        c = self.txt_in(encoder_hidden_states)
        vec = F.silu(self.time_in(timestep_embedding(timestep, 256)) + self.vec_in(pooled_projections))
        n_txt = c.shape[1]
        h = torch.cat([c, x], dim=1)
        ids = torch.cat([txt_ids, img_ids], dim=0)
        cos, sin = rope(ids, self.axes_dim)
        pe = (cos[None, None], sin[None, None])
        for block, mod in zip(self.blocks, self.mods):
            m = mod(vec)[:, None, :].chunk(6, dim=-1)
            h = block(h, pe, m)
        h = h[:, n_txt:]
        shift, scale = self.final_mod(vec)[:, None, :].chunk(2, dim=-1)
        return self.final(self.final_norm(h) * (1 + scale) + shift)


def patchify(z):
    """[B, C, H, W] -> tokens [B, (H/2)(W/2), 4C] (FLUX packing: channel, then 2x2 offset)."""
    b, c, hh, ww = z.shape
    z = z.reshape(b, c, hh // 2, 2, ww // 2, 2).permute(0, 2, 4, 1, 3, 5)
    return z.reshape(b, (hh // 2) * (ww // 2), c * 4)


def unpatchify(t, c, hh, ww):
    b = t.shape[0]
    t = t.reshape(b, hh // 2, ww // 2, c, 2, 2).permute(0, 3, 1, 4, 2, 5)
    return t.reshape(b, c, hh, ww)


def grid_ids(hh, ww):
    """Token ids (0, row, col) of a (hh/2) x (ww/2) token grid, row-major."""
    rows = torch.arange(hh // 2, dtype=torch.float32)
    cols = torch.arange(ww // 2, dtype=torch.float32)
    r, c = torch.meshgrid(rows, cols, indexing="ij")
    return torch.stack([torch.zeros_like(r), r, c], -1).reshape(-1, 3)
