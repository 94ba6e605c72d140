import assert from "node:assert/strict";
import { gaussian, philox } from "../../src/kernels/philox_cpu.ts";
import { downsample2x, gridIds, pack, unpack } from "../../src/kernels/pack_cpu.ts";
import { canny, edgeScores, grayFromDecoded } from "../../src/kernels/canny_cpu.ts";
import { topkMask } from "../../src/kernels/topk_cpu.ts";
import { expandStage3, repackStage2 } from "../../src/kernels/repack_cpu.ts";
import { correlatedNoise } from "../../src/kernels/noise_cpu.ts";
import { randomFloats } from "./_gpu.ts";

Deno.test("philox 4x32-10 matches the Random123 known-answer vectors", () => {
  assert.deepEqual([...philox([0, 0, 0, 0], [0, 0])], [
    0x6627e8d5,
    0xe169c58d,
    0xbc57ac4c,
    0x9b00dbd8,
  ]);
  const f = 0xffffffff;
  assert.deepEqual([...philox([f, f, f, f], [f, f])], [
    0x408f276d,
    0x41c83b0e,
    0xa20bc7c6,
    0x6d5451fd,
  ]);
  const pi = [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344] as [number, number, number, number];
  assert.deepEqual([...philox(pi, [0xa4093822, 0x299f31d0])], [
    0xd16cfe09,
    0x94fdcceb,
    0x5001e420,
    0x24126ea1,
  ]);
});

Deno.test("gaussian noise has mean 0 and variance 1 and is addressable by element", () => {
  const g = gaussian(42, 0, 0, 200_000);
  const mean = g.reduce((s, v) => s + v, 0) / g.length;
  const variance = g.reduce((s, v) => s + (v - mean) ** 2, 0) / g.length;
  assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.01, `variance ${variance}`);
  assert.deepEqual(gaussian(42, 0, 1001, 7), g.slice(1001, 1008));
  assert.notDeepEqual(gaussian(42, 1, 0, 8), g.slice(0, 8));
});

Deno.test("pack and unpack are inverse; lanes follow FLUX's (channel, dy, dx) order", () => {
  const c = 3, h = 6, w = 4;
  const latent = Float32Array.from({ length: c * h * w }, (_, i) => i);
  const tokens = pack(latent, c, h, w);
  assert.deepEqual(unpack(tokens, c, h, w), latent);
  // token (1, 1) lane for channel 2, dy 1, dx 0 = latent[2, 3, 2]
  assert.equal(tokens[(1 * 2 + 1) * 12 + 2 * 4 + 2], latent[(2 * h + 3) * w + 2]);
  const down = downsample2x(latent, c, h, w);
  assert.equal(down.length, c * 3 * 2);
  assert.equal(down[1 * 6 + 1 * 2 + 1], latent[(1 * h + 2) * w + 2]);
  assert.deepEqual([...gridIds(2, 2)], [0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1]);
  // box: low pixel (y, x) = (1, 1) of channel 1 sums rows 1, 3 x columns 1, 3, halved
  const box = downsample2x(latent, c, h, w, "box");
  const j = (1 * h + 1) * w + 1;
  assert.equal(
    box[1 * 6 + 1 * 2 + 1],
    (latent[j]! + latent[j + 2]! + latent[j + 2 * w]! + latent[j + 2 * w + 2]!) / 2,
  );
});

Deno.test("box downsampling keeps N(0, 1) noise at unit variance; nearest keeps values", () => {
  const c = 4, h = 128, w = 128;
  const g = gaussian(5, 0, 0, c * h * w);
  for (const mode of ["nearest", "box"] as const) {
    const d = downsample2x(g, c, h, w, mode);
    const mean = d.reduce((a, v) => a + v, 0) / d.length;
    const variance = d.reduce((a, v) => a + (v - mean) ** 2, 0) / d.length;
    assert.ok(
      Math.abs(mean) < 0.03 && Math.abs(variance - 1) < 0.05,
      `${mode}: ${mean}, ${variance}`,
    );
  }
});

