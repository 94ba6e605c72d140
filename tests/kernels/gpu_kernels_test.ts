import assert from "node:assert/strict";
import { gaussian } from "../../src/kernels/philox_cpu.ts";
import { affine, cleanEstimate, eulerStep } from "../../src/kernels/euler_cpu.ts";
import {
  avgPool2x,
  downsample2x,
  gridIds,
  pack,
  unpack,
  upsample2x,
} from "../../src/kernels/pack_cpu.ts";
import { canny, edgeScores, grayFromDecoded } from "../../src/kernels/canny_cpu.ts";
import { topkMask } from "../../src/kernels/topk_cpu.ts";
import { expandStage3, repackStage2 } from "../../src/kernels/repack_cpu.ts";
import { injectNoise } from "../../src/kernels/noise_cpu.ts";
import { previewRgba } from "../../src/kernels/preview_cpu.ts";
import { assertClose, gpu, gpuTest, randomFloats } from "./_gpu.ts";

/** A decoded-image-like test picture: shapes over a gradient, plus texture. */
function picture(w: number, h: number, seed: number): Float32Array {
  const noise = randomFloats(3 * w * h, seed);
  const img = new Float32Array(3 * w * h);
  for (let k = 0; k < 3; k++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const inCircle = (x - w / 3) ** 2 + (y - h / 2) ** 2 < (w / 5) ** 2;
        const inBox = x > w / 2 && x < (5 * w) / 6 && y > h / 5 && y < h / 2;
        const base = inCircle
          ? [0.8, -0.7, -0.6][k]!
          : inBox
          ? [-0.7, -0.5, 0.9][k]!
          : -0.2 + (0.4 * y) / h;
        img[(k * h + y) * w + x] = base + 0.08 * noise[(k * h + y) * w + x]!;
      }
    }
  }
  return img;
}

Deno.test("gaussian: GPU Philox + Box-Muller equals the CPU reference", gpuTest, async () => {
  assertClose(
    await gpu!.gaussian(1234567, 2, 5, 4099),
    gaussian(1234567, 2, 5, 4099),
    1e-5,
    "gaussian",
  );
});

Deno.test("euler step and clean estimate equal the CPU reference", gpuTest, async () => {
  const x = randomFloats(1000, 2), v = randomFloats(1000, 3);
  assertClose(await gpu!.eulerStep(x, v, -0.037), eulerStep(x.slice(), v, -0.037), 1e-6, "euler");
  assertClose(await gpu!.cleanEstimate(x, v, 0.71), cleanEstimate(x, v, 0.71), 1e-6, "x0");
  // the VAE's latent from the model's: x / scaling + shift
  assertClose(await gpu!.affine(x, 1 / 0.61, -0.27), affine(x, 1 / 0.61, -0.27), 1e-6, "affine");
});

Deno.test("pack, unpack and 2x downsampling equal the CPU reference exactly", gpuTest, async () => {
  const c = 4, h = 12, w = 8;
  const latent = randomFloats(c * h * w, 4);
  assert.deepEqual(await gpu!.pack(latent, c, h, w), pack(latent, c, h, w));
  assert.deepEqual(await gpu!.unpack(latent, c, h, w), unpack(latent, c, h, w));
  assert.deepEqual(await gpu!.downsample2x(latent, c, h, w), downsample2x(latent, c, h, w));
  assertClose(
    await gpu!.downsample2x(latent, c, h, w, "box"),
    downsample2x(latent, c, h, w, "box"),
    1e-6,
    "box downsampling",
  );
  // Bottleneck Sampling's latent-space resizes
  assertClose(await gpu!.avgPool2x(latent, c, h, w), avgPool2x(latent, c, h, w), 1e-6, "mean pool");
  assert.deepEqual(await gpu!.upsample2x(latent, c, h, w), upsample2x(latent, c, h, w));
});

Deno.test(
  "gray and canny (sobel, NMS, hysteresis to a fixed point) equal the CPU reference",
  gpuTest,
  async () => {
    for (const [w, h, seed] of [[64, 64, 5], [48, 32, 6], [128, 96, 7]] as const) {
      for (const mode of ["ours", "clip"] as const) {
        // "clip" weighs the raw values and clips to [0, 1]: give it a picture in that range
        const img = picture(w, h, seed).map((v) => (mode === "clip" ? (v + 1) / 2 : v));
        const g = grayFromDecoded(img, w, h, mode);
        assert.deepEqual(await gpu!.gray(img, w, h, mode), Uint32Array.from(g), `gray ${mode}`);
        const expected = canny(g, w, h);
        assert.ok(expected.some((v) => v === 1), "the picture has edges");
        assert.deepEqual(await gpu!.canny(img, w, h, mode), expected, `canny ${w}x${h} ${mode}`);
      }
    }
    // a long weak chain seeded by one strong pixel needs many hysteresis sweeps
    const w = 200, h = 8;
    const gray = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        gray[y * w + x] = y < 4 ? 0 : x < 3 ? 200 : 40;
      }
    }
    assert.deepEqual(await gpu!.cannyGray(gray, w, h), canny(gray, w, h), "long hysteresis chain");
  },
);

