import assert from "node:assert/strict";
import { decode } from "fast-png";
import { loadModel } from "../../src/pipeline/model.ts";
import { generateImage, type PipelineEvent } from "../../src/pipeline/generate.ts";
import { ortTest } from "../_helpers.ts";
import { noGpu } from "../kernels/_gpu.ts";
import type { GpuOps } from "../../src/kernels/gpu_ops.ts";

/** Non-latent buffers the device path reads: hysteresis flag, edge map, new token ids. */
const METADATA = new Set(["changed", "cls", "stage2 ids", "stage3 ids"]);

const signal = new AbortController().signal;
const wasm = await loadModel("fixture", "wasm", "cpu");

async function run(
  model: typeof wasm,
  method: "base" | "ralu" | "naive" | "bottleneck",
  preset = "4x",
  seed = 3,
) {
  const events: PipelineEvent[] = [];
  const img = await generateImage(model, {
    prompt: "a large red circle in the center",
    size: "128x128",
    seed,
    acceleration: { method, preset },
  }, { signal, emit: (e) => events.push(e) });
  return { img, events };
}

Deno.test(
  "ralu on the fixture: requested size, three stages with the planned token counts, deterministic",
  ortTest,
  async () => {
    const a = await run(wasm, "ralu", "4x");
    const png = decode(a.img.bytes);
    assert.equal(png.width, 128);
    assert.equal(png.height, 128);
    const stages = a.events.filter((e) => e.type === "stage").map((e) =>
      (e as { tokens: number }).tokens
    );
    // 64 low-res tokens, floor(64 * 0.3) = 19 of them upsampled at stage 2, 256 at stage 3
    assert.deepEqual(stages, [64, 64 - 19 + 4 * 19, 256]);
    assert.deepEqual(a.img.cost.tokensPerStep, [
      ...Array(5).fill(64),
      ...Array(6).fill(121),
      ...Array(7).fill(256),
    ]);
    const mask = a.events.find((e) => e.type === "edge_mask");
    assert.ok(mask && mask.type === "edge_mask" && mask.width === 64 && mask.selected === 19);
    const b = await run(wasm, "ralu", "4x");
    assert.deepEqual(b.img.bytes, a.img.bytes, "same seed → same bytes");
    const c = await run(wasm, "ralu", "4x", 4);
    assert.notDeepEqual(c.img.bytes, a.img.bytes);
  },
);

Deno.test(
  "ralu and naive with anchored noise: deterministic, and not the fresh-noise image",
  ortTest,
  async () => {
    const gen = (method: "ralu" | "naive", noise: "fresh" | "anchored") =>
      generateImage(wasm, {
        prompt: "a large red circle in the center",
        size: "128x128",
        seed: 3,
        acceleration: { method, preset: "7x", noise },
      }, { signal });
    for (const method of ["ralu", "naive"] as const) {
      const a = await gen(method, "anchored"), b = await gen(method, "anchored");
      assert.deepEqual(a.bytes, b.bytes, `${method}: same seed → same bytes`);
      assert.notDeepEqual(a.bytes, (await gen(method, "fresh")).bytes, method);
      assert.equal(a.cost.tokenSteps, (await gen(method, "fresh")).cost.tokenSteps);
    }
  },
);

Deno.test("ralu 7x uses the 7x plan and is cheaper than 4x", ortTest, async () => {
  const r7 = await run(wasm, "ralu", "7x");
  assert.equal(r7.img.cost.evaluations, 2 + 3 + 5);
  const r4 = await run(wasm, "ralu", "4x");
  assert.ok(r7.img.cost.tokenSteps < r4.img.cost.tokenSteps);
  assert.ok(
    12800 / r4.img.cost.tokenSteps >= 4,
    "4x preset: ≥ 4x fewer token-steps than 50-step base",
  );
  assert.ok(12800 / r7.img.cost.tokenSteps >= 6.5, "7x preset: ≥ 6.5x fewer token-steps");
});

Deno.test(
  "GPU kernels and CPU references give the same ralu image",
  { ...ortTest, ignore: noGpu },
  async () => {
    const gpuModel = await loadModel("fixture", "wasm", "gpu");
    assert.equal(gpuModel.kernels.name, "webgpu");
    const a = await run(wasm, "ralu", "4x");
    const b = await run(gpuModel, "ralu", "4x");
    const pa = decode(a.img.bytes).data, pb = decode(b.img.bytes).data;
    let maxDiff = 0;
    for (let i = 0; i < pa.length; i++) maxDiff = Math.max(maxDiff, Math.abs(pa[i]! - pb[i]!));
    assert.ok(maxDiff <= 2, `max pixel difference ${maxDiff}`);
    await gpuModel.release();
  },
);