Deno.test("canny finds a step edge, thins it, and ignores flat or faint images", () => {
  const w = 16, h = 16;
  const step = Uint8Array.from({ length: w * h }, (_, i) => (i % w < 8 ? 10 : 240));
  const e = canny(step, w, h);
  for (let y = 0; y < h; y++) {
    const row = [...e.slice(y * w, y * w + w)];
    assert.equal(row.reduce((a, b) => a + b, 0), 1, `row ${y} has one edge pixel`);
    assert.ok(row[7] === 1 || row[8] === 1);
  }
  assert.equal(canny(new Uint8Array(w * h).fill(128), w, h).reduce((a, b) => a + b, 0), 0);
  const faint = Uint8Array.from({ length: w * h }, (_, i) => (i % w < 8 ? 100 : 120));
  assert.equal(canny(faint, w, h).reduce((a, b) => a + b, 0), 0, "below the low threshold");
});

Deno.test("hysteresis keeps weak edges connected to strong ones only", () => {
  // a ramp whose gradient is strong on the top rows and weak below
  const w = 12, h = 12;
  const g = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      g[y * w + x] = x < 6 ? 0 : y < 6 ? 200 : 40;
    }
  }
  const e = canny(g, w, h);
  // Sobel L1 of a 40-level step is 160 (weak) and it touches the strong part: kept
  assert.ok(e.slice(8 * w, 9 * w).some((v) => v === 1));
  const iso = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) iso[y * w + x] = x < 6 ? 0 : 40;
  assert.equal(canny(iso, w, h).reduce((a, b) => a + b, 0), 0, "weak everywhere: nothing");
});

Deno.test("gray uses BT.601 weights; 'ours' maps [-1,1] while 'clip' loses dark levels", () => {
  const img = Float32Array.of(-1, 1, -0.5, -1, 1, 0, -1, 1, 0.5); // 3 pixels, planar RGB
  assert.deepEqual([...grayFromDecoded(img, 3, 1, "ours")], [0, 255, 116]);
  assert.deepEqual([...grayFromDecoded(img, 3, 1, "clip")], [0, 255, 0]);
});

Deno.test("gray 'clip' is the authors' formula: weigh raw floats, clip, x255, truncate", () => {
  // (0.2, 0.5, 0.9): 0.299*0.2 + 0.587*0.5 + 0.114*0.9 = 0.4559 -> 116.25 -> 116, where
  // clipping, rounding and weighing each channel first gives 117
  const px = [[0.2, 0.5, 0.9], [0.9, 0.9, 0.9], [1.2, 0.3, -0.4], [0.001, 0.002, 0.003]];
  const img = new Float32Array(3 * px.length);
  px.forEach((p, i) => p.forEach((v, k) => (img[k * px.length + i] = v)));
  const want = px.map(([r, g, b]) =>
    Math.floor(Math.min(1, Math.max(0, 0.299 * r! + 0.587 * g! + 0.114 * b!)) * 255)
  );
  assert.deepEqual(want, [116, 229, 124, 0]);
  assert.deepEqual([...grayFromDecoded(img, px.length, 1, "clip")], want);
});

Deno.test("edge scores count edge pixels per token footprint", () => {
  const edges = new Uint8Array(8 * 8);
  edges[0] = 1;
  edges[9] = 1;
  edges[63] = 1;
  assert.deepEqual([...edgeScores(edges, 8, 8, 4)], [2, 0, 0, 1]);
});

Deno.test("top-k takes the highest scores, ties to the lower index", () => {
  assert.deepEqual([...topkMask(Uint32Array.of(3, 5, 5, 1, 5), 2)], [0, 1, 1, 0, 0]);
  assert.deepEqual([...topkMask(Uint32Array.of(0, 0, 0), 0)], [0, 0, 0]);
  assert.deepEqual([...topkMask(Uint32Array.of(1, 2), 5)], [1, 1]);
});

