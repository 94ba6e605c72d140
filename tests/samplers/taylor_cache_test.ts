// TaylorSeer-style caching by value: the extrapolation's exactness on polynomials, which steps
// run the DiT, that no prediction crosses a RALU boundary, and the API's rules for it.
import assert from "node:assert/strict";
import { decode } from "fast-png";
import { cpuBackend } from "../../src/samplers/cpu_backend.ts";
import { denoise, newCost } from "../../src/samplers/denoise.ts";
import { computesStep, lagrangeWeights } from "../../src/samplers/taylor_cache.ts";
import type { SamplerContext, SamplerEvent } from "../../src/samplers/types.ts";
import type { CacheSettings } from "../../src/config/image_request.ts";
import { generateImage } from "../../src/pipeline/generate.ts";
import { loadModel } from "../../src/pipeline/model.ts";
import {
  aroundVelocity,
  assertJobMarksCachedSteps,
  fixtureApp,
  gpuAndCpuRuns,
  ortTest,
  post,
} from "../_helpers.ts";
import { noGpu } from "../kernels/_gpu.ts";

const signal = new AbortController().signal;

Deno.test("Lagrange weights reproduce polynomials of degree < the points, and only those", () => {
  const line = (t: number) => 0.3 - 2 * t;
  const quad = (t: number) => 1 + 0.5 * t - 3 * t * t;
  const sum = (ts: number[], f: (t: number) => number, t: number) =>
    lagrangeWeights(ts, t).reduce((a, w, i) => a + w * f(ts[i]!), 0);
  assert.ok(Math.abs(sum([1, 0.9], line, 0.8) - line(0.8)) < 1e-12);
  assert.ok(Math.abs(sum([1, 0.9, 0.7], quad, 0.6) - quad(0.6)) < 1e-12);
  // a quadratic through two points is not extrapolated exactly: order matters
  assert.ok(Math.abs(sum([1, 0.9], quad, 0.8) - quad(0.8)) > 0.01);
});

Deno.test("the DiT runs on the warm-up steps, then on every interval-th", () => {
  const c: CacheSettings = { method: "taylorseer", interval: 3, order: 1, warmup: 2 };
  const runs = Array.from({ length: 10 }, (_, i) => computesStep(c, i));
  assert.deepEqual(runs, [true, true, false, false, true, false, false, true, false, false]);
});

/** One stage of `steps` Euler steps with a velocity field that is `v(sigma)` everywhere. */
async function stage(v: (sigma: number) => number, cache?: CacheSettings) {
  let calls = 0;
  const be = cpuBackend((x, _ids, sigma) => {
    calls++;
    return Promise.resolve(new Float32Array(x.length).fill(v(sigma)));
  }, () => Promise.reject(new Error("no decode here")));
  const ctx = {
    backend: be,
    evalsPerStep: 1,
    signal,
    emit: () => {},
    cache,
  } as unknown as SamplerContext;
  const sigmas = Float64Array.from({ length: 13 }, (_, i) => 1 - i / 12);
  const cost = newCost();
  const { x } = await denoise(
    ctx,
    be.upload(new Float32Array(8).fill(1), "x"),
    new Float32Array(6),
    sigmas,
    1,
    cost,
    () => {
      throw new Error("no preview");
    },
  );
  return { x: (x as Float32Array)[0]!, calls, cost };
}

Deno.test("a velocity that is a polynomial in sigma is extrapolated exactly by a cache of its order", async () => {
  const quad = (s: number) => 0.2 + 1.5 * s - 2 * s * s;
  const full = await stage(quad);
  const order2 = await stage(quad, { method: "taylorseer", interval: 3, order: 2, warmup: 3 });
  const order1 = await stage(quad, { method: "taylorseer", interval: 3, order: 1, warmup: 3 });
  assert.equal(full.calls, 12);
  assert.equal(order2.calls, 6); // steps 0, 1, 2, 4, 7, 10
  assert.equal(order2.cost.evaluations, 6);
  assert.equal(order2.cost.cachedSteps, 6);
  assert.equal(order2.cost.steps, 12);
  assert.ok(Math.abs(order2.x - full.x) < 1e-5, `${order2.x} vs ${full.x}`);
  assert.ok(Math.abs(order1.x - full.x) > 1e-3, "order 1 on a quadratic is not exact");
});

