/**
 * `deno run -A bench/webgpu_ceiling.ts [--s 1536,4608] [--kn 3072x3072,3072x9216,...]
 * [--attention-s 1536,4608] [--heads 24] [--head-dim 128] [--tune] [--min-ms 200]
 * [--out FILE.json]`: how fast WebGPU itself runs a FLUX block's operators — our WGSL
 * kernels (src/kernels/gemm.ts, src/kernels/attention.ts) against ORT-web's kernels for the
 * same op, on the same GPUDevice (ORT's), and PyTorch on the same GPU when it has CUDA.
 *
 * For each GEMM `[S, K] x [K, N] + bias` and each attention (`B = 1`, heads x head dim over S
 * tokens): ms per op, TFLOP/s, share of the adapter's vector peak where known, and the largest
 * error on sampled outputs against an fp64 host computation of the same (fp16-rounded where
 * stored in fp16) inputs. Timing: n ops recorded back to back, one queue wait, that wait's own
 * cost (≥ 11 ms in Deno, measured on an empty queue) taken off, n chosen so the ops fill
 * `--min-ms`. ORT-web runs `bench/webgpu_ceiling/*.onnx` (tools/export/op_graphs.py) with
 * every dimension fixed per shape and GPU buffers bound in and out; its fp16 graphs need
 * `shader-f16`. `--tune` first sweeps our tile shapes on the first GEMM and attention shape
 * and keeps the fastest. PyTorch: bench/webgpu_ceiling_torch.py through `python3`.
 * Prints tables; writes JSON to --out (default $OUT/webgpu_ceiling.json when $OUT is set).
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { createSession, ortGpuDevice, type Session } from "../src/onnx/ort.ts";
import { GpuContext } from "../src/gpu/context.ts";
import { fromHalf, roundHalf, toHalf } from "../src/gpu/half.ts";
import { DEFAULT_TILE, Gemm, type GemmTile, tileProblem } from "../src/kernels/gemm.ts";
import { DoubleBlock, type StreamWeights } from "../src/kernels/double_block.ts";
import { loadGraph } from "../src/onnx/load_graph.ts";
import { ensureSparseData } from "./sparse_data.ts";
import {
  Attention,
  type AttentionTile,
  attentionTileProblem,
  DEFAULT_ATTENTION_TILE,
} from "../src/kernels/attention.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    s: { type: "string", default: "1536,4608" },
    kn: { type: "string", default: "3072x3072,3072x9216,3072x12288,12288x3072" },
    "attention-s": { type: "string", default: "1536,4608" },
    heads: { type: "string", default: "24" },
    "head-dim": { type: "string", default: "128" },
    block: { type: "string", default: "1024+512" },
    "block-width": { type: "string", default: "24x128" },
    tune: { type: "boolean", default: false },
    "min-ms": { type: "string", default: "200" },
    graphs: { type: "string", default: "bench/webgpu_ceiling" },
    out: { type: "string" },
  },
});
const list = (s: string) => s.split(",").filter(Boolean).map(Number);
const sizes = list(flags.s);
const kns = flags.kn.split(",").filter(Boolean).map((p) =>
  p.split("x").map(Number) as [number, number]
);
const attS = list(flags["attention-s"]);
const H = Number(flags.heads), D = Number(flags["head-dim"]), minMs = Number(flags["min-ms"]);

/** Vector (non-tensor-core) peaks, TFLOP/s, of adapters we have figures for (../shared/GPU.md). */
const PEAKS: Record<string, { fp32: number; fp16: number }> = {
  "NVIDIA H200": { fp32: 67, fp16: 134 },
};

// ORT's device first (it ignores one we make); our kernels share it, so buffers cross freely.
// This session stays open to the end: ORT drops its device when its last session closes.
const probe = await createSession(await graph("matmul_fp32"), "webgpu");
const device = (await ortGpuDevice())!;
const adapterInfo = device.adapterInfo;
const peak = PEAKS[adapterInfo.description];
const f16 = device.features.has("shader-f16");
const gpu = new GpuContext(device);
console.log(
  `adapter: ${adapterInfo.description} (vendor ${adapterInfo.vendor}); shader-f16 ${f16}; ` +
    `workgroup memory ${device.limits.maxComputeWorkgroupStorageSize} B`,
);

