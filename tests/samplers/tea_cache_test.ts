// TeaCache-style caching by value: the accumulate-and-threshold rule on a recorded indicator
// sequence, the indicator graph itself, which steps run the DiT in real runs (never across a
// RALU boundary), and the routes, the jobs API, the FLUX miniature and the WebGPU EP.
import assert from "node:assert/strict";
import { decode } from "fast-png";
import { polyval, TeaState } from "../../src/samplers/tea_cache.ts";
import type { SamplerEvent } from "../../src/samplers/types.ts";
import { generateImage, planSteps } from "../../src/pipeline/generate.ts";
import { loadModel } from "../../src/pipeline/model.ts";
import { HttpError } from "../../src/http/errors.ts";
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

Deno.test("the rescale polynomial is evaluated highest degree first", () => {
  assert.equal(polyval([2, -1, 0.5], 3), 2 * 9 - 3 + 0.5);
  assert.equal(polyval([1, 0], 0.25), 0.25);
});

Deno.test("TeaCache's skip decisions on a recorded indicator sequence", () => {
  // rel_l1 of the modulated input at steps 1.. of a stage (step 0 always computes)
  const rels = [0.1, 0.1, 0.1, 0.05, 0.3, 0.01, 0.01, 0.2];
  const run = (rescale: number[], threshold: number) => {
    const s = new TeaState(rescale, threshold);
    return rels.map((r) => s.decide(r));
  };
  // identity: the sum 0.1, 0.2, 0.3 crosses 0.25 at the third, restarts; 0.05 + 0.3 crosses...
  assert.deepEqual(run([1, 0], 0.25), [false, false, true, false, true, false, false, false]);
  // ...and at 0.22 the sum 0.01 + 0.01 + 0.2 crosses too
  assert.deepEqual(run([1, 0], 0.22), [false, false, true, false, true, false, false, true]);
  // a rescale that doubles the change computes more often at the same threshold
  assert.deepEqual(run([2, 0], 0.25), [false, true, false, true, true, false, false, true]);
  // a threshold past the whole sum never computes in between
  assert.deepEqual(run([1, 0], 5), rels.map(() => false));
});

Deno.test(
  "the indicator graph: zero for the same step, grows with the latent's change, sees the timestep",
  ortTest,
  async () => {
    const model = await loadModel("default", "wasm", "cpu");
    try {
      const ind = model.teaIndicator(await model.encodePrompt("a red circle"), 1)!;
      const n = 64 * 16;
      const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
      const moved = (eps: number) => x.map((v, i) => v + eps * Math.cos(i * 1.3));
      assert.equal(await ind.run(x, 0.5, x, 0.5), 0);
      const small = await ind.run(moved(0.01), 0.5, x, 0.5);
      const large = await ind.run(moved(0.1), 0.5, x, 0.5);
      assert.ok(small > 0 && large > 3 * small, `${small} vs ${large}`);
      assert.ok((await ind.run(x, 0.4, x, 0.5)) > 0, "the modulation depends on the timestep");
      assert.ok(
        model.manifest.teacache_rescale!.length === 3,
        "the default model's fitted rescale",
      );
    } finally {
      await model.release();
    }
  },
);

