/**
 * `deno run -A bench/step_overhead.ts [--ep wasm,webgpu] [--models default,flux-tiny]
 * [--steps 3,9] [--repeat 3] [--api auto|on|off] [--rounds 2] [--out FILE.json]`: what one denoising step
 * costs beyond the DiT's arithmetic.
 *
 * 1. Per step, for each execution provider and model: wall time and the WebGPU calls made
 *    (submits, `writeBuffer` and its bytes, dispatches, bind groups, buffers, bytes mapped
 *    for reading), as the difference of two `base` runs of `--steps` lo and hi steps with no
 *    preview — encode and decode cancel out; the median of `--repeat` such pairs. The GPU calls are counted by wrapping the
 *    WebGPU prototypes (src/gpu/api_counter.ts); the wasm EP makes none for the DiT.
 * 2. Where the DiT graph's nodes run: ORT's node placement (CPU vs WebGPU) with dynamic axes
 *    and with the run's shapes fixed (the WebGPU EP only; the wasm EP runs every node on the
 *    CPU anyway), read from ORT's verbose log in a child process.
 * 3. Graph capture (WebGPU EP): a captured session and a plain one of the same shape, fed the
 *    same bound buffers while one input changes between runs: max |difference| per run.
 * 4. Through the API (in process), `--rounds` times: base-50, ralu 7x and 4x, and the base-k
 *    of equal token-steps, wall time (default: on wasm, and on WebGPU when the adapter is a
 *    real GPU — llvmpipe takes ~1 s per step); and the longest the event loop waited
 *    during base-50 (what a /health request would wait at most).
 *
 * Prints tables; writes JSON to --out (default $OUT/step_overhead.json when $OUT is set).
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { countGpuCalls, type GpuCalls, perUnit } from "../src/gpu/api_counter.ts";
import { loadModel } from "../src/pipeline/model.ts";
import { generateImage } from "../src/pipeline/generate.ts";
import { loadGraph } from "../src/onnx/load_graph.ts";
import { type Ep, logNodePlacement, ortGpuDevice, probeAdapter } from "../src/onnx/ort.ts";
import { STORAGE } from "../src/gpu/context.ts";
import { serveFlagsSchema } from "../src/config/server_flags.ts";
import { imageTokens, parseSize } from "../src/config/manifest.ts";
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
    repeat: { type: "string", default: "3" },
    out: { type: "string" },
    placement: { type: "string" },
    dims: { type: "string" },
  },
});
if (flags.placement) {
  // child mode: ORT's verbose load log of one graph goes to stderr (read by the parent)
  const [B, n, L] = flags.dims?.split(",").map(Number) ?? [];
  await logNodePlacement(
    await Deno.readFile(flags.placement),
    "webgpu",
    flags.dims ? { dims: { B: B!, n: n!, L: L! } } : undefined,
  );
  Deno.exit(0);
}
const eps = flags.ep.split(",") as Ep[];
const models = flags.models.split(",");
const [lo, hi] = flags.steps.split(",").map(Number) as [number, number];
const adapter = await probeAdapter();
console.log(
  `adapter: ${adapter?.description ?? "none"} (real GPU: ${adapter?.isRealGpu ?? false})`,
);

interface StepRow {
  ep: Ep;
  model: string;
  ms_per_step: number;
  ms_per_step_all: number[];
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
    // wall time varies run to run (llvmpipe's threads especially): the median of --repeat
    // (lo, hi) pairs; the calls are the same every time, counted on the last pair
    const perStepMs: number[] = [];
    let perStep: GpuCalls | undefined;
    for (let r = 0; r < Number(flags.repeat); r++) {
      const counter = countGpuCalls();
      const a = counter.snapshot();
      const tLo = await run(lo);
      const b = counter.snapshot();
      const tHi = await run(hi);
      const c = counter.snapshot();
      counter.stop();
      perStepMs.push((tHi - tLo) / (hi - lo));
      perStep = perUnit(perUnit(a, b, 1), perUnit(b, c, 1), hi - lo);
    }
    perStepMs.sort((x, y) => x - y);
    stepRows.push({
      ep,
      model: id,
      ms_per_step: perStepMs[Math.floor(perStepMs.length / 2)]!,
      ms_per_step_all: perStepMs,
      calls_per_step: perStep!,
    });
    await model.release();
  }
}
const f = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
console.log(
  "\n| EP | model | ms / step (median; each pair) | submits | writeBuffer | bytes written | bytes uploaded | dispatches | bind groups | buffers | maps | bytes read |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const r of stepRows) {
  const k = r.calls_per_step;
  console.log(
    `| ${r.ep} | ${r.model} | ${r.ms_per_step.toFixed(1)} (${
      r.ms_per_step_all.map((v) => v.toFixed(0)).join(", ")
    }) | ${f(k.submit)} | ${f(k.writeBuffer)} | ${f(k.bytesWritten)} | ${f(k.bytesUploaded)} | ${
      f(k.dispatch)
    } | ${f(k.createBindGroup)} | ${f(k.createBuffer)} | ${f(k.mapAsync)} | ${f(k.bytesRead)} |`,
  );
}

/** ORT's node placement for one graph: nodes per execution provider. */
async function placement(file: string, dims?: string): Promise<Record<string, number>> {
  const args = ["run", "-A", "bench/step_overhead.ts", "--placement", file];
  if (dims) args.push("--dims", dims);
  const out = await new Deno.Command(Deno.execPath(), { args, stdout: "null", stderr: "piped" })
    .output();
  const counts: Record<string, number> = {};
  for (
    const m of new TextDecoder().decode(out.stderr).matchAll(
      /placed on \[(\w+)\]\. Number of nodes: (\d+)/g,
    )
  ) {
    counts[m[1]!] = (counts[m[1]!] ?? 0) + Number(m[2]);
  }
  return counts;
}

