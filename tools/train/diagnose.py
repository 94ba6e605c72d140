"""Where does the default model lose shapes? Noise ground-truth scenes to a sigma, sample
from there to 0 with the exported model's weights (EMA), and save the decoded images for
bench/score_arrays.ts to score. Level "ae" is the autoencoder's round trip alone.

  /usr/bin/python3 tools/train/diagnose.py --out /tmp/diag   # then
  deno run -A bench/score_arrays.ts /tmp/diag

With `--pairs FILE` (train.py's teacher pairs) it measures resolution consistency instead:
half-resolution sampling from each pair's anchored noise against the teacher's half-size
latent (mean squared difference; next to it, the same against another pair's latent).
With `--consistency` it writes, for the scenes' captions and one seed's noise eps each,
pictures for score_arrays.ts (which also prints the share that is the same picture as the
first): 128x128 sampling from eps; the same from eps with its within-2x2 detail drawn afresh
(box sums kept: what a half-resolution stage cannot see); 64x64 sampling from eps's box
sums / 2 (RALU's anchored stage-1 noise), upsampled; and with `--lead K,..` 64x64 sampling
that starts after K 128x128 steps.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenes  # noqa: E402
from model import grid_ids, patchify, unpatchify  # noqa: E402
from train import (BASE_SHIFT, FULL, LATENT_C, base_sigmas, euler, load_models,  # noqa: E402
                   rgb8, tokens_latent)

TXT_IDS = torch.zeros(scenes.MAX_TOKENS, 3)  # text tokens sit at position 0, as in FLUX


@torch.no_grad()
def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="/tmp/diag")
    p.add_argument("--scenes", type=int, default=32)
    p.add_argument("--levels", default="1.0,0.9,0.75,0.6,0.45,0.3")
    p.add_argument("--steps", type=int, default=30, help="sampler steps over the whole 1 -> 0")
    p.add_argument("--shift", type=float, default=BASE_SHIFT)
    p.add_argument("--checkpoint", help="another checkpoint file than tools/train/checkpoint.pt")
    p.add_argument("--pairs", help="teacher pairs file: measure resolution consistency")
    p.add_argument("--consistency", action="store_true",
                   help="128x128 vs other high frequencies vs 64x64 from anchored noise")
    p.add_argument("--lead", type=lambda v: [int(k) for k in v.split(",")], default=[],
                   help="with --consistency: also 64x64 after this many 128x128 steps (list)")
    args = p.parse_args()
    torch.set_num_threads(2)
    ckpt, ae, te, dit = load_models(args.checkpoint)
    if args.pairs:
        return pair_gap(args, dit, te)
    if args.consistency:
        return consistency(args, ckpt, ae, te, dit)
    st = ckpt["latent_stats"]
    sc, txt, pooled = captioned_scenes(args, te)
    imgs = np.stack([scenes.render(s, FULL) for s in sc]).astype(np.float32)
    x = torch.from_numpy(imgs.transpose(0, 3, 1, 2) / 127.5 - 1)
    z = ae.encode(x)
    hh, ww = z.shape[2], z.shape[3]
    x0 = patchify((z - st["shift"]) * st["scale"])
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    sigmas = schedule(args)
    out = {"ae": rgb8(ae, z)}
    for level in [float(v) for v in args.levels.split(",")]:
        sig = sigmas[sigmas <= level + 1e-6]
        if sig[0] < level - 1e-6:
            sig = torch.cat([torch.tensor([level]), sig])
        xt = euler(dit, (1 - level) * x0 + level * noise, txt, pooled, sig, grid_ids(hh, ww),
                   TXT_IDS)
        out[f"{level}"] = rgb8(ae, tokens_latent(xt, st, hh, ww))
        print(f"from sigma {level}: done", flush=True)
    save(args.out, out, sc, ckpt)


def consistency(args, ckpt, ae, te, dit):
    st = ckpt["latent_stats"]
    sc, txt, pooled = captioned_scenes(args, te)
    sigmas = schedule(args)
    gen = torch.Generator().manual_seed(0)
    cells = FULL // 4
    eps = torch.randn(len(sc), LATENT_C, cells, cells, generator=gen)
    rest = torch.randn(eps.shape, generator=gen)
    up = lambda t: F.interpolate(t, scale_factor=2, mode="nearest")  # noqa: E731
    other = up(F.avg_pool2d(eps, 2)) + rest - up(F.avg_pool2d(rest, 2))  # same box sums
    out = {}
    for name, noise in (("base", eps), ("other detail", other)):
        x = euler(dit, patchify(noise), txt, pooled, sigmas, grid_ids(cells, cells), TXT_IDS)
        out[name] = rgb8(ae, tokens_latent(x, st, cells, cells))
        print(f"{name}: done", flush=True)
    # 64x64 after `lead` 128x128 steps; with none, it starts from eps's box sums / 2
    for name, lead in [("half anchored", 0)] + [(f"half after {k} full", k) for k in args.lead]:
        x = euler(dit, patchify(eps), txt, pooled, sigmas[:lead + 1], grid_ids(cells, cells),
                  TXT_IDS)
        # box means of x plus sigma x eps's box means: x's noise part becomes the anchored noise
        low = F.avg_pool2d(unpatchify(x, LATENT_C, cells, cells) + sigmas[lead] * eps, 2)
        x = euler(dit, patchify(low), txt, pooled, sigmas[lead:], grid_ids(cells // 2, cells // 2),
                  TXT_IDS)
        img = rgb8(ae, tokens_latent(x, st, cells // 2, cells // 2))
        out[name] = img.repeat_interleave(2, 1).repeat_interleave(2, 2)
        print(f"{name}: done", flush=True)
    save(args.out, out, sc, ckpt)


def captioned_scenes(args, te):
    """The scenes every mode samples (seeded), with their captions' text encoding."""
    rng = np.random.default_rng(11)
    sc = [scenes.sample_scene(rng) for _ in range(args.scenes)]
    return (sc, *te(torch.tensor([scenes.tokenize(scenes.caption(s)) for s in sc])))


def schedule(args):
    """The base sampler's sigmas, 1 -> 0 in --steps steps at shift --shift."""
    return base_sigmas(args.steps, args.shift)


def save(out_dir, out, sc, ckpt):
    os.makedirs(out_dir, exist_ok=True)
    names = list(out)
    np.save(os.path.join(out_dir, "images.npy"), np.stack([out[k].numpy() for k in names]))
    json.dump({"levels": names, "scenes": sc, "step": ckpt.get("dit_step", 0)},
              open(os.path.join(out_dir, "meta.json"), "w"))


def pair_gap(args, dit, te):
    d = torch.load(args.pairs)
    n = min(args.scenes, len(d["z"]))
    cells = d["z"].shape[2]
    txt, pooled = te(d["ids"][:n])
    x = euler(dit, patchify(d["noise"][:n]), txt, pooled, schedule(args), grid_ids(cells, cells),
              TXT_IDS)
    target = patchify(d["z"][:n])
    gap = (x - target).pow(2).mean().item()
    other = (x - target.roll(1, 0)).pow(2).mean().item()
    print(f"half-resolution sample vs teacher: {gap:.4f} (vs another pair's: {other:.4f}); "
          f"{n} pairs, teacher step {d['teacher_step']}")


if __name__ == "__main__":
    main()
