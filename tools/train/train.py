"""Train and export the default model (offline tooling; the server never imports this).

  python3 tools/train/train.py ae      --steps 1500   # autoencoder (f = 4, C = 4)
  python3 tools/train/train.py dit     --steps 6000   # text encoder + DiT, flow matching
  python3 tools/train/train.py pairs   --count 1024 --steps 20 --out tools/train/pairs.pt
  python3 tools/train/train.py dit     --pairs tools/train/pairs.pt --pair-share 0.5
  python3 tools/train/train.py export  --out models/default
  python3 tools/train/train.py fixture --out models/fixture   # untrained, tiny, for tests

Every stage is seeded and resumes from tools/train/checkpoint.pt (fp16 weights + EMA),
which is replaced in place every --save-every steps.
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

import scenes
import scenes_torch
from model import DiT, Autoencoder, Decoder, TextEncoder, grid_ids, patchify, unpatchify

HERE = os.path.dirname(os.path.abspath(__file__))
CKPT = os.path.join(HERE, "checkpoint.pt")
FULL, HALF = 128, 64
LATENT_C = 4
BASE_SHIFT = 3.0  # the sampler's h0: the manifest's base_shift, and the teacher's in `pairs`
DEFAULT_ARCH = {"dim": 128, "depth": 5, "heads": 2, "axes_dim": [8, 28, 28], "txt_dim": 64,
                "txt_layers": 2, "ae_width": 64}
FIXTURE_ARCH = {"dim": 32, "depth": 1, "heads": 1, "axes_dim": [4, 14, 14], "txt_dim": 16,
                "txt_layers": 1, "ae_width": 8}


def build(arch):
    ae = Autoencoder(LATENT_C, arch["ae_width"])
    te = TextEncoder(len(scenes.VOCAB), scenes.MAX_TOKENS, arch["txt_dim"], arch["txt_layers"])
    dit = DiT(4 * LATENT_C, arch["txt_dim"], arch["dim"], arch["depth"], arch["heads"],
              tuple(arch["axes_dim"]))
    return ae, te, dit


def half_state(module):
    return {k: v.detach().half().cpu() for k, v in module.state_dict().items()}


def load_state(module, state):
    module.load_state_dict({k: v.float() for k, v in state.items()})


def save(ckpt):
    tmp = CKPT + ".tmp"
    torch.save(ckpt, tmp)
    os.replace(tmp, CKPT)


def load():
    return torch.load(CKPT, map_location="cpu") if os.path.exists(CKPT) else {"arch": DEFAULT_ARCH}


def load_models(path=None, raw=False):
    """(checkpoint, autoencoder, text encoder, DiT) in eval mode, from `path` or CKPT; the
    EMA weights unless `raw`."""
    ckpt = torch.load(path, map_location="cpu") if path else load()
    ae, te, dit = build(ckpt["arch"])
    load_state(ae, ckpt["ae"])
    load_state(te, ckpt["te" if raw else "te_ema"])
    load_state(dit, ckpt["dit" if raw else "dit_ema"])
    for m in (ae, te, dit):
        m.eval()
    return ckpt, ae, te, dit


def shift_sigma(t, h):
    """The sampler's time shift (base shift h): t in [0, 1] -> sigma, more of it near 1."""
    return h * t / (1 + (h - 1) * t)


def base_sigmas(steps, h=BASE_SHIFT):
    """The base sampler's sigmas: 1 -> 0 in `steps` equal steps of t, through shift h."""
    return shift_sigma(torch.linspace(1, 0, steps + 1), h)


def model_latent(ae, x, stats):
    """Image [B, 3, H, W] in [-1, 1] -> the DiT's latent space (scaled, shifted) [B, C, h, w]."""
    return (ae.encode(x) - stats["shift"]) * stats["scale"]


def tokens_latent(tokens, stats, hh, ww):
    """DiT tokens (model space) -> the autoencoder's latent [B, C, hh, ww]."""
    return unpatchify(tokens, LATENT_C, hh, ww) / stats["scale"] + stats["shift"]