async function graph(name: string): Promise<Uint8Array> {
  return await Deno.readFile(join(flags.graphs, `${name}.onnx`));
}

/** Uniform pseudo-random values in [-1, 1) (xorshift32), quick enough for 10⁸ values. */
function noise(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

let waitCost = 0;
async function queueWait(): Promise<number> {
  const t = performance.now();
  await device.queue.onSubmittedWorkDone();
  return performance.now() - t;
}

/**
 * ms per op: `record(n)` queues n ops; one wait; the wait's own cost taken off. A validation
 * error on the first op (a binding past the device's limits) throws instead of timing nothing.
 */
async function timeOps(record: (n: number) => Promise<void> | void): Promise<number> {
  device.pushErrorScope("validation");
  await record(1); // compile, first-use allocations
  await queueWait();
  const invalid = await device.popErrorScope();
  if (invalid) throw new Error(invalid.message.slice(0, 160));
  let t = performance.now();
  await record(1);
  await queueWait();
  const once = Math.max(performance.now() - t - waitCost, 0.01);
  const n = Math.max(2, Math.min(500, Math.ceil(minMs / once)));
  t = performance.now();
  await record(n);
  await queueWait();
  return Math.max(performance.now() - t - waitCost, 0) / n;
}

/** {@link timeOps} for one of our dispatches: n of them recorded into one encoder. */
function timeEncoded(op: (enc: GPUCommandEncoder) => void): Promise<number> {
  return timeOps((n) => {
    const enc = device.createCommandEncoder();
    for (let i = 0; i < n; i++) op(enc);
    device.queue.submit([enc.finish()]);
  });
}

interface Row {
  op: "gemm" | "attention" | "double block";
  shape: number[];
  dtype: string;
  impl: string;
  ms?: number;
  tflops?: number;
  share?: number;
  maxErr?: number;
  error?: string;
  tile?: unknown;
  /** A block's kernels, each timed alone, and their sum (the block / sum ratio). */
  kernels?: { name: string; ms: number }[];
  kernelSumMs?: number;
  /** One block with a timestamp pair per dispatch (GPU time, ms), where the device has them. */
  profile?: { name: string; ms: number }[];
}
const rows: Row[] = [];

function finish(r: Row, flop: number, peakOf: "fp32" | "fp16"): Row {
  if (r.ms !== undefined) {
    r.tflops = flop / r.ms / 1e9;
    if (peak) r.share = r.tflops / peak[peakOf];
  }
  rows.push(r);
  const f = (v: number | undefined, d: number) => (v === undefined ? "—" : v.toFixed(d));
  console.log(
    `${r.op} ${r.shape.join("x")} ${r.dtype} ${r.impl}: ${
      r.error ? `failed (${r.error})` : `${f(r.ms, 3)} ms, ${r.tflops?.toPrecision(3)} TFLOP/s, ` +
        `${r.share === undefined ? "peak unknown" : `${(100 * r.share).toFixed(1)}% of peak`}, ` +
        `max error ${r.maxErr?.toExponential(2)}`
    }`,
  );
  return r;
}

/** Largest |got - ref| over sampled entries, each ref an fp64 sum. */
function sampledError(count: number, at: (i: number) => [number, number]): number {
  let m = 0;
  for (let i = 0; i < count; i++) {
    const [got, ref] = at(i);
    m = Math.max(m, Math.abs(got - ref));
  }
  return m;
}

async function readFloats(buf: GPUBuffer, n: number, half: boolean): Promise<Float32Array> {
  const raw = await gpu.read(buf, half ? Math.ceil(n / 2) * 4 : n * 4, Uint32Array);
  return half ? fromHalf(raw, n) : new Float32Array(raw.buffer);
}

// ---- GEMM ----

const GEMM_TILES: GemmTile[] = [
  DEFAULT_TILE,
  { wgX: 16, wgY: 16, tm: 8, tn: 8, tk: 8 },
  { wgX: 16, wgY: 16, tm: 8, tn: 4, tk: 16 },
  { wgX: 16, wgY: 16, tm: 4, tn: 8, tk: 16 },
  { wgX: 8, wgY: 8, tm: 8, tn: 8, tk: 16 },
  { wgX: 16, wgY: 8, tm: 8, tn: 8, tk: 8 },
  { wgX: 32, wgY: 8, tm: 4, tn: 4, tk: 16 },
  { wgX: 8, wgY: 32, tm: 4, tn: 4, tk: 16 },
  { wgX: 16, wgY: 16, tm: 4, tn: 4, tk: 32 },
  { wgX: 16, wgY: 16, tm: 2, tn: 4, tk: 16 },
].filter((t) => !tileProblem(t, device.limits));

interface GemmInputs {
  S: number;
  K: number;
  N: number;
  host: { x: Float32Array; w: Float32Array; b: Float32Array };
  buf: { x: GPUBuffer; w: GPUBuffer; b: GPUBuffer };
}

function gemmInputs(S: number, K: number, N: number, half: boolean): GemmInputs {
  const r = (x: Float32Array) => (half ? roundHalf(x) : x);
  const host = { x: r(noise(S * K, S + K)), w: r(noise(K * N, K + N)), b: r(noise(N, N)) };
  const put = (x: Float32Array, l: string) => gpu.upload(half ? toHalf(x) : x, l);
  return {
    S,
    K,
    N,
    host,
    buf: { x: put(host.x, "x"), w: put(host.w, "w"), b: gpu.upload(host.b, "b") },
  };
}

function gemmError(inp: GemmInputs, out: Float32Array): number {
  const { S, K, N, host } = inp;
  const pick = noise(128, 7);
  return sampledError(64, (i) => {
    const m = Math.floor(((pick[2 * i]! + 1) / 2) * S),
      n = Math.floor(((pick[2 * i + 1]! + 1) / 2) * N);
    let ref = host.b[n]!;
    for (let k = 0; k < K; k++) ref += host.x[m * K + k]! * host.w[k * N + n]!;
    return [out[m * N + n]!, ref];
  });
}

async function oursGemm(inp: GemmInputs, half: boolean, tile: GemmTile): Promise<Row> {
  const { S, K, N, buf } = inp;
  const g = await Gemm.create(gpu, { half, tile });
  const out = gpu.empty(g.bytes(S * N), "y");
  const call = { M: S, K, N, bias: buf.b };
  const r: Row = {
    op: "gemm",
    shape: [S, K, N],
    dtype: half ? "fp16" : "fp32",
    impl: "ours",
    tile,
  };
  try {
    r.ms = await timeEncoded((enc) => g.run(buf.x, buf.w, call, enc, out));
    r.maxErr = gemmError(inp, await readFloats(out, S * N, half));
  } catch (e) {
    r.error = String(e);
  }
  gpu.release(out);
  g.dispose();
  return r;
}

async function ortRun(
  name: string,
  half: boolean,
  dims: Record<string, number>,
  feeds: Record<
    string,
    { buffer: GPUBuffer; dims: number[] } | { data: Float32Array; dims: number[] }
  >,
  output: [string, number[], number],
): Promise<{ ms: number; out: Float32Array }> {
  const names = new Set(half ? [...Object.keys(feeds), output[0]] : []);
  let s: Session | undefined;
  const out = gpu.empty(half ? Math.ceil(output[2] / 2) * 4 : output[2] * 4, "ort out");
  try {
    s = await createSession(await graph(name), "webgpu", [], names, { dims });
    const bound = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, s!.bind(k, v)]));
    const outs = { [output[0]]: s.bind(output[0], { buffer: out, dims: output[1] }) };
    const ms = await timeOps(async (n) => {
      for (let i = 0; i < n; i++) await s!.runBound(bound, outs);
    });
    return { ms, out: await readFloats(out, output[2], half) };
  } finally {
    await s?.release();
    gpu.release(out);
  }
}