Deno.test(
  "edge scores and top-k (ties to the lower index, up to 16,384 scores) equal the CPU reference",
  gpuTest,
  async () => {
    const w = 64, h = 64;
    const edges = canny(grayFromDecoded(picture(w, h, 8), w, h), w, h);
    const scores = edgeScores(edges, w, h, 8);
    assert.deepEqual(await gpu!.edgeScores(edges, w, h, 8), scores);
    for (
      const [n, maxScore, k] of [
        [64, 64, 19],
        [1000, 3, 333],
        [16384, 256, 3276],
        [16384, 1, 100],
        [50, 10, 0],
        [50, 10, 50],
      ] as const
    ) {
      const s = Uint32Array.from(
        randomFloats(n, n + k),
        (v) => Math.floor(((v + 1) / 2) * (maxScore + 1)),
      );
      const mask = await gpu!.topk(s, k);
      assert.deepEqual(mask, topkMask(s, k), `n ${n} k ${k}`);
      assert.equal(mask.reduce((a, b) => a + b, 0), Math.min(k, n));
    }
  },
);

Deno.test("stage-2 and stage-3 repacking equal the CPU reference", gpuTest, async () => {
  const dim = 16, rows = 8, cols = 8;
  const tokens = randomFloats(rows * cols * dim, 9);
  const ids = gridIds(rows, cols);
  const mask = topkMask(
    Uint32Array.from(randomFloats(rows * cols, 10), (v) => Math.floor((v + 1) * 4)),
    19,
  );
  const cpu2 = repackStage2(tokens, ids, mask, dim);
  const gpu2 = await gpu!.repackStage2(tokens, ids, mask, dim);
  assert.deepEqual(gpu2, cpu2);
  const cpu3 = expandStage3(cpu2.tokens, cpu2.ids, cpu2.lowCount, dim, cols * 2, rows * 2);
  assert.deepEqual(
    await gpu!.expandStage3(cpu2.tokens, cpu2.ids, cpu2.lowCount, dim, cols * 2, rows * 2),
    cpu3,
  );
});

Deno.test("correlated noise injection equals the CPU reference", gpuTest, async () => {
  const dim = 16;
  const r = repackStage2(
    randomFloats(64 * dim, 11),
    gridIds(8, 8),
    topkMask(Uint32Array.from({ length: 64 }, (_, i) => i % 7), 12),
    dim,
  );
  const p = { seed: 77, boundary: 1, beta: 0.21, alpha: 0.94, c: 1 / 6.3 ** 2, exactScale: 1 };
  const expected = injectNoise(r.tokens.slice(), r.groups, dim, p);
  const x = r.tokens.slice();
  await gpu!.injectNoise(x, r.groups, dim, p);
  assertClose(x, expected, 1e-5, "noise");
  const exact = { ...p, exactScale: Math.sqrt(6.3 ** 2 - 1) / 6.3 };
  const x2 = r.tokens.slice();
  await gpu!.injectNoise(x2, r.groups, dim, exact);
  assertClose(x2, injectNoise(r.tokens.slice(), r.groups, dim, exact), 1e-5, "exact noise");
  // anchored: g from a buffer for some tokens (copies and singles), Philox for the rest
  const anchor = {
    values: randomFloats(100 * dim, 12),
    of: Int32Array.from({ length: r.count }, (_, t) => (t % 3 === 0 ? -1 : (t * 7) % 100)),
  };
  const x3 = r.tokens.slice();
  await gpu!.injectNoise(x3, r.groups, dim, p, anchor);
  const want = injectNoise(r.tokens.slice(), r.groups, dim, p, anchor);
  assertClose(x3, want, 1e-5, "anchored noise");
  assert.notDeepEqual(want, expected);
});

Deno.test("latent→RGB preview equals the CPU reference within one level", gpuTest, async () => {
  const c = 4, h = 16, w = 16;
  const latent = randomFloats(c * h * w, 12);
  const weights = [[0.5, 0.1, -0.2, 0.3, 0.05], [-0.1, 0.4, 0.2, 0.1, 0], [
    0.2,
    -0.3,
    0.6,
    0.1,
    -0.1,
  ]];
  const a = await gpu!.previewRgba(latent, weights, c, h, w);
  const b = previewRgba(latent, weights, c, h, w);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i]! - b[i]!) <= 1, `pixel byte ${i}: ${a[i]} vs ${b[i]}`);
  }
});

Deno.test("GPU ops release every pooled buffer they take", gpuTest, async () => {
  const before = gpu!.pool.live;
  await gpu!.canny(picture(32, 32, 13), 32, 32, "ours");
  await gpu!.topk(Uint32Array.of(1, 2, 3), 1);
  assert.equal(gpu!.pool.live, before);
});

Deno.test("guidance combine on the device equals v_u + g (v_c - v_u)", gpuTest, async () => {
  const batch = randomFloats(2 * 500, 14);
  const expected = Float32Array.from({ length: 500 }, (_, i) => {
    const vc = batch[i]!, vu = batch[500 + i]!;
    return Math.fround(vu + Math.fround(3.5 * Math.fround(vc - vu)));
  });
  assertClose(await gpu!.cfgCombine(batch, 3.5), expected, 1e-6, "cfg");
});