def euler(dit, x, txt, pooled, sigmas, img_ids, txt_ids):
    """Euler steps of the DiT's velocity through `sigmas` (what the server's base sampler
    does, guidance 1)."""
    for a, b in zip(sigmas[:-1], sigmas[1:]):
        x = x + (b - a) * dit(x, txt, pooled, a.repeat(len(x)), img_ids, txt_ids)
    return x


def rgb8(ae, latent):
    """Autoencoder latent -> uint8 image [B, H, W, 3]."""
    return ((ae.decode(latent).clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1)


def log(msg):
    line = f"{time.strftime('%H:%M:%S')} {msg}"
    print(line, flush=True)
    with open(os.path.join(os.path.dirname(CKPT), "train.log"), "a") as f:
        f.write(line + "\n")


def train_ae(args):
    ckpt = load()
    ae, _, _ = build(ckpt["arch"])
    step = ckpt.get("ae_step", 0)
    if "ae" in ckpt:
        load_state(ae, ckpt["ae"])
    opt = torch.optim.AdamW(ae.parameters(), lr=1e-3, weight_decay=0.0)
    rng = np.random.default_rng(args.seed + step)
    torch.manual_seed(args.seed + step)
    t0 = time.time()
    while step < args.steps:
        size = FULL if step % 2 == 0 else HALF
        x, _, _, _ = scenes.batch(rng, args.batch, size)
        x = torch.from_numpy(x)
        z = ae.encode(x)
        # noise on the latent keeps the decoder tolerant of imperfect diffusion samples
        rec = ae.decode(z + 0.05 * torch.randn_like(z))
        loss = F.l1_loss(rec, x) + F.mse_loss(rec, x) + 1e-4 * z.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0:
            log(f"ae step {step} loss {loss.item():.4f} {(time.time() - t0) / 50:.2f}s/step")
            t0 = time.time()
        if step % args.save_every == 0 or step == args.steps:
            ckpt["ae"], ckpt["ae_step"] = half_state(ae), step
            ckpt["latent_stats"] = latent_stats(ae)
            save(ckpt)


@torch.no_grad()
def latent_stats(ae):
    x, _, _, _ = scenes.batch(np.random.default_rng(1234), 64, FULL)
    z = ae.encode(torch.from_numpy(x))
    return {"shift": z.mean().item(), "scale": 1.0 / z.std().item()}


def grow(args):
    """Deepen the DiT and the text encoder in place without changing what they compute.

    New DiT blocks go after the old ones with their adaLN-zero modulation at zero (gates 0:
    each new block is the identity); new text-encoder blocks get zero output projections
    (also the identity). The weights and their EMA share the new blocks' initial values,
    so training continues from the same function with more capacity.
    """
    ckpt = load()
    arch = dict(ckpt["arch"])
    if arch["depth"] >= args.depth and arch["txt_layers"] >= args.txt_layers:
        log(f"grow: already depth {arch['depth']}, text layers {arch['txt_layers']}")
        return
    arch["depth"] = max(arch["depth"], args.depth)
    arch["txt_layers"] = max(arch["txt_layers"], args.txt_layers)
    torch.manual_seed(args.seed + 31 * ckpt.get("dit_step", 0))
    _, te, dit = build(arch)
    for blk in te.blocks:
        for lin in (blk.proj, blk.mlp[2]):
            torch.nn.init.zeros_(lin.weight)
            torch.nn.init.zeros_(lin.bias)
    fresh_te, fresh_dit = half_state(te), half_state(dit)
    for key, fresh in (("dit", fresh_dit), ("dit_ema", fresh_dit), ("te", fresh_te),
                       ("te_ema", fresh_te)):
        old = ckpt[key]
        ckpt[key] = {k: old.get(k, v) for k, v in fresh.items()}
    ckpt["arch"] = arch
    ckpt.setdefault("grown_at", []).append(ckpt.get("dit_step", 0))
    save(ckpt)
    log(f"grow: DiT depth {arch['depth']}, text layers {arch['txt_layers']}, "
        f"{sum(p.numel() for p in dit.parameters())} DiT parameters")


def fresh(args):
    """A new, untrained text encoder + DiT of another size on the checkpoint's autoencoder
    (kept with its latent statistics); the DiT step count starts again at 0."""
    ckpt = load()
    arch = dict(ckpt["arch"])
    for key, val in (("dim", args.dim), ("heads", args.heads), ("depth", args.depth),
                     ("txt_dim", args.txt_dim), ("txt_layers", args.txt_layers)):
        arch[key] = val or arch[key]
    torch.manual_seed(args.seed)
    _, te, dit = build(arch)
    new_te, new_dit = half_state(te), half_state(dit)  # the seeded start, weights and EMA
    ckpt.pop("grown_at", None)
    ckpt.update(arch=arch, dit_step=0, dit=new_dit, dit_ema=new_dit, te=new_te, te_ema=new_te)
    save(ckpt)
    log(f"fresh: DiT {sum(p.numel() for p in dit.parameters())} parameters {arch}")


def train_dit(args):
    ckpt = load()
    dev = torch.device(args.device)
    if dev.type == "cuda":  # tf32 matrix products: the DiT is small, launch-bound, and f32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    ae, te, dit = build(ckpt["arch"])
    load_state(ae, ckpt["ae"])
    ae.eval()
    stats = ckpt["latent_stats"]
    step = ckpt.get("dit_step", 0)
    if "dit" in ckpt:
        load_state(dit, ckpt["dit"])
        load_state(te, ckpt["te"])
    ema_dit, ema_te = build(ckpt["arch"])[2], build(ckpt["arch"])[1]
    load_state(ema_dit, ckpt.get("dit_ema", half_state(dit)))
    load_state(ema_te, ckpt.get("te_ema", half_state(te)))
    for m in (ae, te, dit, ema_dit, ema_te):
        m.to(dev)
    params = list(dit.parameters()) + list(te.parameters())
    ema_params = list(ema_dit.parameters()) + list(ema_te.parameters())
    fused = {"fused": True} if dev.type == "cuda" else {}  # (torch 1.13's AdamW has no flag)
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0, **fused)
    rng = np.random.default_rng(args.seed + 7919 * step)
    torch.manual_seed(args.seed + step)
    t0, losses, start, began = time.time(), [], step, time.time()
    replay = Replay(args.replay, args.fresh)
    pairs = Pairs(args.pairs, dev) if args.pairs else None
    txt_ids = torch.zeros(scenes.MAX_TOKENS, 3, device=dev)
    img_ids = {s // 4: grid_ids(s // 4, s // 4).to(dev) for s in (FULL, HALF)}  # by latent side

    def encode(x):
        with torch.no_grad():
            return model_latent(ae, torch.as_tensor(x, device=dev), stats)

    def progress():
        """the fraction of the --minutes budget spent; None without one"""
        return (time.time() - began) / (60 * args.minutes) if args.minutes > 0 else None

    def timed_out():
        return args.minutes > 0 and progress() >= 1

    while step < args.steps and not timed_out():
        full = rng.random() < args.full_share
        size = FULL if full else HALF
        bsz = args.batch
        if full and args.fresh < bsz:
            # full-resolution scenes cost more to render and encode than the DiT step on
            # them: draw `fresh` new ones per step into a replay ring and sample the batch
            z, ids, band = replay.batch(rng, bsz, lambda k: _scenes(rng, k, size, encode, args))
        else:
            z, ids, band = _scenes(rng, bsz, size, encode, args)
        ids = ids.clone()
        noise = torch.randn(patchify(z).shape, device=dev)
        if pairs and not full:  # coupled noise: the target is the teacher's picture of it
            pairs.mix(rng, args.pair_share, z, ids, band, noise)
        drop = torch.from_numpy(rng.random(bsz) < 0.1).to(dev)
        ids[drop] = 0  # empty prompt, for classifier-free guidance
        x0 = patchify(z)
        sigma = torch.sigmoid(torch.randn(bsz))
        uni = torch.rand(bsz)
        sigma = torch.where(torch.rand(bsz) < 0.2, uni, sigma)
        # the sampler runs its steps on shift(t, h0): train on the same sigmas (most of
        # them near 1, where the layout is decided), and keep some unshifted ones
        shifted = shift_sigma(sigma, args.sigma_shift)
        sigma = torch.where(torch.rand(bsz) < args.shift_share, shifted, sigma)
        # where shapes and places are decided (sigma above --hi-min): from sigma 0.6 a
        # sampled image keeps its shapes, from 0.9 it does not (docs/model.md, phase 4)
        if args.hi_share > 0:  # (no draws otherwise: earlier phases replay unchanged)
            high = args.hi_min + (1 - args.hi_min) * torch.rand(bsz)
            sigma = torch.where(torch.rand(bsz) < args.hi_share, high, sigma)
        sigma = sigma.to(dev)
        xt = (1 - sigma[:, None, None]) * x0 + sigma[:, None, None] * noise
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=args.bf16):
            txt, pooled = te(ids)
            v = dit(xt, txt, pooled, sigma, img_ids[z.shape[2]], txt_ids)
        err = (v.float() - (noise - x0)).pow(2)
        if args.band_weight > 0:
            # weight the outline band of the caption's objects (1 + band_weight there): the
            # weight is a function of the caption only, so the loss keeps its minimiser
            # E[v | x_t, caption] and only spends more of the gradient on outlines
            w = 1 + args.band_weight * patchify(band[:, None].repeat(1, LATENT_C, 1, 1))
            w[drop] = 1.0  # an empty prompt says nothing about where objects are
            loss = (w * err).mean() / w.mean()
        else:
            loss = err.mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        for g in opt.param_groups:
            warm = min(1.0, (step + 1) / 200, (step + 1 - start) / max(1, args.rewarm))
            g["lr"] = args.lr * warm * decay_factor(args, step, progress())
        opt.step()
        step += 1
        decay = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_mul_(ema_params, decay)
            torch._foreach_add_(ema_params, [p.detach() for p in params], alpha=1 - decay)
        losses.append(loss.detach())  # read every 25 steps: no device sync per step
        if step % 25 == 0:
            log(f"dit step {step} loss {torch.stack(losses).mean().item():.4f} "
                f"{(time.time() - t0) / 25:.3f}s/step")
            t0, losses = time.time(), []
        done = step == args.steps or timed_out()
        if step % args.save_every == 0 or done:
            ckpt.update(dit=half_state(dit), te=half_state(te), dit_ema=half_state(ema_dit),
                        te_ema=half_state(ema_te), dit_step=step)
            save(ckpt)


