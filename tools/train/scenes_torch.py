"""scenes.batch on a torch device: the same scenes, captions and pixels, rendered as tensors.

A GPU step of the DiT takes a few milliseconds; rendering its batch scene by scene in numpy
(scenes.render) takes far longer. Here the scene draws stay in numpy, in exactly the order
scenes.batch makes them (scene, then its objects' jitter), so one seed gives the same
scenes on either path; the pixels and outline bands are computed for the whole batch at
once on `device`. tools/train/test_scenes_torch.py checks both against scenes.py.
"""
import numpy as np
import torch

import scenes

_SHAPE = {s: i for i, s in enumerate(scenes.SHAPES)}
_MAX = scenes.GRAMMAR["max_objects"]


def _phrase_ids():
    """token ids of each phrase of the grammar (scenes.tokenize without padding)."""
    def ids(text):
        return [scenes.WORD_ID.get(w, 1) for w in text.split()]
    return {group: {name: ids(name) for name in table}
            for group, table in (("size", scenes.SIZES), ("color", scenes.COLORS),
                                 ("shape", scenes.SHAPES), ("position", scenes.POSITIONS),
                                 ("background", scenes.BACKGROUNDS))}


_IDS = _phrase_ids()
_W = {w: scenes.WORD_ID[w] for w in ("a", "and", "on", "plain", "gradient", "background")}


def token_ids(scene):
    """scenes.tokenize(scenes.caption(scene)), built from the phrases' ids (the caption's
    ', ' separators carry no word)."""
    out = []
    objs = scene["objects"]
    for i, o in enumerate(objs):
        if i > 0 and i == len(objs) - 1:
            out.append(_W["and"])
        out += [_W["a"], *_IDS["size"][o["size"]], *_IDS["color"][o["color"]],
                *_IDS["shape"][o["shape"]], *_IDS["position"][o["position"]]]
    bg, bg2 = scene["background"], scene["background2"]
    if bg2 != bg:
        out += [_W["on"], _W["a"], *_IDS["background"][bg], _W["and"],
                *_IDS["background"][bg2], _W["gradient"], _W["background"]]
    else:
        out += [_W["on"], _W["a"], _W["plain"], *_IDS["background"][bg], _W["background"]]
    out = out[:scenes.MAX_TOKENS]
    return out + [0] * (scenes.MAX_TOKENS - len(out))


def draw(rng, count, single_share=0.0):
    """`count` scenes with their objects' jitter, drawn as scenes.batch draws them, as
    arrays: valid, shape, cx, cy (jittered), r, colour [count, max_objects(, 3)],
    top/bottom background colours [count, 3], token ids [count, L], and the scenes."""
    jit = scenes.GRAMMAR["position_jitter"]
    a = {"valid": np.zeros((count, _MAX), bool), "shape": np.zeros((count, _MAX), np.int64),
         "cx": np.zeros((count, _MAX)), "cy": np.zeros((count, _MAX)),
         "ncx": np.zeros((count, _MAX)), "ncy": np.zeros((count, _MAX)),
         "r": np.zeros((count, _MAX)), "color": np.zeros((count, _MAX, 3), np.float32),
         "top": np.zeros((count, 3), np.float32), "bottom": np.zeros((count, 3), np.float32)}
    ids, drawn = [], []
    for i in range(count):
        sc = scenes.sample_scene(rng, single_share)
        drawn.append(sc)
        for j, o in enumerate(sc["objects"]):
            cx, cy = scenes.POSITIONS[o["position"]]
            a["ncx"][i, j], a["ncy"][i, j] = cx, cy
            a["cx"][i, j] = cx + rng.uniform(-jit, jit)
            a["cy"][i, j] = cy + rng.uniform(-jit, jit)
            a["valid"][i, j] = True
            a["shape"][i, j] = _SHAPE[o["shape"]]
            a["r"][i, j] = scenes.SIZES[o["size"]]
            a["color"][i, j] = scenes.COLORS[o["color"]]
        a["top"][i] = scenes.BACKGROUNDS[sc["background"]]
        a["bottom"][i] = scenes.BACKGROUNDS[sc["background2"]]
        ids.append(token_ids(sc))
    return a, np.array(ids, np.int64), drawn


def _grid(n, device):
    c = (torch.arange(n, device=device, dtype=torch.float32) + 0.5) / n
    return c[None, None, :], c[None, :, None]  # xs [1, 1, n], ys [1, n, 1]


def render(a, size, device):
    """Images [count, 3, size, size] in [-1, 1] (scenes.render's 2x2-supersampled pixels,
    quantised to uint8 levels as it does)."""
    n = size * scenes.SUPERSAMPLE
    t = {k: torch.as_tensor(v, device=device) for k, v in a.items()}
    xs, ys = _grid(n, device)
    img = (t["top"][:, :, None, None] * (1 - ys[:, None]) + t["bottom"][:, :, None, None] * ys[:, None])
    for j in range(_MAX):
        cx, cy, r = (t[k][:, j, None, None].float() for k in ("cx", "cy", "r"))
        shape = t["shape"][:, j, None, None]
        mask = torch.zeros(len(img), n, n, dtype=torch.bool, device=device)
        for i, name in enumerate(scenes.SHAPES):
            mask |= (shape == i) & scenes.inside(name, xs, ys, cx, cy, r)
        mask = mask & t["valid"][:, j, None, None]
        img = torch.where(mask[:, None], t["color"][:, j, :, None, None], img)
    img = torch.nn.functional.avg_pool2d(img, scenes.SUPERSAMPLE)
    return (img + 0.5).clamp(0, 255).floor() / 127.5 - 1.0


def outline_band(a, cells, device, inner=0.5, outer=1.45):
    """scenes.outline_band of every scene [count, cells, cells] (nominal centres)."""
    xs, ys = _grid(cells, device)
    band = torch.zeros(len(a["r"]), cells, cells, device=device)
    for j in range(_MAX):
        cx = torch.as_tensor(a["ncx"][:, j, None, None], device=device).float()
        cy = torch.as_tensor(a["ncy"][:, j, None, None], device=device).float()
        r = torch.as_tensor(a["r"][:, j, None, None], device=device).float()
        d = torch.hypot(xs - cx, ys - cy)
        on = (d >= inner * r) & (d <= outer * r)
        on = on & torch.as_tensor(a["valid"][:, j, None, None], device=device)
        band[on] = 1.0
    return band


def batch(rng, count, size, single_share=0.0, device="cpu"):
    """(images [count, 3, size, size], token ids [count, L], outline bands at the latent
    grid [count, size/4, size/4]) on `device`; the rng is consumed as scenes.batch does."""
    a, ids, _ = draw(rng, count, single_share)
    return (render(a, size, device), torch.as_tensor(ids, device=device),
            outline_band(a, size // 4, device))