async function ortGemm(inp: GemmInputs, half: boolean): Promise<Row> {
  const { S, K, N, buf } = inp;
  const r: Row = {
    op: "gemm",
    shape: [S, K, N],
    dtype: half ? "fp16" : "fp32",
    impl: "ORT-web MatMul+Add",
  };
  if (half && !f16) return { ...r, error: "no shader-f16" };
  // ORT takes the bias in the graph's dtype
  const b = half ? gpu.upload(toHalf(inp.host.b), "b16") : buf.b;
  try {
    const { ms, out } = await ortRun(
      `matmul_${half ? "fp16" : "fp32"}`,
      half,
      { S, K, N },
      {
        X: { buffer: buf.x, dims: [S, K] },
        W: { buffer: buf.w, dims: [K, N] },
        B: { buffer: b, dims: [N] },
      },
      ["Y", [S, N], S * N],
    );
    r.ms = ms;
    r.maxErr = gemmError(inp, out);
  } catch (e) {
    r.error = String(e).slice(0, 160);
  }
  if (half) gpu.release(b);
  return r;
}

/** Times `measure` for each tile, records the sweep, returns the fastest (or `fallback`). */
async function sweep<T>(
  label: string,
  tiles: T[],
  fallback: T,
  measure: (tile: T) => Promise<Row>,
): Promise<T> {
  let best: Row | undefined;
  for (const tile of tiles) {
    const r = await measure(tile);
    console.log(`  tune ${label} ${JSON.stringify(tile)}: ${r.ms?.toFixed(3) ?? r.error} ms`);
    tuning.push({ label, shape: r.shape, tile, ms: r.ms, error: r.error });
    if (r.ms !== undefined && (!best || r.ms < best.ms!)) best = r;
  }
  return (best?.tile as T | undefined) ?? fallback;
}

