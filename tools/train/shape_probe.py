"""Does the model draw what the shape word says? Sample "a large red <shape> <place>" for each
shape and two places from one seed and print how far apart the results are (mean squared
difference of the final latents; ~0 means two shape words draw the same thing), and save the
decoded images — rows: the clean estimate at sigma 1, at ~0.9, the final image.

  /usr/bin/python3 tools/train/shape_probe.py [--checkpoint F] [--raw] [--out probe.png]
"""
import argparse
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenes  # noqa: E402
from model import grid_ids  # noqa: E402
from train import base_sigmas, load_models, rgb8, tokens_latent  # noqa: E402

PLACES = ["in the center", "at the top left"]


@torch.no_grad()
def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", help="another checkpoint file than tools/train/checkpoint.pt")
    p.add_argument("--raw", action="store_true", help="the trained weights, not their EMA")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--out", default="/tmp/shape_probe.png")
    args = p.parse_args()
    torch.set_num_threads(2)
    ckpt, ae, te, dit = load_models(args.checkpoint, args.raw)
    st = ckpt["latent_stats"]
    caps = [f"a large red {s} {place} on a plain light gray background"
            for place in PLACES for s in scenes.SHAPES]
    txt, pooled = te(torch.tensor([scenes.tokenize(c) for c in caps]))
    b, cells = len(caps), 32
    gen = torch.Generator().manual_seed(args.seed)
    xt = torch.randn(1, (cells // 2) ** 2, 16, generator=gen).repeat(b, 1, 1)
    img_ids, txt_ids = grid_ids(cells, cells), torch.zeros(scenes.MAX_TOKENS, 3)
    sigmas = base_sigmas(args.steps)
    rows = []
    for i, (a, nxt) in enumerate(zip(sigmas[:-1], sigmas[1:])):
        v = dit(xt, txt, pooled, a.repeat(b), img_ids, txt_ids)
        if i == 0 or (len(rows) == 1 and a <= 0.9):
            rows.append(xt - a * v)
        xt = xt + (nxt - a) * v
    rows.append(xt)
    for i, c in enumerate(caps):
        dist = [round((xt[i] - xt[j]).pow(2).mean().item(), 3) for j in range(b)]
        print(f"{c.split(' on a ')[0]:38s} {dist}")

    images = [rgb8(ae, tokens_latent(r, st, cells, cells)).numpy() for r in rows]
    Image.fromarray(np.concatenate([np.concatenate(list(im), 1) for im in images])).save(args.out)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