@torch.no_grad()
def make_pairs(args):
    """Teacher pairs for resolution consistency (--pairs in `dit`). For `--count` training
    captions and seeds: the EMA model samples the full-resolution latent from noise eps in
    `--steps` Euler steps on the sampler's shifted sigmas (what base sampling does), the
    image is decoded, average-pooled to half size and encoded again. Each pair holds that
    half-size latent, eps's box sums / 2 (RALU's anchored stage-1 noise: unit variance) and
    the caption. Training the half-resolution flow on these pairs teaches it to draw, from
    the anchored noise of a seed, the picture full-resolution sampling draws from the seed.
    """
    ckpt, ae, te, dit = load_models()
    dev = torch.device(args.device)
    for m in (ae, te, dit):
        m.to(dev)
    st = ckpt["latent_stats"]
    rng = np.random.default_rng(args.seed + 104729)
    gen = torch.Generator().manual_seed(args.seed + 17)  # eps drawn on the CPU on any device
    cells = FULL // 4
    img_ids = grid_ids(cells, cells).to(dev)
    txt_ids = torch.zeros(scenes.MAX_TOKENS, 3, device=dev)
    sigmas = base_sigmas(args.steps).to(dev)
    parts = {"z": [], "noise": [], "ids": [], "band": []}
    t0 = time.time()
    for start in range(0, args.count, args.batch):
        k = min(args.batch, args.count - start)
        drawn = [scenes.sample_scene(rng, args.single_share) for _ in range(k)]
        ids = torch.tensor([scenes.tokenize(scenes.caption(sc)) for sc in drawn], device=dev)
        txt, pooled = te(ids)
        eps = torch.randn(k, LATENT_C, cells, cells, generator=gen).to(dev)
        x = euler(dit, patchify(eps), txt, pooled, sigmas, img_ids, txt_ids)
        img = ae.decode(tokens_latent(x, st, cells, cells)).clamp(-1, 1)
        parts["z"].append(model_latent(ae, F.avg_pool2d(img, 2), st))
        parts["noise"].append(F.avg_pool2d(eps, 2) * 2)  # box sum / 2
        parts["ids"].append(ids)
        parts["band"].append(torch.from_numpy(
            np.stack([scenes.outline_band(sc, cells // 2) for sc in drawn])))
        log(f"pairs {start + k}/{args.count} {(time.time() - t0) / (start + k):.2f}s/pair")
    out = {key: torch.cat([t.cpu() for t in v]) for key, v in parts.items()}
    out["teacher_step"] = ckpt.get("dit_step", 0)
    torch.save(out, args.out)


class Pairs:
    """Teacher pairs (make_pairs) drawn into half-resolution batches by `--pair-share`."""

    def __init__(self, path, device="cpu"):
        self.data = {k: v.to(device) if torch.is_tensor(v) else v
                     for k, v in torch.load(path, map_location="cpu").items()}
        self.count = len(self.data["z"])

    def mix(self, rng, share, z, ids, band, noise):
        """Replaces a `share` of the batch rows in place with pairs; returns their count."""
        m = int(rng.binomial(len(z), share))
        if m == 0:
            return 0
        pick = torch.from_numpy(rng.integers(0, self.count, m)).to(z.device)
        z[:m], ids[:m], band[:m] = self.data["z"][pick], self.data["ids"][pick], self.data["band"][pick]
        noise[:m] = patchify(self.data["noise"][pick])
        return m


def _scenes(rng, count, size, encode, args):
    if args.device != "cpu":  # the same scenes, rendered on the device (scenes_torch)
        x, ids, band = scenes_torch.batch(rng, count, size, args.single_share, args.device)
        return encode(x), ids, band
    x, ids, _, drawn = scenes.batch(rng, count, size, args.single_share)
    cells = size // 4  # latent grid
    band = np.stack([scenes.outline_band(sc, cells) for sc in drawn])
    return encode(x), torch.from_numpy(ids), torch.from_numpy(band)


class Replay:
    """A ring of encoded scenes (latents, token ids, outline bands); each call adds `fresh`
    new ones and samples a batch."""

    def __init__(self, capacity, fresh):
        self.capacity, self.fresh = capacity, fresh
        self.parts, self.next = None, 0

    def batch(self, rng, bsz, make):
        if self.parts is None:  # fill once, in chunks of 64 scenes
            chunks = [make(min(64, self.capacity - i)) for i in range(0, self.capacity, 64)]
            self.parts = [torch.cat(col) for col in zip(*chunks)]
        at = (self.next + torch.arange(self.fresh)) % self.capacity
        for store, new in zip(self.parts, make(self.fresh)):
            store[at] = new
        self.next = int(at[-1] + 1) % self.capacity
        pick = torch.from_numpy(rng.integers(0, self.capacity, bsz)).to(self.parts[0].device)
        return [store[pick] for store in self.parts]


def decay_factor(args, step, progress=None):
    """1 until --decay-from, then linear to 0.1 at --steps; with a wall-clock budget
    (--minutes, `progress` its fraction done), 1 until --decay-share of it is left."""
    if progress is not None:
        left = 1 - progress
        return 1.0 if left >= args.decay_share else 1.0 - 0.9 * (1 - left / args.decay_share)
    if args.decay_from <= 0 or step < args.decay_from:
        return 1.0
    return 1.0 - 0.9 * min(1.0, (step - args.decay_from) / max(1, args.steps - args.decay_from))


def export(args, ae, te, dit, stats, arch, fixture):
    os.makedirs(args.out, exist_ok=True)
    ae.eval(), te.eval(), dit.eval()
    L = scenes.MAX_TOKENS
    ids = torch.zeros(1, L, dtype=torch.int64)
    torch.onnx.export(te, (ids,), os.path.join(args.out, "text_encoder.onnx"), opset_version=17,
                      input_names=["input_ids"], output_names=["last_hidden_state", "pooled_output"])
    z = torch.zeros(1, LATENT_C, 32, 32)
    torch.onnx.export(Decoder(ae), (z,), os.path.join(args.out, "vae_decoder.onnx"), opset_version=17,
                      input_names=["latent_sample"], output_names=["sample"],
                      dynamic_axes={"latent_sample": {2: "h", 3: "w"}, "sample": {2: "H", 3: "W"}})
    n = 64
    inputs = (torch.zeros(1, n, 4 * LATENT_C), torch.zeros(1, L, arch["txt_dim"]),
              torch.zeros(1, arch["txt_dim"]), torch.ones(1), grid_ids(16, 16), torch.zeros(L, 3))
    torch.onnx.export(dit, inputs, os.path.join(args.out, "transformer.onnx"), opset_version=17,
                      input_names=["hidden_states", "encoder_hidden_states", "pooled_projections",
                                   "timestep", "img_ids", "txt_ids"],
                      output_names=["out_hidden_states"],
                      # batch is dynamic so guidance runs both branches in one call
                      dynamic_axes={"hidden_states": {0: "B", 1: "n"}, "img_ids": {0: "n"},
                                    "encoder_hidden_states": {0: "B", 1: "L"}, "txt_ids": {0: "L"},
                                    "pooled_projections": {0: "B"}, "timestep": {0: "B"},
                                    "out_hidden_states": {0: "B", 1: "n"}})
    json.dump(scenes.VOCAB, open(os.path.join(args.out, "vocab.json"), "w"))
    preview = preview_projection(ae, stats)
    params = sum(p.numel() for p in dit.parameters())
    noise = {} if fixture else {"noise": "anchored"}
    manifest = {
        "id": os.path.basename(os.path.normpath(args.out)),
        "description": ("untrained test fixture (random weights) — never the default" if fixture
                        else "procedural-scenes DiT trained by tools/train (FLUX contract)"),
        "files": {"transformer": "transformer.onnx", "text_encoder": "text_encoder.onnx",
                  "vae_decoder": "vae_decoder.onnx", "vocab": "vocab.json"},
        "latent_channels": LATENT_C,
        "vae_scale_factor": 4,
        "vae_scaling": stats["scale"],
        "vae_shift": stats["shift"],
        "token_footprint_px": 8,
        "max_text_tokens": L,
        "text_dim": arch["txt_dim"],
        "base_shift": BASE_SHIFT,
        "default_steps": 50,
        # guidance 1 (off) scored best on held-out captions at 1.9k steps (colour 0.55 vs 0.36 at 3)
        "default_guidance": 1.0,
        "default_size": "64x64" if fixture else "128x128",
        "sizes": ["128x128", "64x64", "256x256"] if not fixture else ["32x32", "64x64", "128x128"],
        "architecture": {"hidden": arch["dim"], "depth": arch["depth"], "heads": arch["heads"],
                         "mlp_ratio": 4, "parameters": params},
        "preview": preview,
        # both models ship the paper's stage ends: stage ends tuned for the trained model
        # either restart stage 3 from over 95% fresh noise (refused by the manifest schema)
        # or sit at that rule's edge (docs/preset_tuning.md); its anchored noise keeps RALU on
        # the base picture of a seed more often than fresh noise (docs/benchmarks.md)
        "presets": {
            "4x": {"N": [5, 6, 7], "e": [0.3, 0.45, 1.0], "r": 0.3, **noise},
            "7x": {"N": [2, 3, 5], "e": [0.2, 0.3, 1.0], "r": 0.1, **noise},
        },
    }
    json.dump(manifest, open(os.path.join(args.out, "manifest.json"), "w"), indent=2)
    log(f"exported {args.out}: DiT {params} parameters")


@torch.no_grad()
def preview_projection(ae, stats):
    """Least-squares latent (model space) -> RGB in [-1, 1], 3 x (C + 1) with a bias column."""
    x, _, _, _ = scenes.batch(np.random.default_rng(99), 32, FULL)
    x = torch.from_numpy(x)
    z = model_latent(ae, x, stats)
    rgb = F.avg_pool2d(x, 4)
    a = torch.cat([z, torch.ones_like(z[:, :1])], 1).permute(0, 2, 3, 1).reshape(-1, LATENT_C + 1)
    b = rgb.permute(0, 2, 3, 1).reshape(-1, 3)
    w = torch.linalg.lstsq(a, b).solution  # [C+1, 3]
    return {"weights": w.t().tolist()}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("stage", choices=["ae", "dit", "grow", "fresh", "pairs", "export", "fixture"])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--full-share", type=float, default=0.35)
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--sigma-shift", type=float, default=1.0,
                   help="train on shift(sigma, h) for --shift-share of samples (sampler's h0)")
    p.add_argument("--shift-share", type=float, default=0.75)
    p.add_argument("--hi-share", type=float, default=0.0,
                   help="share of samples with sigma uniform in [--hi-min, 1]")
    p.add_argument("--hi-min", type=float, default=0.7)
    p.add_argument("--band-weight", type=float, default=0.0,
                   help="extra loss weight on the outline band of the caption's objects")
    p.add_argument("--single-share", type=float, default=0.0,
                   help="share of scenes with one object (more drawn outlines per caption)")
    p.add_argument("--checkpoint", help="another checkpoint file than tools/train/checkpoint.pt")
    p.add_argument("--fresh", type=int, default=32,
                   help="new full-resolution scenes per step; below --batch uses a replay ring")
    p.add_argument("--replay", type=int, default=2048)
    p.add_argument("--decay-from", type=int, default=0,
                   help="step from which the learning rate falls linearly to 0.1x at --steps")
    p.add_argument("--rewarm", type=int, default=0,
                   help="warm the learning rate up again over this many steps of a resumed run")
    p.add_argument("--pairs", help="dit: teacher pairs file (made by the pairs stage)")
    p.add_argument("--pair-share", type=float, default=0.0,
                   help="dit: share of half-resolution samples taken from --pairs")
    p.add_argument("--count", type=int, default=512, help="pairs: how many")
    p.add_argument("--depth", type=int, default=0, help="grow: DiT depth")
    p.add_argument("--txt-layers", type=int, default=0, help="grow: text-encoder layers")
    p.add_argument("--dim", type=int, default=0, help="fresh: DiT width")
    p.add_argument("--heads", type=int, default=0, help="fresh: DiT heads (head width = sum of"
                   " the rotary axes, 64)")
    p.add_argument("--txt-dim", type=int, default=0, help="fresh: text-encoder width")
    p.add_argument("--device", default="cpu", help="dit: torch device (cuda: scenes rendered"
                   " there too, tools/train/scenes_torch.py)")
    p.add_argument("--minutes", type=float, default=0,
                   help="dit: stop after this wall-clock budget (and decay over its end)")
    p.add_argument("--decay-share", type=float, default=0.25,
                   help="dit with --minutes: the learning rate falls to 0.1x over this share")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-every", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="models/default")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.checkpoint:
        global CKPT
        CKPT = os.path.abspath(args.checkpoint)
    if args.stage == "ae":
        train_ae(args)
    elif args.stage == "dit":
        train_dit(args)
    elif args.stage == "grow":
        grow(args)
    elif args.stage == "fresh":
        fresh(args)
    elif args.stage == "pairs":
        make_pairs(args)
    elif args.stage == "export":
        ckpt, ae, te, dit = load_models()
        export(args, ae, te, dit, ckpt["latent_stats"], ckpt["arch"], False)
    else:
        torch.manual_seed(args.seed)
        ae, te, dit = build(FIXTURE_ARCH)
        for m in list(dit.mods) + [dit.final_mod, dit.final]:
            torch.nn.init.normal_(m.weight, std=0.05)
        export(args, ae, te, dit, {"shift": 0.0, "scale": 1.0}, FIXTURE_ARCH, True)


if __name__ == "__main__":
    main()