async function bestGemmTile(S: number, K: number, N: number, half: boolean): Promise<GemmTile> {
  const inp = gemmInputs(S, K, N, half);
  const label = `gemm ${half ? "fp16" : "fp32"}`;
  const t = await sweep(label, GEMM_TILES, DEFAULT_TILE, (tile) => oursGemm(inp, half, tile));
  gpu.release(inp.buf.x, inp.buf.w, inp.buf.b);
  return t;
}

// ---- attention ----

const ATT_TILES: AttentionTile[] = [
  DEFAULT_ATTENTION_TILE,
  { bq: 32, tpr: 4, bk: 8 },
  { bq: 16, tpr: 8, bk: 8 },
  { bq: 32, tpr: 8, bk: 4 },
  { bq: 16, tpr: 4, bk: 16 },
  { bq: 64, tpr: 2, bk: 4 },
  { bq: 8, tpr: 4, bk: 16 },
].filter((t) => !attentionTileProblem(t, D, device.limits));

interface AttInputs {
  S: number;
  host: { q: Float32Array; k: Float32Array; v: Float32Array };
  buf: { q: GPUBuffer; k: GPUBuffer; v: GPUBuffer };
}

function attInputs(S: number, half: boolean): AttInputs {
  const n = S * H * D;
  const r = (x: Float32Array) => (half ? roundHalf(x) : x);
  const host = { q: r(noise(n, 1 + S)), k: r(noise(n, 2 + S)), v: r(noise(n, 3 + S)) };
  const put = (x: Float32Array, l: string) => gpu.upload(half ? toHalf(x) : x, l);
  return { S, host, buf: { q: put(host.q, "q"), k: put(host.k, "k"), v: put(host.v, "v") } };
}

/** [S, H, D] → [H, S, D] (the unfused graph's layout). */
function headMajor(x: Float32Array, S: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let s = 0; s < S; s++) {
    for (let h = 0; h < H; h++) {
      out.set(x.subarray((s * H + h) * D, (s * H + h + 1) * D), (h * S + s) * D);
    }
  }
  return out;
}

/** Sampled rows of softmax(q kᵀ / sqrt(D)) v in fp64; `at(s, h)` is a row's offset in `out`. */
function attentionError(
  inp: AttInputs,
  out: Float32Array,
  at: (s: number, h: number) => number,
): number {
  const { S, host } = inp;
  const idx = (s: number, h: number) => (s * H + h) * D;
  const pick = noise(32, 11);
  let m = 0;
  for (let t = 0; t < 16; t++) {
    const s = Math.floor(((pick[2 * t]! + 1) / 2) * S),
      h = Math.floor(((pick[2 * t + 1]! + 1) / 2) * H);
    const w = new Float64Array(S);
    let max = -Infinity;
    for (let j = 0; j < S; j++) {
      let d = 0;
      for (let c = 0; c < D; c++) d += host.q[idx(s, h) + c]! * host.k[idx(j, h) + c]!;
      w[j] = d / Math.sqrt(D);
      max = Math.max(max, w[j]!);
    }
    let sum = 0;
    for (let j = 0; j < S; j++) sum += w[j] = Math.exp(w[j]! - max);
    m = Math.max(
      m,
      sampledError(D, (c) => {
        let o = 0;
        for (let j = 0; j < S; j++) o += w[j]! * host.v[idx(j, h) + c]!;
        return [out[at(s, h) + c]!, o / sum];
      }),
    );
  }
  return m;
}

