// How a run feeds the DiT: what crosses between host and device per step on the WebGPU EP
// (llvmpipe here), sessions per shape, and what is made only for someone who reads it.
import assert from "node:assert/strict";
import { countGpuCalls, type GpuCalls } from "../../src/gpu/api_counter.ts";
import {
  type GenerateHooks,
  generateImage,
  type PipelineEvent,
} from "../../src/pipeline/generate.ts";
import { type LoadedModel, loadModel, PROMPT_CACHE } from "../../src/pipeline/model.ts";
import { noGpu } from "../kernels/_gpu.ts";
import { ortTest } from "../_helpers.ts";

const signal = new AbortController().signal;

/** Runs `fn` on the fixture model (GPU kernels on WebGPU, CPU ones on wasm), then releases it. */
async function withFixture(ep: "webgpu" | "wasm", fn: (m: LoadedModel) => Promise<void>) {
  const model = await loadModel("fixture", ep, ep === "webgpu" ? "gpu" : "cpu");
  try {
    await fn(model);
  } finally {
    await model.release();
  }
}

/** GPU calls of a `steps`-step base run of `model`, with `hooks`. */
async function callsOf(
  model: LoadedModel,
  steps: number,
  hooks: Partial<GenerateHooks> = {},
): Promise<GpuCalls> {
  const counter = countGpuCalls();
  try {
    await generateImage(model, { prompt: "a small red circle", size: "64x64", seed: 3, steps }, {
      signal,
      ...hooks,
    });
    return counter.snapshot();
  } finally {
    counter.stop();
  }
}

Deno.test(
  "WebGPU EP: after a run's first step, a step uploads no data and, with no reader, reads nothing back",
  { ...ortTest, ignore: noGpu },
  async () => {
    await withFixture("webgpu", async (model) => {
      const textBytes = model.manifest.max_text_tokens * model.manifest.text_dim * 4;
      await callsOf(model, 2); // sessions and pipelines made once
      const quiet = { previewEvery: 1, observed: false };
      const [short, long] = [await callsOf(model, 2, quiet), await callsOf(model, 6, quiet)];
      // the run as a whole uploads its conditioning (the counter sees uploads) ...
      assert.ok(short.bytesUploaded >= textBytes, `run uploads ${short.bytesUploaded} B`);
      // ... and four more steps add none: no text embeddings, no latent, no ids
      assert.equal(long.bytesUploaded - short.bytesUploaded, 0, "bytes uploaded by 4 more steps");
      assert.equal(long.mapAsync - short.mapAsync, 0, "readbacks by 4 more steps");
      // a reader makes previews, and those are read back: the check above can fail
      const seen = { previewEvery: 1, observed: true, emit: () => {} };
      const [s2, s6] = [await callsOf(model, 2, seen), await callsOf(model, 6, seen)];
      assert.ok(s6.mapAsync - s2.mapAsync >= 4, `${s6.mapAsync - s2.mapAsync} readbacks`);
    });
  },
);

Deno.test(
  "WebGPU EP: a session per shape a run visits, each made once, shape nodes folded",
  { ...ortTest, ignore: noGpu },
  async () => {
    await withFixture("webgpu", async (model) => {
      const p = { prompt: "a small red circle", size: "64x64", seed: 3 };
      const ralu = { ...p, acceleration: { method: "ralu" as const, preset: "7x" } };
      await generateImage(model, ralu, { signal });
      // stage 1 (16 low-resolution tokens), stage 2 (mixed), stage 3 (64, full resolution)
      const shapes = model.dit.shapes;
      assert.equal(shapes.length, 3, shapes.join(", "));
      assert.deepEqual(shapes.map((s) => s.split(":")[0]), ["1", "1", "1"]);
      assert.equal(model.dit.sessionsOpened, 3);
      await generateImage(model, ralu, { signal });
      await generateImage(model, { ...p, steps: 3 }, { signal }); // base: stage 3's shape
      assert.equal(model.dit.sessionsOpened, 3, "no session made twice");
      await generateImage(model, { ...p, steps: 3, guidance: 2 }, { signal }); // two branches
      assert.equal(model.dit.sessionsOpened, 4);
      assert.equal(model.dit.shapes.at(-1)!.split(":")[0], "2");
    });
  },
);

Deno.test(
  "fixing the run's dimensions leaves no DiT node on the CPU (ORT's placement log)",
  { ignore: noGpu },
  async () => {
    const nodes = async (...extra: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "bench/step_overhead.ts",
          "--placement",
          "models/fixture/transformer.onnx",
          ...extra,
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      const log = new TextDecoder().decode(out.stderr);
      const count = (ep: string) =>
        [...log.matchAll(new RegExp(`placed on \\[${ep}\\]\\. Number of nodes: (\\d+)`, "g"))]
          .reduce((a, m) => a + Number(m[1]), 0);
      return { cpu: count("CPUExecutionProvider"), gpu: count("WebGpuExecutionProvider") };
    };
    const dynamic = await nodes();
    const fixed = await nodes("--dims", "1,16,40");
    assert.ok(dynamic.cpu > 0, `dynamic axes keep shape nodes on the CPU (${dynamic.cpu})`);
    assert.equal(fixed.cpu, 0);
    assert.ok(fixed.gpu > 0);
  },
);