Deno.test(
  "ralu runs on the WebGPU EP: same size, deterministic",
  { ...ortTest, ignore: noGpu },
  async () => {
    const gpuModel = await loadModel("fixture", "webgpu", "gpu");
    const a = await run(gpuModel, "ralu", "7x");
    const b = await run(gpuModel, "ralu", "7x");
    assert.equal(decode(a.img.bytes).width, 128);
    assert.deepEqual(a.img.bytes, b.img.bytes);
    await gpuModel.release();
  },
);

Deno.test("naive and bottleneck baselines run with their own stage plans", ortTest, async () => {
  const n = await run(wasm, "naive");
  assert.deepEqual(
    n.events.filter((e) => e.type === "stage").map((e) => (e as { tokens: number }).tokens),
    [64, 256],
  );
  assert.equal(n.img.cost.evaluations, 18);
  const b = await run(wasm, "bottleneck");
  assert.deepEqual(
    b.events.filter((e) => e.type === "stage").map((e) => (e as { tokens: number }).tokens),
    [256, 64, 256],
  );
  assert.equal(b.img.cost.evaluations, 16);
});

Deno.test(
  "base and ralu start from the same seed noise (stage 1 = even rows and columns)",
  ortTest,
  async () => {
    const { initialNoise } = await import("../../src/samplers/denoise.ts");
    const ctx = { shape: { channels: 4, height: 8, width: 8 }, seed: 9 } as Parameters<
      typeof initialNoise
    >[0];
    const a = initialNoise(ctx), b = initialNoise({ ...ctx, seed: 10 });
    assert.equal(a.length, 256);
    assert.notDeepEqual(a, b);
  },
);

Deno.test(
  "WebGPU EP: the device-resident loop matches the CPU loop (base and ralu, with guidance)",
  { ...ortTest, ignore: noGpu },
  async () => {
    const onDevice = await loadModel("fixture", "webgpu", "gpu");
    const viaCpu = await loadModel("fixture", "webgpu", "cpu");
    for (const noise of [undefined, "anchored"] as const) {
      for (const method of noise ? ["ralu"] as const : ["base", "ralu"] as const) {
        const params = {
          prompt: "a small blue square",
          size: "64x64",
          seed: 5,
          steps: 6,
          guidance: 2.5,
          acceleration: { method, preset: "7x", noise },
        };
        const previews: PipelineEvent[] = [];
        const a = await generateImage(onDevice, params, {
          signal,
          previewEvery: 2,
          emit: (e) => e.type === "preview" && previews.push(e),
        });
        const b = await generateImage(viaCpu, params, { signal });
        const pa = decode(a.bytes).data, pb = decode(b.bytes).data;
        let maxDiff = 0;
        for (let i = 0; i < pa.length; i++) maxDiff = Math.max(maxDiff, Math.abs(pa[i]! - pb[i]!));
        assert.ok(maxDiff <= 2, `${method} ${noise}: max pixel difference ${maxDiff}`);
        assert.ok(previews.length >= 2, "previews read back from the device");
      }
    }
    // without previews the latent never crosses to the CPU: the final decode runs on the
    // device and only the decoded image is read back, once
    const gpuOps = onDevice.kernels as GpuOps;
    for (const noise of ["fresh", "anchored"] as const) {
      gpuOps.readbacks.length = 0;
      await generateImage(onDevice, {
        prompt: "a small blue square",
        size: "64x64",
        seed: 5,
        steps: 6,
        acceleration: { method: "ralu", preset: "7x", noise },
      }, { signal, emit: () => {} });
      const latentReads = gpuOps.readbacks.filter((l) => !METADATA.has(l));
      assert.deepEqual(latentReads, ["decoded"], `${noise}: ${gpuOps.readbacks.join(", ")}`);
      assert.ok(gpuOps.readbacks.includes("cls"), "the edge map is read for its SSE event");
    }
    assert.equal(gpuOps.pool.live, 0, "no pooled buffer leaked");
    await onDevice.release();
    await viaCpu.release();
  },
);
