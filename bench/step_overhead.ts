/**
 * `deno run -A bench/step_overhead.ts [--ep wasm,webgpu] [--models default,flux-tiny]
 * [--steps 3,9] [--api auto|on|off] [--rounds 2] [--out FILE.json]`: what one denoising step
 * costs beyond the DiT's arithmetic.
 *
 * 1. Per step, for each execution provider and model: wall time and the WebGPU calls made
 *    (submits, `writeBuffer` and its bytes, dispatches, bind groups, buffers, bytes mapped
 *    for reading), as the difference of two `base` runs of `--steps` lo and hi steps with no
 *    preview — encode and decode cancel out. The GPU calls are counted by wrapping the
 *    WebGPU prototypes (src/gpu/api_counter.ts); the wasm EP makes none for the DiT.
 * 2. Where the DiT graph's nodes run: ORT's node placement (CPU vs WebGPU) with dynamic axes
 *    and with the run's shapes fixed (the WebGPU EP only; the wasm EP runs every node on the
 *    CPU anyway).
 * 3. Through the API (in process), `--rounds` times: base-50, ralu 7x and 4x, and the base-k
 *    of equal token-steps, wall time (default: on wasm, and on WebGPU when the adapter is a
 *    real GPU — llvmpipe takes ~1 s per step).
 *
 * Prints tables; writes JSON to --out (default $OUT/step_overhead.json when $OUT is set).
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { countGpuCalls, type GpuCalls, perUnit } from "../src/gpu/api_counter.ts";
import { loadModel } from "../src/pipeline/model.ts";
import { generateImage } from "../src/pipeline/generate.ts";
import { type Ep, probeAdapter } from "../src/onnx/ort.ts";
import { serveFlagsSchema } from "../src/config/server_flags.ts";
import { createState } from "../src/server.ts";
import { createApp } from "../src/app.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    ep: { type: "string", default: "wasm,webgpu" },
    models: { type: "string", default: "default,flux-tiny" },
    steps: { type: "string", default: "3,9" },
    api: { type: "string", default: "auto" },
    rounds: { type: "string", default: "2" },
    out: { type: "string" },
  },
});
const eps = flags.ep.split(",") as Ep[];
const models = flags.models.split(",");
const [lo, hi] = flags.steps.split(",").map(Number) as [number, number];
const adapter = await probeAdapter();
console.log(`adapter: ${adapter?.description ?? "none"} (real GPU: ${adapter?.isRealGpu ?? false})`);

interface StepRow {
  ep: Ep;
  model: string;
  ms_per_step: number;
  calls_per_step: GpuCalls;
}
const stepRows: StepRow[] = [];

for (const ep of eps) {
  for (const id of models) {
    const model = await loadModel(id, ep);
    const run = async (steps: number) => {
      const t0 = performance.now();
      await generateImage(model, { prompt: "a red circle", seed: 1, steps }, {
        signal: new AbortController().signal,
        previewEvery: 0,
      });
      return performance.now() - t0;
    };
    await run(lo); // warm-up: sessions, pipelines, pools
    const counter = countGpuCalls();
    const a = counter.snapshot();
    const tLo = await run(lo);
    const b = counter.snapshot();
    const tHi = await run(hi);
    const c = counter.snapshot();
    counter.stop();
    const perStep = perUnit(
      perUnit(a, b, 1),
      perUnit(b, c, 1),
      hi - lo,
    );
    stepRows.push({ ep, model: id, ms_per_step: (tHi - tLo) / (hi - lo), calls_per_step: perStep });
    await model.release();
  }
}
const f = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
console.log(
  "\n| EP | model | ms / step | submits | writeBuffer | bytes written | dispatches | bind groups | buffers | maps | bytes read |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const r of stepRows) {
  const k = r.calls_per_step;
  console.log(
    `| ${r.ep} | ${r.model} | ${r.ms_per_step.toFixed(1)} | ${f(k.submit)} | ${f(k.writeBuffer)} | ${
      f(k.bytesWritten)
    } | ${f(k.dispatch)} | ${f(k.createBindGroup)} | ${f(k.createBuffer)} | ${f(k.mapAsync)} | ${
      f(k.bytesRead)
    } |`,
  );
}

interface ApiRow {
  ep: Ep;
  run: string;
  token_steps: number;
  wall_s: number[];
}
const apiRows: ApiRow[] = [];
for (const ep of eps) {
  const want = flags.api === "on" || (flags.api === "auto" && (ep === "wasm" || adapter?.isRealGpu));
  if (!want) continue;
  const state = await createState(serveFlagsSchema.parse({ model: "default", ep, "queue-size": 100 }));
  await state.registry.get();
  const app = createApp(state);
  const call = async (body: Record<string, unknown>) => {
    const t0 = performance.now();
    const res = await app.request("/v1/images/generations", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "a red circle on a beige background", seed: 7, ...body }),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(JSON.stringify(json));
    return { s: (performance.now() - t0) / 1000, tokenSteps: json.ralu.cost.token_steps as number };
  };
  await call({ steps: 4 }); // warm-up
  const runs: [string, Record<string, unknown>][] = [
    ["base-50", {}],
    ["ralu 7x", { acceleration: { method: "ralu", preset: "7x" } }],
    ["ralu 4x", { acceleration: { method: "ralu", preset: "4x" } }],
  ];
  const full = (await call({ steps: 1 })).tokenSteps;
  const rows = new Map<string, ApiRow>();
  for (let round = 0; round < Number(flags.rounds); round++) {
    for (const [name, body] of runs) { // base-k rows join after round 0's ralu runs
      const r = await call(body);
      const row = rows.get(name) ?? { ep, run: name, token_steps: r.tokenSteps, wall_s: [] };
      row.wall_s.push(r.s);
      rows.set(name, row);
      if (name.startsWith("ralu") && round === 0) {
        const k = Math.round(r.tokenSteps / full);
        runs.push([`base-${k} (= ${name} token-steps)`, { steps: k }]);
      }
    }
  }
  apiRows.push(...rows.values());
  await (await state.registry.get()).release();
}
if (apiRows.length) {
  console.log("\n| EP | run | token-steps | wall s (each round) | vs base-50 |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const r of apiRows) {
    const base = apiRows.find((b) => b.ep === r.ep && b.run === "base-50")!;
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log(
      `| ${r.ep} | ${r.run} | ${r.token_steps} | ${r.wall_s.map((s) => s.toFixed(2)).join(" / ")} | ${
        (med(base.wall_s) / med(r.wall_s)).toFixed(2)
      }x |`,
    );
  }
}

const out = flags.out ?? (Deno.env.get("OUT") ? join(Deno.env.get("OUT")!, "step_overhead.json") : undefined);
if (out) {
  await Deno.writeTextFile(
    out,
    JSON.stringify({ adapter: adapter?.description, steps: stepRows, api: apiRows }, null, 1),
  );
}