Deno.test("previews and edge maps are made only while someone reads them", ortTest, async () => {
  await withFixture("wasm", async (model) => {
    const p = {
      prompt: "a small red circle",
      size: "64x64",
      seed: 3,
      acceleration: { method: "ralu" as const, preset: "7x" },
    };
    const names = async (observed: boolean) => {
      const events: PipelineEvent[] = [];
      await generateImage(model, p, {
        signal,
        previewEvery: 1,
        observed,
        emit: (e) => events.push(e),
      });
      return events.map((e) => e.type);
    };
    const read = await names(true), unread = await names(false);
    assert.ok(read.includes("preview") && read.includes("edge_mask"));
    assert.ok(!unread.includes("preview") && !unread.includes("edge_mask"), unread.join(","));
    assert.ok(unread.includes("step") && unread.includes("stage"), "progress still reported");
  });
});

Deno.test(
  "prompt conditioning is encoded once and kept for a bounded number of prompts",
  ortTest,
  async () => {
    await withFixture("wasm", async (model) => {
      const first = model.encodePrompt("");
      assert.equal(model.encodePrompt(""), first, "the empty prompt again: the same conditioning");
      for (let i = 0; i < PROMPT_CACHE; i++) await model.encodePrompt(`prompt ${i}`);
      const again = model.encodePrompt("");
      assert.notEqual(again, first, "evicted after PROMPT_CACHE others");
      assert.deepEqual((await again).text, (await first).text);
    });
  },
);

Deno.test(
  "WebGPU EP: the warm-up opens every session a default-size request visits",
  { ...ortTest, ignore: noGpu },
  async () => {
    await withFixture("webgpu", async (model) => {
      const opened = await model.warmUp();
      assert.ok(opened >= 3, `${opened} sessions`);
      assert.equal(model.dit.sessionsOpened, opened);
      for (const preset of Object.keys(model.manifest.presets)) {
        await generateImage(model, {
          prompt: "a small red circle",
          seed: 3,
          acceleration: { method: "ralu", preset },
        }, { signal });
      }
      await generateImage(model, { prompt: "a small red circle", seed: 3, steps: 2 }, { signal });
      assert.equal(model.dit.sessionsOpened, opened, "no request opened another");
    });
  },
);

Deno.test(
  "WebGPU EP: shape sessions are bounded; the least recently used one goes",
  { ...ortTest, ignore: noGpu },
  async () => {
    await withFixture("webgpu", async (model) => {
      const bound = model.dit.maxShapeSessions;
      assert.ok(bound >= 2);
      const runs: Parameters<typeof generateImage>[1][] = [];
      for (const size of ["32x32", "64x64", "128x128"]) {
        for (const guidance of [1, 2]) {
          runs.push({ prompt: "x", size, seed: 1, steps: 1, guidance });
        }
        runs.push({ prompt: "x", size, seed: 1, acceleration: { method: "ralu", preset: "7x" } });
      }
      for (const p of runs) await generateImage(model, p, { signal });
      assert.ok(model.dit.sessionsOpened > bound, `${model.dit.sessionsOpened} opened`);
      assert.equal(model.dit.shapes.length, bound);
      // 32x32 base with two branches (2:16:40) ran once, second, and never again: evicted
      assert.ok(!model.dit.shapes.includes("2:16:40"), model.dit.shapes.join(", "));
      // an evicted shape comes back when asked for, and runs
      await generateImage(model, runs[1]!, { signal });
      assert.equal(model.dit.shapes.at(-1), "2:16:40");
    });
  },
);

Deno.test(
  "WebGPU EP, SD3: lanes reordered and positions fed on the device — no readback per step, the wasm EP's image",
  { ...ortTest, ignore: noGpu },
  async () => {
    const gpuModel = await loadModel("sd3-tiny", "webgpu", "gpu");
    const cpuModel = await loadModel("sd3-tiny", "wasm", "cpu");
    try {
      const p = (steps: number) => ({ prompt: "a red circle", size: "256x256", seed: 2, steps });
      const quiet = { signal, previewEvery: 1, observed: false };
      const count = async (steps: number) => {
        const counter = countGpuCalls();
        try {
          await generateImage(gpuModel, p(steps), quiet);
          return counter.snapshot();
        } finally {
          counter.stop();
        }
      };
      await count(2); // sessions and pipelines made once
      const [short, long] = [await count(2), await count(5)];
      assert.equal(long.mapAsync - short.mapAsync, 0, "readbacks by 3 more steps");
      // the same picture as the host path (reordered and positioned there), both CFG branches
      const ralu = { ...p(1), acceleration: { method: "ralu" as const, preset: "3x" } };
      const [a, b] = [
        await generateImage(gpuModel, ralu, { signal }),
        await generateImage(cpuModel, ralu, { signal }),
      ];
      const { decode } = await import("fast-png");
      const [pa, pb] = [decode(a.bytes).data, decode(b.bytes).data];
      let worst = 0;
      for (let i = 0; i < pa.length; i++) worst = Math.max(worst, Math.abs(pa[i]! - pb[i]!));
      assert.ok(worst <= 3, `largest pixel difference ${worst}`);
      assert.equal(a.cost.evaluations, 24);
    } finally {
      await gpuModel.release();
      await cpuModel.release();
    }
  },
);