interface PlacementRow {
  model: string;
  shapes: string;
  nodes: Record<string, number>;
}
const placementRows: PlacementRow[] = [];
interface CaptureRow {
  model: string;
  changed: string;
  max_abs_diff: number[];
}
const captureRows: CaptureRow[] = [];
if (eps.includes("webgpu") && adapter) {
  for (const id of models) {
    const model = await loadModel(id, "wasm");
    const file = model.components.find((c) => c.component === "transformer")!.file;
    const m = model.manifest;
    const { width, height } = parseSize(m.default_size);
    const full = imageTokens(m, width, height);
    const dims = `1,${full},${m.max_text_tokens}`;
    await model.release();
    placementRows.push({ model: id, shapes: "dynamic", nodes: await placement(file) });
    placementRows.push({
      model: id,
      shapes: `fixed B,n,L = ${dims}`,
      nodes: await placement(file, dims),
    });
    captureRows.push(
      ...await captureCheck(id, file, dims.split(",").map(Number) as [number, number, number]),
    );
  }
  console.log("\n| model | shapes | nodes on CPU | nodes on WebGPU |\n| --- | --- | --- | --- |");
  for (const r of placementRows) {
    console.log(
      `| ${r.model} | ${r.shapes} | ${r.nodes.CPUExecutionProvider ?? 0} | ${
        r.nodes.WebGpuExecutionProvider ?? 0
      } |`,
    );
  }
  console.log(
    "\n| model | input changed between runs | max abs diff, captured vs plain, runs 1..4 |\n| --- | --- | --- |",
  );
  for (const r of captureRows) {
    console.log(
      `| ${r.model} | ${r.changed} | ${r.max_abs_diff.map((d) => d.toPrecision(3)).join(" / ")} |`,
    );
  }
}

/**
 * A captured session and a plain one with the same fixed shape, fed the same GPU buffers; one
 * input gets new values before each run. Equal outputs mean the replay reads its inputs.
 */