async function oursAttention(inp: AttInputs, half: boolean, tile: AttentionTile): Promise<Row> {
  const { S, buf } = inp;
  const att = await Attention.create(gpu, { half, headDim: D, tile });
  const out = gpu.empty(att.bytes(1, S, H), "o");
  const r: Row = {
    op: "attention",
    shape: [S, H, D],
    dtype: half ? "fp16" : "fp32",
    impl: "ours",
    tile,
  };
  try {
    r.ms = await timeEncoded((enc) => att.run(buf.q, buf.k, buf.v, { B: 1, S, H }, enc, out));
    r.maxErr = attentionError(
      inp,
      await readFloats(out, S * H * D, half),
      (s, h) => (s * H + h) * D,
    );
  } catch (e) {
    r.error = String(e);
  }
  gpu.release(out);
  return r;
}

async function ortAttention(inp: AttInputs, half: boolean, fused: boolean): Promise<Row> {
  const { S, host } = inp;
  const impl = fused ? "ORT-web MultiHeadAttention" : "ORT-web MatMul-Softmax-MatMul";
  const r: Row = { op: "attention", shape: [S, H, D], dtype: half ? "fp16" : "fp32", impl };
  if (half && !f16) return { ...r, error: "no shader-f16" };
  const put = (x: Float32Array, l: string) => gpu.upload(half ? toHalf(x) : x, l);
  // the unfused graph takes [B, H, S, D]: given that layout, so no transpose is timed
  const [q, k, v] = fused ? [inp.buf.q, inp.buf.k, inp.buf.v] : [
    put(headMajor(host.q, S), "qh"),
    put(headMajor(host.k, S), "kh"),
    put(headMajor(host.v, S), "vh"),
  ];
  const n = S * H * D;
  try {
    const { ms, out } = fused
      ? await ortRun(
        `mha_h${H}_${half ? "fp16" : "fp32"}`,
        half,
        { B: 1, S, HD: H * D },
        {
          q: { buffer: q, dims: [1, S, H * D] },
          k: { buffer: k, dims: [1, S, H * D] },
          v: { buffer: v, dims: [1, S, H * D] },
        },
        ["o", [1, S, H * D], n],
      )
      : await ortRun(
        `attention_${half ? "fp16" : "fp32"}`,
        half,
        { B: 1, H, S, D },
        {
          Q: { buffer: q, dims: [1, H, S, D] },
          K: { buffer: k, dims: [1, H, S, D] },
          V: { buffer: v, dims: [1, H, S, D] },
          scale: { data: Float32Array.of(1 / Math.sqrt(D)), dims: [] },
        },
        ["O", [1, H, S, D], n],
      );
    r.ms = ms;
    r.maxErr = attentionError(
      inp,
      out,
      fused ? (s, h) => (s * H + h) * D : (s, h) => (h * S + s) * D,
    );
  } catch (e) {
    r.error = String(e).slice(0, 160);
  }
  if (!fused) gpu.release(q, k, v);
  return r;
}

async function bestAttentionTile(S: number, half: boolean): Promise<AttentionTile> {
  const inp = attInputs(S, half);
  const label = `attention ${half ? "fp16" : "fp32"}`;
  const t = await sweep(
    label,
    ATT_TILES,
    DEFAULT_ATTENTION_TILE,
    (tile) => oursAttention(inp, half, tile),
  );
  gpu.release(inp.buf.q, inp.buf.k, inp.buf.v);
  return t;
}

// ---- run ----

const tuning: Record<string, unknown>[] = [];
waitCost = Math.min(await queueWait(), await queueWait(), await queueWait());
console.log(`queue wait on an empty queue: ${waitCost.toFixed(1)} ms (taken off each timing)`);