Deno.test("stage 2 keeps unselected tokens in order and appends 4 copies with fractional ids", () => {
  const dim = 2;
  const tokens = Float32Array.from({ length: 4 * dim }, (_, i) => Math.floor(i / dim));
  const r = repackStage2(tokens, gridIds(2, 2), Uint32Array.of(0, 1, 0, 1), dim);
  assert.equal(r.count, 2 + 8);
  assert.equal(r.lowCount, 2);
  assert.deepEqual([...r.tokens].filter((_, i) => i % dim === 0), [0, 2, 1, 1, 1, 1, 3, 3, 3, 3]);
  const rowsCols = Array.from({ length: r.count }, (_, t) => [r.ids[t * 3 + 1], r.ids[t * 3 + 2]]);
  assert.deepEqual(rowsCols, [
    [0, 0],
    [1, 0],
    [0, 1],
    [0, 1.5],
    [0.5, 1],
    [0.5, 1.5],
    [1, 1],
    [1, 1.5],
    [1.5, 1],
    [1.5, 1.5],
  ]);
  assert.deepEqual([...r.groups.slice(8, 12)], [2, 3, 4, 5]);
  assert.deepEqual([...r.groups.slice(0, 4)], [-1, -1, -1, -1]);
});

Deno.test("stage 3 doubles ids to integers and puts every token at its raster position", () => {
  const dim = 1;
  const s2 = repackStage2(
    Float32Array.of(10, 11, 12, 13),
    gridIds(2, 2),
    Uint32Array.of(0, 1, 0, 0),
    dim,
  );
  const s2tok = s2.tokens.map((v, i) => (i >= s2.lowCount ? v + 0.25 * (i - s2.lowCount) : v));
  const r = expandStage3(s2tok, s2.ids, s2.lowCount, dim, 4, 4);
  assert.equal(r.count, 16);
  for (let t = 0; t < 16; t++) {
    assert.equal(r.ids[t * 3 + 1], Math.floor(t / 4));
    assert.equal(r.ids[t * 3 + 2], t % 4);
  }
  // token 1 (selected at stage 2) -> its 4 distinct copies in the top-right block
  assert.deepEqual([r.tokens[2], r.tokens[3], r.tokens[6], r.tokens[7]], [11, 11.25, 11.5, 11.75]);
  // token 0 (low until now) -> a 2x2 block of one value, grouped for correlated noise
  assert.deepEqual([r.tokens[0], r.tokens[1], r.tokens[4], r.tokens[5]], [10, 10, 10, 10]);
  assert.deepEqual([...r.groups.slice(0, 4)], [0, 1, 4, 5]);
  assert.deepEqual([...r.groups.slice(2 * 4, 3 * 4)], [-1, -1, -1, -1]);
});

for (const anchored of [false, true]) {
  Deno.test(
    `injected noise per 4-copy group has covariance I - c 11^T (100k groups${
      anchored ? ", anchored to seed noise" : ""
    })`,
    () => {
      const groupsN = 100_000;
      const Z = 4;
      const c = 1 / (Z * Z);
      const groups = new Int32Array(groupsN * 16);
      for (let t = 0; t < groupsN * 4; t++) {
        for (let m = 0; m < 4; m++) groups[t * 4 + m] = (t - (t % 4)) + m;
      }
      // anchored: every token reads its g from another stream of N(0, 1) values, in reverse
      const anchor = anchored
        ? {
          values: gaussian(3, 0, 0, groupsN * 4),
          of: Int32Array.from({ length: groupsN * 4 }, (_, t) => groupsN * 4 - 1 - t),
        }
        : undefined;
      const n = correlatedNoise(groups, 1, {
        seed: 3,
        boundary: 1,
        beta: 1,
        alpha: 1,
        c,
        exactScale: 1,
      }, anchor);
      const cov = Array.from({ length: 4 }, () => new Array(4).fill(0));
      for (let g = 0; g < groupsN; g++) {
        for (let a = 0; a < 4; a++) {
          for (let b = 0; b < 4; b++) cov[a]![b] += n[g * 4 + a]! * n[g * 4 + b]! / groupsN;
        }
      }
      for (let a = 0; a < 4; a++) {
        for (let b = 0; b < 4; b++) {
          const target = (a === b ? 1 : 0) - c;
          assert.ok(
            Math.abs(cov[a]![b] - target) < 0.02,
            `cov[${a}][${b}] = ${cov[a]![b]} vs ${target}`,
          );
        }
      }
    },
  );
}