Deno.test(
  "TeaCache runs: DiT calls as reported, each stage's first and last step computed, deterministic",
  ortTest,
  async () => {
    const model = await loadModel("default", "wasm", "cpu");
    let calls = 0;
    const restore = aroundVelocity(model, (call) => (calls++, call()));
    try {
      const run = async (acceleration: object) => {
        const events: (SamplerEvent & { type: "step" })[] = [];
        const r = await generateImage(model, {
          prompt: "a small red circle above a blue square",
          seed: 3,
          acceleration: acceleration as never,
        }, { signal, emit: (e) => e.type === "step" && events.push(e) });
        return { r, steps: events };
      };
      // 0.08 computes now and then; 1.5 lets the sum cross rarely, so a stage's last step is
      // computed by the rule alone
      const cache = { method: "teacache", threshold: 0.08 };
      const sparse = { method: "teacache", threshold: 1.5 };
      for (
        const acc of [
          { method: "base", cache },
          { method: "ralu", preset: "4x", cache },
          { method: "base", cache: sparse },
          { method: "ralu", preset: "4x", cache: sparse },
        ]
      ) {
        calls = 0;
        const a = await run(acc);
        assert.equal(calls, a.r.report.evaluations, "evaluations report the DiT calls made");
        assert.equal(a.r.report.cached_steps, a.steps.filter((s) => s.cached).length);
        assert.ok(a.r.report.cached_steps > 0, JSON.stringify(acc));
        for (const st of new Set(a.steps.map((s) => s.stage))) {
          const inStage = a.steps.filter((s) => s.stage === st);
          assert.ok(!inStage[0]!.cached && !inStage.at(-1)!.cached, `stage ${st}: ends computed`);
        }
        const b = await run(acc);
        assert.deepEqual(
          decode(b.r.bytes).data,
          decode(a.r.bytes).data,
          "deterministic for a seed",
        );
      }
      // a higher threshold skips more
      const lo = await run({ method: "base", cache: { method: "teacache", threshold: 0.02 } });
      const hi = await run({ method: "base", cache: { method: "teacache", threshold: 0.15 } });
      assert.ok(hi.r.report.cached_steps > lo.r.report.cached_steps);
    } finally {
      restore();
      await model.release();
    }
  },
);

Deno.test("a model without an indicator graph refuses TeaCache up front, naming the field", () => {
  const manifest = { id: "x", files: { transformer: "t" } } as never;
  assert.throws(
    () =>
      planSteps({
        manifest: { ...(manifest as object), default_size: "64x64", sizes: ["64x64"] } as never,
      }, {
        acceleration: { method: "base", cache: { method: "teacache", threshold: 0.1 } },
      }),
    (e: unknown) =>
      e instanceof HttpError && e.status === 400 && e.param === "acceleration.cache.method",
  );
});

Deno.test(
  "TeaCache through both routes, the jobs API and the FLUX miniature",
  ortTest,
  async () => {
    const cache = { method: "teacache", threshold: 0.2 };
    const { app } = await fixtureApp();
    await assertJobMarksCachedSteps(app, { method: "ralu", preset: "4x", cache });
    const plain = await (await app.request(
      "/v1/images/generations",
      post({ prompt: "x", size: "32x32", acceleration: { method: "base", cache } }),
    )).json();
    assert.ok(plain.ralu.cost.cached_steps > 0);
    // the OpenAI stream carries partial images through cached steps like any other
    const stream = await (await app.request(
      "/v1/images/generations",
      post({
        prompt: "x",
        size: "32x32",
        stream: true,
        partial_images: 2,
        acceleration: { method: "base", cache },
      }),
    )).text();
    assert.match(stream, /image_generation\.partial_image[\s\S]*image_generation\.completed/);
    const flux = await app.request(
      "/v1/images/generations",
      post({
        prompt: "a red circle",
        model: "flux-tiny",
        size: "256x256",
        seed: 2,
        steps: 12,
        acceleration: { method: "base", cache: { method: "teacache", threshold: 0.5 } },
      }),
    );
    assert.equal(flux.status, 200);
    const cost = (await flux.json()).ralu.cost;
    assert.ok(
      cost.cached_steps > 0 && cost.evaluations + cost.cached_steps === cost.steps,
      JSON.stringify(cost),
    );
  },
);

Deno.test(
  "TeaCache on the WebGPU EP makes the same decisions and image as on wasm",
  { ...ortTest, ignore: noGpu },
  async () => {
    const { gpu, cpu, worst } = await gpuAndCpuRuns({
      method: "ralu",
      preset: "4x",
      cache: { method: "teacache" as const, threshold: 0.2 },
    });
    assert.ok(gpu.report.cached_steps > 0);
    assert.equal(gpu.report.cached_steps, cpu.report.cached_steps);
    assert.ok(worst <= 2, `max pixel difference ${worst}`);
  },
);
