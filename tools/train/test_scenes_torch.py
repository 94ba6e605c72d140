"""scenes_torch against scenes.py: same rng -> same token ids, pixels within one uint8 level
on all but a few supersampled edge pixels, and the same outline bands.

  /usr/bin/python3 tools/train/test_scenes_torch.py
"""
import numpy as np
import torch

import scenes
import scenes_torch


def main():
    for size in (128, 64):
        for share in (0.0, 0.35):
            ref_rng, new_rng = np.random.default_rng(5), np.random.default_rng(5)
            x, ids, _, drawn = scenes.batch(ref_rng, 48, size, share)
            img, tids, band = scenes_torch.batch(new_rng, 48, size, share)
            assert np.array_equal(ids, tids.numpy()), "token ids differ"
            assert ref_rng.random() == new_rng.random(), "rng consumed differently"
            diff = np.abs(x - img.numpy()) * 127.5
            off = (diff > 1.01).mean()
            assert off < 1e-3, f"{off:.5f} of the pixels differ by more than one level"
            ref_band = np.stack([scenes.outline_band(sc, size // 4) for sc in drawn])
            assert (ref_band != band.numpy()).mean() < 1e-3, "outline bands differ"
            print(f"{size}x{size} single {share}: ids equal, {off:.5f} of pixels off by > 1 level,"
                  f" max {diff.max():.1f}")


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