Deno.test("anchored noise: anchored tokens take g from the anchor, the rest from Philox", () => {
  // tokens 0-3: one 4-copy group (anchored), 4: single anchored, 5: single not anchored
  const dim = 2, c = 1 / 16;
  const groups = Int32Array.from([
    0,
    1,
    2,
    3,
    0,
    1,
    2,
    3,
    0,
    1,
    2,
    3,
    0,
    1,
    2,
    3,
    -1,
    -1,
    -1,
    -1,
    -1,
    -1,
    -1,
    -1,
  ]);
  const values = Float32Array.from({ length: 7 * dim }, (_, i) => 0.1 * i - 0.5);
  const of = Int32Array.from([6, 5, 4, 3, 0, -1]);
  const p = { seed: 8, boundary: 2, beta: 0, alpha: 1, c, exactScale: 1 };
  const n = correlatedNoise(groups, dim, p, { values, of });
  const k = Math.sqrt(1 - 4 * c) - 1;
  for (let l = 0; l < dim; l++) {
    const g = [6, 5, 4, 3].map((a) => values[a * dim + l]!);
    const mean = g.reduce((a, v) => a + v, 0) / 4;
    for (let t = 0; t < 4; t++) assertNear(n[t * dim + l]!, g[t]! + k * mean);
    assert.equal(n[4 * dim + l], values[0 * dim + l]);
    assert.equal(n[5 * dim + l], correlatedNoise(groups, dim, p)[5 * dim + l]);
  }
});
/** Count of 2x2 windows whose 4 pixels are all edges (a thinned map has none). */
function blocks2x2(e: Uint8Array, w: number, h: number): number {
  let n = 0;
  for (let y = 0; y + 1 < h; y++) {
    for (let x = 0; x + 1 < w; x++) {
      const p = y * w + x;
      if (e[p] && e[p + 1] && e[p + w] && e[p + w + 1]) n++;
    }
  }
  return n;
}

Deno.test("canny output is thin: no 2x2 block of edge pixels on shaded shapes", () => {
  for (const seed of [9, 10, 11, 12]) {
    const w = 48, h = 40;
    const noise = randomFloats(3 * w * h, seed);
    const img = noise.map((v, i) => {
      const p = i % (w * h), x = p % w, y = Math.floor(p / w);
      const r = 6 + (seed % 4) * 3;
      const inside = (x - w / 2) ** 2 + (y - h / 2) ** 2 < r * r || (x > 4 && x < 14 && y > 4);
      return (inside ? 0.6 : -0.5 + y / h) + 0.1 * v;
    });
    const e = canny(grayFromDecoded(img, w, h), w, h);
    assert.ok(e.reduce((a, b) => a + b, 0) > 40, "the shapes have edges");
    assert.equal(blocks2x2(e, w, h), 0, `seed ${seed}`);
  }
  // the property can fail: a map with a filled square has such blocks
  const filled = new Uint8Array(16);
  filled.set([1, 1], 5);
  filled.set([1, 1], 9);
  assert.equal(blocks2x2(filled, 4, 4), 1);
});