Deno.test(
  "cached runs: the DiT call count, a fresh cache per RALU stage, deterministic",
  ortTest,
  async () => {
    const model = await loadModel("fixture", "wasm", "cpu");
    let calls = 0;
    const restore = aroundVelocity(model, (call) => (calls++, call()));
    try {
      const cache = { method: "taylorseer" as const, interval: 2, order: 1 as const, warmup: 2 };
      const run = async () => {
        const events: SamplerEvent[] = [];
        const r = await generateImage(model, {
          prompt: "a small red circle",
          size: "64x64",
          seed: 4,
          acceleration: { method: "ralu", preset: "4x", cache },
        }, { signal, emit: (e) => e.type === "step" && events.push(e) });
        return { r, steps: events as (SamplerEvent & { type: "step" })[] };
      };
      calls = 0;
      const a = await run();
      assert.equal(calls, a.r.report.evaluations, "evaluations report the DiT calls made");
      assert.equal(a.r.report.cached_steps, a.steps.filter((s) => s.cached).length);
      assert.ok(a.r.report.cached_steps > 0);
      assert.equal(
        a.r.report.image_tokens_per_step.length,
        calls,
        "cost counts computed steps only",
      );
      for (const st of [1, 2, 3]) {
        const inStage = a.steps.filter((s) => s.stage === st);
        // each stage starts with its own warm-up: nothing cached from the stage before
        assert.deepEqual(inStage.slice(0, 2).map((s) => !!s.cached), [false, false], `stage ${st}`);
      }
      const b = await run();
      assert.deepEqual(decode(b.r.bytes).data, decode(a.r.bytes).data, "deterministic for a seed");
    } finally {
      restore();
      await model.release();
    }
  },
);

Deno.test("cache settings are checked like every other field", ortTest, async () => {
  const { app } = await fixtureApp();
  const cases: [unknown, string][] = [
    [
      { method: "ralu", preset: "4x", cache: { method: "taylorseer", order: 2, warmup: 2 } },
      "acceleration.cache.warmup",
    ],
    [{ method: "naive", preset: "4x", cache: { method: "taylorseer" } }, "acceleration.cache"],
    [{ method: "base", cache: { method: "teacache" } }, "acceleration.cache.threshold"],
    [
      { method: "base", cache: { method: "teacache", threshold: 0 } },
      "acceleration.cache.threshold",
    ],
    [{ method: "base", cache: { method: "tea" } }, "acceleration.cache.method"],
    [
      { method: "base", cache: { method: "taylorseer", interval: 1 } },
      "acceleration.cache.interval",
    ],
  ];
  for (const [acceleration, param] of cases) {
    const res = await app.request("/v1/images/generations", post({ prompt: "x", acceleration }));
    assert.equal(res.status, 400, JSON.stringify(acceleration));
    assert.equal((await res.json()).error.param, param, JSON.stringify(acceleration));
  }
  const ok = await app.request(
    "/v1/images/generations",
    post({
      prompt: "x",
      size: "32x32",
      steps: 6,
      acceleration: { method: "base", cache: { method: "taylorseer" } },
    }),
  );
  assert.equal(ok.status, 200);
  const cost = (await ok.json()).ralu.cost;
  assert.deepEqual([cost.steps, cost.cached_steps, cost.evaluations], [6, 2, 4]);
});

Deno.test(
  "a cached run on the WebGPU EP (extrapolation on the device) matches the CPU run",
  { ...ortTest, ignore: noGpu },
  async () => {
    const { gpu, worst } = await gpuAndCpuRuns({
      method: "ralu",
      preset: "4x",
      cache: { method: "taylorseer" as const, interval: 2, order: 2 as const, warmup: 3 },
    });
    assert.ok(gpu.report.cached_steps > 0);
    assert.ok(worst <= 2, `max pixel difference ${worst}`);
  },
);

Deno.test("caching through the jobs API and on the FLUX miniature", ortTest, async () => {
  const cache = { method: "taylorseer", interval: 2, order: 1, warmup: 2 };
  const { app } = await fixtureApp();
  await assertJobMarksCachedSteps(app, { method: "ralu", preset: "4x", cache });
  const fluxRun = (acceleration: object) =>
    app.request(
      "/v1/images/generations",
      post({ prompt: "a red circle", model: "flux-tiny", size: "512x512", seed: 2, acceleration }),
    );
  const flux = await fluxRun({ method: "ralu", preset: "4x", cache });
  assert.equal(flux.status, 200);
  const cost = (await flux.json()).ralu.cost;
  assert.ok(cost.cached_steps > 0 && cost.evaluations + cost.cached_steps === cost.steps);
  // the FLUX manifest's 7x + TaylorSeer preset carries its cache: 7 of the 10 steps computed
  const preset = await fluxRun({ method: "ralu", preset: "7x-taylor" });
  const pj = await preset.json();
  assert.equal(preset.status, 200, JSON.stringify(pj));
  const pc = pj.ralu.cost;
  assert.deepEqual([pc.steps, pc.evaluations, pc.cached_steps], [10, 7, 3]);
});