async function captureCheck(id: string, file: string, [B, n, L]: [number, number, number]) {
  const graph = await loadGraph(file, "webgpu");
  const shape = { dims: { B, n, L } };
  const plain = await graph.open(shape);
  const captured = await graph.open({ ...shape, capture: true });
  await graph.session.release();
  const device = (await ortGpuDevice())!;
  const model = await loadModel(id, "wasm");
  const mm = model.manifest;
  await model.release();
  const sizes: Record<string, number[]> = {
    hidden_states: [B, n, 4 * mm.latent_channels],
    encoder_hidden_states: [B, L, mm.text_dim],
    pooled_projections: [B, mm.pooled_dim ?? mm.text_dim],
    timestep: [B],
    img_ids: [n, 3],
    txt_ids: [L, 3],
    ...(mm.guidance_embed ? { guidance: [B] } : {}),
  };
  const count = (d: number[]) => d.reduce((a, v) => a * v, 1);
  const buffers = Object.fromEntries(
    Object.entries(sizes).map((
      [k, d],
    ) => [k, device.createBuffer({ size: Math.max(16, count(d) * 4), usage: STORAGE, label: k })]),
  );
  const rnd = (k: number) => Float32Array.from({ length: k }, () => Math.random());
  const outSize = count(sizes.hidden_states!) * 4;
  const outs = [0, 1].map(() =>
    device.createBuffer({ size: outSize, usage: STORAGE, label: "out" })
  );
  const bind = (s: typeof plain, out: GPUBuffer) => ({
    feeds: Object.fromEntries(
      Object.entries(sizes).map(([k, d]) => [k, s.bind(k, { buffer: buffers[k]!, dims: d })]),
    ),
    outputs: {
      out_hidden_states: s.bind("out_hidden_states", { buffer: out, dims: sizes.hidden_states! }),
    },
  });
  const [bp, bc] = [bind(plain, outs[0]!), bind(captured, outs[1]!)];
  const read = async (b: GPUBuffer) => {
    const st = device.createBuffer({
      size: outSize,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(b, 0, st, 0, outSize);
    device.queue.submit([enc.finish()]);
    await st.mapAsync(GPUMapMode.READ);
    const r = new Float32Array(st.getMappedRange().slice(0));
    st.destroy();
    return r;
  };
  const rows: CaptureRow[] = [];
  for (const changed of ["hidden_states", "timestep"]) {
    for (const [k, d] of Object.entries(sizes)) {
      device.queue.writeBuffer(
        buffers[k]!,
        0,
        k === "txt_ids" ? new Float32Array(count(d)) : rnd(count(d)),
      );
    }
    const diffs: number[] = [];
    for (let run = 0; run < 4; run++) {
      if (run > 0) device.queue.writeBuffer(buffers[changed]!, 0, rnd(count(sizes[changed]!)));
      await plain.runBound(bp.feeds, bp.outputs);
      await captured.runBound(bc.feeds, bc.outputs);
      const [a, b] = [await read(outs[0]!), await read(outs[1]!)];
      diffs.push(a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0));
    }
    rows.push({ model: id, changed, max_abs_diff: diffs });
  }
  await plain.release();
  await captured.release();
  for (const b of [...Object.values(buffers), ...outs]) b.destroy();
  return rows;
}

interface ApiRow {
  ep: Ep;
  run: string;
  token_steps: number;
  wall_s: number[];
}
const apiRows: ApiRow[] = [];
const loopRows: { ep: Ep; max_ms: number; p50_ms: number; ticks: number }[] = [];
for (const ep of eps) {
  const want = flags.api === "on" ||
    (flags.api === "auto" && (ep === "wasm" || adapter?.isRealGpu));
  if (!want) continue;
  const state = await createState(
    serveFlagsSchema.parse({ model: "default", ep, "queue-size": 100 }),
  );
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
  // the longest a timer waited while base-50 ran: what a /health request waits at most
  const gaps: number[] = [];
  let last = performance.now(), ticking = true;
  const tick = () => {
    const now = performance.now();
    gaps.push(now - last);
    last = now;
    if (ticking) setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  await call({});
  ticking = false;
  gaps.sort((a, b) => a - b);
  loopRows.push({
    ep,
    max_ms: gaps.at(-1)!,
    p50_ms: gaps[Math.floor(gaps.length / 2)]!,
    ticks: gaps.length,
  });
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
      `| ${r.ep} | ${r.run} | ${r.token_steps} | ${
        r.wall_s.map((s) => s.toFixed(2)).join(" / ")
      } | ${(med(base.wall_s) / med(r.wall_s)).toFixed(2)}x |`,
    );
  }
}

if (loopRows.length) {
  console.log(
    "\n| EP | event loop during base-50: longest wait ms | median ms | timer ticks |\n| --- | --- | --- | --- |",
  );
  for (const r of loopRows) {
    console.log(`| ${r.ep} | ${r.max_ms.toFixed(1)} | ${r.p50_ms.toFixed(1)} | ${r.ticks} |`);
  }
}

const out = flags.out ??
  (Deno.env.get("OUT") ? join(Deno.env.get("OUT")!, "step_overhead.json") : undefined);
if (out) {
  await Deno.writeTextFile(
    out,
    JSON.stringify(
      {
        adapter: adapter?.description,
        steps: stepRows,
        placement: placementRows,
        capture: captureRows,
        api: apiRows,
        event_loop: loopRows,
      },
      null,
      1,
    ),
  );
}
