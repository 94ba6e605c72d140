/**
 * The samplers' data flow by value, on the CPU backend with a recording stand-in for the
 * DiT: zero velocity, so every stage's input is exactly what the sampler built from the
 * seed's noise (resizes, re-noising, repacking), and every sigma it asked for.
 */
import assert from "node:assert/strict";
import { cpuBackend } from "../../src/samplers/cpu_backend.ts";
import type { SamplerContext } from "../../src/samplers/types.ts";
import { initialNoise } from "../../src/samplers/denoise.ts";
import { sampleBottleneck } from "../../src/samplers/bottleneck.ts";
import { sampleNaive } from "../../src/samplers/naive.ts";
import { sampleRalu } from "../../src/samplers/ralu.ts";
import { gaussian } from "../../src/kernels/philox_cpu.ts";
import { pack, unpack } from "../../src/kernels/pack_cpu.ts";
import { shift, shiftedSigmas } from "../../src/schedule/flow_match.ts";
import { parseManifest } from "../../src/config/manifest.ts";

const manifest = parseManifest(
  JSON.parse(await Deno.readTextFile("models/fixture/manifest.json")),
);
const C = 4, H = 16, W = 16;

interface Call {
  x: Float32Array;
  ids: Float32Array;
  sigma: number;
}

function context(seed = 5): { ctx: SamplerContext; calls: Call[] } {
  const calls: Call[] = [];
  const ctx: SamplerContext = {
    shape: { channels: C, height: H, width: W },
    seed,
    steps: 4,
    baseShift: 3,
    backend: cpuBackend(
      (x, ids, sigma) => {
        calls.push({ x: x.slice(), ids: ids.slice(), sigma });
        return Promise.resolve(new Float32Array(x.length));
      },
      (_l, h, w) => Promise.resolve(new Float32Array(3 * h * 4 * w * 4)),
    ),
    tokenFootprintPx: 8,
    emit: () => {},
    signal: new AbortController().signal,
    evalsPerStep: 1,
  };
  return { ctx, calls };
}

/** Calls grouped by token count change (one group per stage). */
function stages(calls: Call[]): Call[][] {
  const out: Call[][] = [];
  let last = -1;
  for (const c of calls) {
    if (c.ids.length !== last) out.push([]);
    out.at(-1)!.push(c);
    last = c.ids.length;
  }
  return out;
}

function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i]! - b[i]!) <= tol, `${what} [${i}]: ${a[i]} vs ${b[i]}`);
  }
}

Deno.test("ralu stage 1 starts from the even rows and columns of the seed's noise, by value", async () => {
  const { ctx, calls } = context(9);
  await sampleRalu(ctx, { method: "ralu", preset: "4x", noise: "fresh" }, manifest);
  const noise = gaussian(9, 0, 0, C * H * W);
  const want = new Float32Array(C * (H / 2) * (W / 2));
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H / 2; y++) {
      for (let x = 0; x < W / 2; x++) {
        want[(c * (H / 2) + y) * (W / 2) + x] = noise[(c * H + 2 * y) * W + 2 * x]!;
      }
    }
  }
  assert.deepEqual(unpack(calls[0]!.x, C, H / 2, W / 2), want);
  // and not any other subsampling: the odd rows differ
  const odd = Float32Array.from(want, (_, i) => {
    const c = Math.floor(i / 64), y = Math.floor(i / 8) % 8, x = i % 8;
    return noise[(c * H + 2 * y + 1) * W + 2 * x]!;
  });
  assert.notDeepEqual(unpack(calls[0]!.x, C, H / 2, W / 2), odd);
});