const gemmTile = { fp32: DEFAULT_TILE, fp16: DEFAULT_TILE };
const attTile = { fp32: DEFAULT_ATTENTION_TILE, fp16: DEFAULT_ATTENTION_TILE };
if (flags.tune) {
  const [K, N] = kns[kns.length > 2 ? 2 : 0]!;
  for (const half of [false, true]) {
    const key = half ? "fp16" : "fp32";
    gemmTile[key] = await bestGemmTile(sizes[sizes.length - 1]!, K, N, half);
    if (attS.length) attTile[key] = await bestAttentionTile(attS[0]!, half);
  }
  console.log(`tiles: gemm ${JSON.stringify(gemmTile)}, attention ${JSON.stringify(attTile)}`);
}

for (const S of sizes) {
  for (const [K, N] of kns) {
    const flop = 2 * S * K * N;
    for (const half of [false, true]) {
      const inp = gemmInputs(S, K, N, half);
      const p = half ? "fp16" : "fp32";
      // our fp16 kernel stores fp16 and computes in fp32: its peak is the fp32 one
      finish(await oursGemm(inp, half, gemmTile[p]), flop, "fp32");
      finish(await ortGemm(inp, half), flop, p);
      gpu.release(inp.buf.x, inp.buf.w, inp.buf.b);
    }
  }
}
for (const S of attS) {
  const flop = 4 * S * S * H * D;
  for (const half of [false, true]) {
    const inp = attInputs(S, half);
    const p = half ? "fp16" : "fp32";
    finish(await oursAttention(inp, half, attTile[p]), flop, "fp32");
    finish(await ortAttention(inp, half, false), flop, p);
    finish(await ortAttention(inp, half, true), flop, p);
    gpu.release(inp.buf.q, inp.buf.k, inp.buf.v);
  }
}

// ---- a whole FLUX double block ----

const blockShapes = flags.block.split(",").filter(Boolean).map((p) => {
  const [img, txt] = p.split("+").map(Number);
  return { Si: img!, St: txt! };
});
const [BH, BD] = flags["block-width"].split("x").map(Number) as [number, number];
const BDIM = BH * BD;

/** One block's weights on the device: one noise pattern cut per matrix (timing only). */
function blockWeights(half: boolean): { img: StreamWeights; txt: StreamWeights; all: GPUBuffer[] } {
  const pattern = noise(4 * BDIM * BDIM, 3).map((v) => v / Math.sqrt(BDIM));
  const stored = half ? toHalf(pattern) : pattern;
  const all: GPUBuffer[] = [];
  const keep = (b: GPUBuffer) => (all.push(b), b);
  const mat = (k: number, n: number) =>
    keep(gpu.upload(stored.subarray(0, half ? (k * n) / 2 : k * n), "w"));
  const vec = (n: number) => keep(gpu.upload(pattern.subarray(0, n), "v"));
  const stream = (): StreamWeights => ({
    mod: mat(BDIM, 6 * BDIM),
    modBias: vec(6 * BDIM),
    qkv: mat(BDIM, 3 * BDIM),
    qkvBias: vec(3 * BDIM),
    normQ: vec(BD),
    normK: vec(BD),
    out: mat(BDIM, BDIM),
    outBias: vec(BDIM),
    ff1: mat(BDIM, 4 * BDIM),
    ff1Bias: vec(4 * BDIM),
    ff2: mat(4 * BDIM, BDIM),
    ff2Bias: vec(BDIM),
  });
  return { img: stream(), txt: stream(), all };
}

/** A block's FLOPs: 12 dim² per token in its products (qkv 3, out 1, MLP 8) + the modulations
 * + attention's 4 S² D per head. */
function blockFlop(Si: number, St: number): number {
  const S = Si + St;
  return 2 * S * 12 * BDIM * BDIM + 2 * 2 * 6 * BDIM * BDIM + 4 * S * S * BDIM;
}

