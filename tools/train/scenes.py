"""Procedural captioned scenes: the training data of the default model.

The grammar (shapes, colours, sizes, positions, backgrounds) lives in grammar.json so
the TypeScript evaluator scores images against exactly the same definitions.
"""
import json
import os
import re

import numpy as np

GRAMMAR = json.load(open(os.path.join(os.path.dirname(__file__), "grammar.json")))
SHAPES = GRAMMAR["shapes"]
COLORS = GRAMMAR["colors"]
SIZES = GRAMMAR["sizes"]
POSITIONS = GRAMMAR["positions"]
BACKGROUNDS = GRAMMAR["backgrounds"]
MAX_TOKENS = GRAMMAR["max_tokens"]
SUPERSAMPLE = 2


def vocabulary():
    words = {"<pad>", "<unk>", "a", "and", "on", "background", "gradient", "plain"}
    for group in (SHAPES, COLORS, SIZES, POSITIONS, BACKGROUNDS):
        for phrase in group:
            words.update(phrase.split())
    return ["<pad>", "<unk>"] + sorted(words - {"<pad>", "<unk>"})


VOCAB = vocabulary()
WORD_ID = {w: i for i, w in enumerate(VOCAB)}


def tokenize(caption):
    """Lower-case word split; mirrors src/pipeline/tokenizer.ts."""
    ids = [WORD_ID.get(w, 1) for w in re.findall(r"[a-z]+", caption.lower())]
    ids = ids[:MAX_TOKENS]
    return ids + [0] * (MAX_TOKENS - len(ids))


def sample_scene(rng, single_share=0.0):
    """A random scene; `single_share` of them (drawn only when > 0) hold one object."""
    if single_share > 0 and rng.random() < single_share:
        count = 1
    else:
        count = int(rng.integers(1, GRAMMAR["max_objects"] + 1))
    places = rng.choice(len(POSITIONS), size=count, replace=False)
    objects = []
    for p in places:
        objects.append({
            "shape": SHAPES[rng.integers(len(SHAPES))],
            "color": list(COLORS)[rng.integers(len(COLORS))],
            "size": list(SIZES)[rng.integers(len(SIZES))],
            "position": list(POSITIONS)[p],
        })
    bg = list(BACKGROUNDS)[rng.integers(len(BACKGROUNDS))]
    bg2 = list(BACKGROUNDS)[rng.integers(len(BACKGROUNDS))] if rng.random() < 0.5 else bg
    return {"objects": objects, "background": bg, "background2": bg2}


def caption(scene):
    parts = [f"a {o['size']} {o['color']} {o['shape']} {o['position']}" for o in scene["objects"]]
    text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    if scene["background2"] != scene["background"]:
        text += f" on a {scene['background']} and {scene['background2']} gradient background"
    else:
        text += f" on a plain {scene['background']} background"
    return text


def inside(shape, xs, ys, cx, cy, r):
    """Which points (xs, ys) lie inside `shape` of radius r at (cx, cy): numpy arrays here,
    torch tensors in scenes_torch.py (the one geometry both renderers use)."""
    if shape == "circle":
        return (xs - cx) ** 2 + (ys - cy) ** 2 <= r * r
    if shape == "square":
        s = r * 0.886  # same area as the circle
        return (abs(xs - cx) <= s) & (abs(ys - cy) <= s)
    # upward equilateral triangle inscribed in a circle of radius 1.2 r
    R = r * 1.2
    top = cy - R
    base = cy + R * 0.5
    half = R * 0.866
    t = (ys - top) / (base - top)
    return (ys <= base) & (t >= 0) & (abs(xs - cx) <= half * t)


def render(scene, size, rng=None):
    """RGB uint8 [size, size, 3], antialiased by 2x2 supersampling."""
    n = size * SUPERSAMPLE
    coords = (np.arange(n) + 0.5) / n
    xs, ys = np.meshgrid(coords, coords)
    top = np.array(BACKGROUNDS[scene["background"]], np.float32)
    bottom = np.array(BACKGROUNDS[scene["background2"]], np.float32)
    img = top[None, None, :] * (1 - ys[..., None]) + bottom[None, None, :] * ys[..., None]
    jitter = GRAMMAR["position_jitter"]
    for o in scene["objects"]:
        cx, cy = POSITIONS[o["position"]]
        if rng is not None:
            cx += rng.uniform(-jitter, jitter)
            cy += rng.uniform(-jitter, jitter)
        mask = inside(o["shape"], xs, ys, cx, cy, SIZES[o["size"]])
        img[mask] = np.array(COLORS[o["color"]], np.float32)
    img = img.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE, 3).mean(axis=(1, 3))
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def outline_band(scene, cells, inner=0.5, outer=1.45):
    """[cells, cells] float32: 1 on grid cells whose centre lies between `inner` and `outer`
    object radii from an object's nominal centre, else 0 — where circle, square and triangle
    of one size differ (the square's corners reach 1.25 r, the triangle's apex 1.2 r, its base
    0.6 r below the centre; the band's margins cover the position jitter). It is read from the
    caption alone (nominal centres, no jitter), so a loss weighted by it keeps its minimiser."""
    coords = (np.arange(cells) + 0.5) / cells
    xs, ys = np.meshgrid(coords, coords)
    band = np.zeros((cells, cells), np.float32)
    for o in scene["objects"]:
        cx, cy = POSITIONS[o["position"]]
        r = SIZES[o["size"]]
        d = np.hypot(xs - cx, ys - cy)
        band[(d >= inner * r) & (d <= outer * r)] = 1.0
    return band


def batch(rng, count, size, single_share=0.0):
    """Images in [-1, 1] as float32 [count, 3, size, size], their token ids, captions and
    scenes."""
    imgs, ids, caps, drawn = [], [], [], []
    for _ in range(count):
        scene = sample_scene(rng, single_share)
        drawn.append(scene)
        imgs.append(render(scene, size, rng))
        caps.append(caption(scene))
        ids.append(tokenize(caps[-1]))
    x = np.stack(imgs).astype(np.float32).transpose(0, 3, 1, 2) / 127.5 - 1.0
    return x, np.array(ids, np.int64), caps, drawn


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    for _ in range(3):
        s = sample_scene(rng)
        print(caption(s), tokenize(caption(s))[:12])
    print(len(VOCAB), "words")