Deno.test("canny equals OpenCV's cv2.Canny(gray, 100, 200) on frozen images", async () => {
  const { decode } = await import("fast-png");
  for (const name of ["canny_input", "canny_texture"]) {
    const read = async (f: string) => decode(await Deno.readFile(`tests/data/${f}.png`));
    const input = await read(name), want = await read(`${name}_opencv`);
    assert.equal(input.channels, 1);
    const gray = Uint8Array.from(input.data);
    const e = canny(gray, input.width, input.height, 100, 200);
    const ref = Uint8Array.from(want.data, (v) => (v ? 1 : 0));
    let diff = 0;
    for (let i = 0; i < ref.length; i++) diff += e[i] === ref[i] ? 0 : 1;
    assert.ok(ref.reduce((a, b) => a + b, 0) > 200, `${name}: the reference has edges`);
    assert.equal(diff, 0, `${name}: ${diff} pixels differ from OpenCV`);
    // thin on the model's picture; on heavy pixel noise OpenCV's own map has 31 such
    // blocks (NMS keeps diagonal neighbours), and so, being equal to it, does ours
    if (name === "canny_input") assert.equal(blocks2x2(e, input.width, input.height), 0);
  }
});

function assertNear(a: number, b: number, tol = 1e-6): void {
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);
}

Deno.test("anchored noise lands every token on s x0 + (1 - s) (seed noise) at both boundaries", async () => {
  const { anchorPlaces, noiseParams } = await import("../../src/samplers/ralu.ts");
  const { stagePlan } = await import("../../src/schedule/stages.ts");
  const { injectNoise } = await import("../../src/kernels/noise_cpu.ts");
  const c = 2, H = 16, W = 16, dim = 4 * c;
  const fullCols = W / 2, lowCols = W / 4, fullTokens = (H / 2) * fullCols;
  const seedNoise = gaussian(21, 0, 0, c * H * W);
  const full = pack(seedNoise, c, H, W);
  const low = pack(downsample2x(seedNoise, c, H, W, "box"), c, H / 2, W / 2);
  const values = new Float32Array([...full, ...low]);
  const Z = 6.317, e = [0.3, 0.45, 1];
  const plan = stagePlan([5, 6, 7], e, [5, 2.6, 2.2], Z);
  const p = { Z, exactNoise: false, noise: "anchored" } as const;
  const x0 = randomFloats(low.length, 5);
  const mix = (a: Float32Array, b: Float32Array, s: number) =>
    a.map((v, i) => s * v + (1 - s) * b[i]!);
  const near = (got: Float32Array, want: Float32Array, what: string) => {
    for (let i = 0; i < want.length; i++) assertNear(got[i]!, want[i]!, 1e-5);
    assert.ok(got.length === want.length, what);
  };
  // boundary 1: the stage-1 latent at e1 holds the box noise; 5 tokens are upsampled
  const ids = gridIds(H / 4, W / 4);
  const mask = topkMask(Uint32Array.from({ length: 16 }, (_, i) => (i * 7) % 16), 5);
  const rep = repackStage2(mix(x0, low, e[0]!), ids, mask, dim);
  const clean = repackStage2(x0, ids, mask, dim).tokens;
  const of1 = anchorPlaces(rep.ids, rep.lowCount, fullCols, lowCols, fullTokens);
  injectNoise(rep.tokens, rep.groups, dim, noiseParams(1, 1, plan.boundaries[0]!, p), {
    values,
    of: of1,
  });
  const s2 = plan.starts[1]!;
  const anchor1 = new Float32Array(rep.tokens.length);
  of1.forEach((a, t) => anchor1.set(values.subarray(a * dim, (a + 1) * dim), t * dim));
  near(rep.tokens, mix(clean, anchor1, s2), "boundary 1");
  // boundary 2: at e2 the stage-2 latent holds that same noise; everything goes full
  const x2 = mix(clean, anchor1, e[1]!);
  const out = expandStage3(x2, rep.ids, rep.lowCount, dim, fullCols, H / 2);
  const clean3 = expandStage3(clean, rep.ids, rep.lowCount, dim, fullCols, H / 2).tokens;
  const of2 = Int32Array.from({ length: fullTokens }, (_, i) => i);
  injectNoise(out.tokens, out.groups, dim, noiseParams(1, 2, plan.boundaries[1]!, p), {
    values,
    of: of2,
  });
  near(out.tokens, mix(clean3, full, plan.starts[2]!), "boundary 2");
});