async function oursBlock(Si: number, St: number, half: boolean): Promise<Row> {
  const r: Row = {
    op: "double block",
    shape: [Si, St, BH, BD],
    dtype: half ? "fp16" : "fp32",
    impl: "ours",
  };
  const w = blockWeights(half);
  const S = Si + St;
  const act = (n: number, seed: number) => {
    const x = noise(n, seed);
    return gpu.upload(half ? toHalf(x) : x, "x");
  };
  const ang = noise(S * BD, 9);
  const inputs = {
    img: act(Si * BDIM, 5),
    txt: act(St * BDIM, 6),
    siluTemb: act(BDIM, 7),
    cos: gpu.upload(ang.map(Math.cos), "cos"),
    sin: gpu.upload(ang.map(Math.sin), "sin"),
  };
  try {
    const block = await DoubleBlock.create(gpu, { half, dim: BDIM, heads: BH });
    const p = block.plan(w, inputs, { Si, St });
    r.ms = await timeEncoded((enc) => p.steps.forEach((s) => s.record(enc)));
    r.kernels = [];
    for (const s of p.steps) r.kernels.push({ name: s.name, ms: await timeEncoded(s.record) });
    r.kernelSumMs = r.kernels.reduce((a, k) => a + k.ms, 0);
    for (const k of r.kernels) console.log(`  ${k.ms.toFixed(3).padStart(10)} ms  ${k.name}`);
    console.log(
      `  block ${r.ms.toFixed(3)} ms / sum of its kernels ${r.kernelSumMs.toFixed(3)} ms`,
    );
    if (gpu.startProfile(p.steps.length)) {
      const enc = device.createCommandEncoder();
      p.steps.forEach((s) => s.record(enc));
      device.queue.submit([enc.finish()]);
      const dispatches = p.steps.filter((s) => !s.name.includes("(copy)"));
      r.profile = (await gpu.endProfile()).map((t, i) => ({ name: dispatches[i]!.name, ms: t.ms }));
      const total = r.profile.reduce((a, t) => a + t.ms, 0);
      console.log(
        `  timestamp queries, one block: ${total.toFixed(3)} ms of GPU time in its passes`,
      );
      for (const t of r.profile) console.log(`  ${t.ms.toFixed(3).padStart(10)} ms  ${t.name}`);
    }
    gpu.release(p.img, p.txt, ...p.scratch);
    block.dispose();
  } catch (e) {
    r.error = String(e).slice(0, 160);
  }
  gpu.release(...w.all, ...Object.values(inputs));
  return r;
}

/**
 * ORT-web's own MatMuls (+ bias) and unfused attention at one double block's shapes, each timed
 * alone: the image and text streams' qkv, output, feed-forward up and down products, the two
 * modulation products (one row each), and attention over the joint sequence. Their sum against
 * ORT's block graph says what its norms, RoPE, copies and dispatch gaps add.
 */
async function ortBlockKernels(Si: number, St: number, half: boolean) {
  const shapes: [string, number, number, number][] = [];
  for (const [tag, S] of [["image", Si], ["text", St]] as const) {
    shapes.push(
      [`${tag} qkv`, S, BDIM, 3 * BDIM],
      [`${tag} attention out`, S, BDIM, BDIM],
      [`${tag} ff up`, S, BDIM, 4 * BDIM],
      [`${tag} ff down`, S, 4 * BDIM, BDIM],
      [`${tag} modulation`, 1, BDIM, 6 * BDIM],
    );
  }
  const kernels: { name: string; ms: number }[] = [];
  const errors: string[] = [];
  const keep = (name: string, row: Row) => {
    if (row.ms !== undefined) kernels.push({ name, ms: row.ms });
    else errors.push(`${name}: ${row.error}`);
  };
  for (const [name, S, K, N] of shapes) {
    const inp = gemmInputs(S, K, N, half);
    keep(`${name} [${S}x${K}]·[${K}x${N}]`, await ortGemm(inp, half));
    gpu.release(inp.buf.x, inp.buf.w, inp.buf.b);
  }
  const att = attInputs(Si + St, half);
  keep(`attention ${Si + St} tokens`, await ortAttention(att, half, false));
  gpu.release(att.buf.q, att.buf.k, att.buf.v);
  return { kernels, errors };
}