Deno.test("bottleneck: 2x2 means down, nearest up in latent space, re-noised at the stage's sigma", async () => {
  for (const noise of ["fresh", "anchored"] as const) {
    const { ctx, calls } = context(5);
    await sampleBottleneck(ctx, { method: "bottleneck", preset: "4x", noise }, manifest);
    const [a, b, c] = stages(calls) as [Call[], Call[], Call[]];
    assert.deepEqual([a.length, b.length, c.length], [2, 8, 6]);
    const seed = initialNoise(ctx);
    assert.deepEqual(a[0]!.x, pack(seed, C, H, W));
    // shifts: full stages with h0 = 3, the low stage with h0 / 2 (4x fewer tokens)
    const sA = shiftedSigmas(1, 0.9, 2, 3), sB = shiftedSigmas(sA[2]!, 0.4, 8, 1.5);
    assertClose(a.map((k) => k.sigma), [...sA.slice(0, 2)], 1e-12, "sigmas A");
    assertClose(b.map((k) => k.sigma), [...sB.slice(0, 8)], 1e-12, "sigmas B");
    assert.ok(Math.abs(b[1]!.sigma - b[0]!.sigma) > 0);
    // down: with zero velocity x0 = x = the seed's noise; its 2x2 means, re-noised at sigma_A
    const sigA = sA[2]!;
    const lowNoise = noise === "anchored" ? null : gaussian(5, 11, 0, C * 8 * 8); // drawn as a [C, h, w] latent
    const got = unpack(b[0]!.x, C, 8, 8);
    for (let ch = 0; ch < C; ch++) {
      for (let y = 0; y < 8; y++) {
        for (let x = 0; x < 8; x++) {
          const at = (dy: number, dx: number) => seed[(ch * H + 2 * y + dy) * W + 2 * x + dx]!;
          const m = (at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)) / 4;
          const n = lowNoise ? lowNoise[(ch * 8 + y) * 8 + x]! : 2 * m; // anchored: sums / 2
          const want = (1 - sigA) * m + sigA * n;
          const i = (ch * 8 + y) * 8 + x;
          assert.ok(Math.abs(got[i]! - want) < 1e-5, `${noise} down (${ch},${y},${x})`);
        }
      }
    }
    // up: every 2x2 block of the full latent holds one low pixel, re-noised at sigma_B
    const sigB = sB[8]!;
    const low = unpack(b.at(-1)!.x, C, 8, 8);
    const upNoise = noise === "anchored" ? seed : gaussian(5, 12, 0, C * H * W);
    const full = unpack(c[0]!.x, C, H, W);
    for (let i = 0; i < full.length; i++) {
      const ch = Math.floor(i / (H * W)), y = Math.floor(i / W) % H, x = i % W;
      const v = low[(ch * 8 + (y >> 1)) * 8 + (x >> 1)]!;
      assert.ok(Math.abs(full[i]! - ((1 - sigB) * v + sigB * upNoise[i]!)) < 1e-5, `up ${i}`);
    }
    assert.ok(Math.abs(c[0]!.sigma - sigB) < 1e-12);
  }
});

Deno.test("bottleneck: a ramp comes back from the low stage unscrambled", () => {
  // the latent-space pair on its own: row 0.5 0.5 2.5 2.5 (2x2 means of 0..3) stays in place
  const be = context().ctx.backend;
  const ramp = Float32Array.from({ length: 16 }, (_, i) => i % 4); // [1, 4, 4]: 0 1 2 3 per row
  const down = be.meanPool2x(ramp, 1, 4, 4) as Float32Array;
  assert.deepEqual([...down], [0.5, 2.5, 0.5, 2.5]);
  const up = be.upsample2x(down, 1, 2, 2) as Float32Array;
  assert.deepEqual([...up.slice(0, 4)], [0.5, 0.5, 2.5, 2.5]);
  assert.deepEqual([...up.slice(12, 16)], [0.5, 0.5, 2.5, 2.5]);
});

Deno.test("naive: low resolution to t_up with the base shift, then 4 copies per token, no noise", async () => {
  const { ctx, calls } = context(3);
  await sampleNaive(ctx, { method: "naive", preset: "4x", noise: "fresh" }, manifest);
  const [lo, hi] = stages(calls) as [Call[], Call[]];
  assert.deepEqual([lo.length, hi.length], [11, 7]);
  const want = shiftedSigmas(1, 1 - 0.45, 11, 3);
  assertClose(lo.map((k) => k.sigma), [...want.slice(0, 11)], 1e-12, "low");
  assert.ok(Math.abs(hi[0]!.sigma - 0.55) < 1e-12, "full resolution resumes at t_up");
  assert.ok(Math.abs(shift(0.5, 3) - 0.75) < 1e-12);
  // zero velocity: the full-resolution latent is the low one repeated on the token grid
  const low = lo.at(-1)!.x, full = hi[0]!.x;
  for (let t = 0; t < 64; t++) {
    const r = Math.floor(t / 8), c = t % 8; // 8 x 8 full tokens from 4 x 4 low ones
    const src = (r >> 1) * 4 + (c >> 1);
    assert.deepEqual(full.slice(t * 16, t * 16 + 16), low.slice(src * 16, src * 16 + 16));
  }
});

Deno.test("a token-step budget scales every method's steps to it", async () => {
  for (const method of ["ralu", "naive", "bottleneck"] as const) {
    const { ctx, calls } = context();
    const budget = 900;
    const run = { ralu: sampleRalu, naive: sampleNaive, bottleneck: sampleBottleneck }[method];
    const r = await run(ctx, { method, preset: "4x", token_steps: budget }, manifest);
    const spent = calls.reduce((a, c) => a + c.ids.length / 3, 0);
    assert.equal(r.cost.tokenSteps, spent);
    assert.ok(Math.abs(spent - budget) <= 16, `${method}: ${spent} token-steps for ${budget}`);
  }
});