/** ORT-web's graph of the same block (tools/export/op_graphs.py --block), every dim fixed. */
async function ortBlock(Si: number, St: number, half: boolean): Promise<Row> {
  const dtype = half ? "fp16" : "fp32";
  const r: Row = {
    op: "double block",
    shape: [Si, St, BH, BD],
    dtype,
    impl: "ORT-web graph (fused export)",
  };
  if (half && !f16) return { ...r, error: "no shader-f16" };
  const file = join(flags.graphs, `double_block_${dtype}`, "model.onnx");
  const S = Si + St;
  const act = (n: number, seed: number) => {
    const x = noise(n, seed);
    return gpu.upload(half ? toHalf(x) : x, "x");
  };
  const bufs = {
    hidden_states: [act(Si * BDIM, 5), [1, Si, BDIM]],
    encoder_hidden_states: [act(St * BDIM, 6), [1, St, BDIM]],
    temb: [act(BDIM, 7), [1, BDIM]],
    cos: [act(S * BD, 8), [S, BD]],
    sin: [act(S * BD, 9), [S, BD]],
  } as Record<string, [GPUBuffer, number[]]>;
  const outs = {
    out_hidden_states: [gpu.empty(Si * BDIM * (half ? 2 : 4), "o"), [1, Si, BDIM]],
    out_encoder_hidden_states: [gpu.empty(St * BDIM * (half ? 2 : 4), "oc"), [1, St, BDIM]],
  } as Record<string, [GPUBuffer, number[]]>;
  let s: Session | undefined;
  try {
    await ensureSparseData(file);
    const g = await loadGraph(file, "webgpu", { shaderF16: f16 });
    s = await g.open({ dims: { n: Si, L: St, S } });
    await g.session.release();
    const bind = (m: Record<string, [GPUBuffer, number[]]>) =>
      Object.fromEntries(
        Object.entries(m).map(([k, [buffer, dims]]) => [k, s!.bind(k, { buffer, dims })]),
      );
    const feeds = bind(bufs), outputs = bind(outs);
    r.ms = await timeOps(async (n) => {
      for (let i = 0; i < n; i++) await s!.runBound(feeds, outputs);
    });
  } catch (e) {
    r.error = String(e).slice(0, 160);
  }
  await s?.release();
  gpu.release(...Object.values(bufs).map((b) => b[0]), ...Object.values(outs).map((b) => b[0]));
  if (r.ms !== undefined) {
    const { kernels, errors } = await ortBlockKernels(Si, St, half);
    r.kernels = kernels;
    for (const k of kernels) console.log(`  ${k.ms.toFixed(3).padStart(10)} ms  ORT ${k.name}`);
    if (errors.length) r.error = `kernels not timed: ${errors.join("; ").slice(0, 300)}`;
    else {
      r.kernelSumMs = kernels.reduce((a, k) => a + k.ms, 0);
      console.log(
        `  ORT block ${r.ms.toFixed(3)} ms / sum of its MatMuls and attention ${
          r.kernelSumMs.toFixed(3)
        } ms`,
      );
    }
  }
  return r;
}

for (const { Si, St } of blockShapes) {
  for (const half of [false, true]) {
    const flop = blockFlop(Si, St);
    finish(await oursBlock(Si, St, half), flop, "fp32");
    finish(await ortBlock(Si, St, half), flop, half ? "fp16" : "fp32");
  }
}

/** PyTorch on the same GPU, when python3 has torch with CUDA. */
async function torchRows(): Promise<unknown> {
  const spec = {
    gemm: sizes.flatMap((S) => kns.map(([K, N]) => [S, K, N])),
    attention: attS.map((S) => [S, H, D]),
    block: blockShapes.map(({ Si, St }) => [Si, St, BH, BD]),
  };
  try {
    const r = await new Deno.Command("python3", {
      args: [join(import.meta.dirname!, "webgpu_ceiling_torch.py"), JSON.stringify(spec)],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(r.stdout).trim();
    return text
      ? JSON.parse(text.split("\n").at(-1)!)
      : { error: new TextDecoder().decode(r.stderr).slice(-300) };
  } catch (e) {
    return { error: String(e) };
  }
}
const torch = await torchRows();
console.log(`pytorch: ${JSON.stringify(torch)}`);

const result = {
  adapter: { description: adapterInfo.description, vendor: adapterInfo.vendor, shaderF16: f16 },
  peak: peak ?? null,
  queueWaitMs: waitCost,
  tiles: { gemm: gemmTile, attention: attTile },
  rows,
  tuning,
  torch,
};
const out = flags.out ??
  (Deno.env.get("OUT") ? join(Deno.env.get("OUT")!, "webgpu_ceiling.json") : undefined);
if (out) await Deno.writeTextFile(out, JSON.stringify(result, null, 1));
// released last: ORT drops its device with its last session, and every buffer above with it
await probe.release();
