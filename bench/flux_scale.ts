/**
 * `deno run -A bench/flux_scale.ts [--graphs DIR] [--size 1024] [--text 512] [--repeat 3]
 * [--out FILE.json]`: FLUX-width transformer timing on the WebGPU EP, for the lent GPU.
 *
 * DIR holds `d1s1`, `d2s1`, `d1s2` (double/single blocks) from
 * `tools/export/flux_scale_graphs.py` (graphs only; their data files are made here, sparse,
 * since the weights' values do not change the time). For each graph and each token count a
 * RALU run visits at `--size` (stage 1, the mixed stages of 7x and 4x, full) it times one
 * DiT evaluation with `--text` text tokens; block differences give seconds per double and per
 * single block per step, and the run times of FLUX.1 (19 double + 38 single blocks) for base
 * 50 steps and ralu 7x / 4x follow from them. Peak GPU memory comes from `nvidia-smi` when
 * the machine has it. When `python3` has torch with CUDA, the same double and single blocks run
 * in PyTorch fp32 (TF32 off) and bf16 (bench/flux_blocks_torch.py) for the ratio. `--graphs
 * bench/flux_scale_fused` times the exporter's fused form (tools/export/fuse_graph.py) of the same
 * graphs; `--graphs bench/flux_scale_split` the fused step graphs (conditioning and RoPE outside
 * the step, as export_flux.py writes them). Prints tables; writes JSON to --out (default
 * $OUT/flux_scale.json).
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { ensureSparseData } from "./sparse_data.ts";
import { loadGraph } from "../src/onnx/load_graph.ts";
import { raluStageTokens } from "../src/samplers/ralu_params.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    graphs: { type: "string", default: "bench/flux_scale" },
    size: { type: "string", default: "1024" },
    text: { type: "string", default: "512" },
    repeat: { type: "string", default: "3" },
    out: { type: "string" },
    ep: { type: "string", default: "webgpu" },
  },
});
const size = Number(flags.size), L = Number(flags.text), repeat = Number(flags.repeat);
const ep = flags.ep as "webgpu" | "wasm";
const full = (size / 16) ** 2;
const [low, mixed7] = raluStageTokens(full, 0.2);
const mixed4 = raluStageTokens(full, 0.3)[1]!;
const counts = [...new Set([low!, mixed7!, mixed4, full])].sort((a, b) => a - b);

const adapter = await navigator.gpu?.requestAdapter({ powerPreference: "high-performance" });
const limits: Record<string, number> = {};
for (const k in adapter?.limits ?? {}) {
  limits[k] = (adapter!.limits as unknown as Record<string, number>)[k]!;
}
const device = {
  vendor: adapter?.info.vendor,
  architecture: adapter?.info.architecture,
  description: adapter?.info.description,
  features: [...(adapter?.features ?? [])].sort(),
  limits,
};
console.log(`adapter: ${JSON.stringify(device)}`);

/** Peak memory.used (MiB) seen by nvidia-smi while `fn` runs; undefined without nvidia-smi. */
async function withGpuMemory<T>(fn: () => Promise<T>): Promise<[T, number | undefined]> {
  let proc: Deno.ChildProcess | undefined;
  try {
    proc = new Deno.Command("nvidia-smi", {
      args: ["--query-gpu=memory.used", "--format=csv,noheader,nounits", "-lms", "100"],
      stdout: "piped",
      stderr: "null",
    }).spawn();
  } catch {
    proc = undefined;
  }
  let peak: number | undefined;
  const reading = proc && (async () => {
    for await (const chunk of proc!.stdout.pipeThrough(new TextDecoderStream())) {
      for (const line of chunk.split("\n")) {
        const v = Number(line.trim());
        if (line.trim() && Number.isFinite(v)) peak = Math.max(peak ?? 0, v);
      }
    }
  })();
  try {
    return [await fn(), peak];
  } finally {
    proc?.kill();
    await reading?.catch(() => undefined);
  }
}

const rand = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);
interface Timing {
  graph: string;
  double: number;
  single: number;
  /** Hidden width (heads x head dim). */
  width: number;
  load_s: number;
  ms: Record<number, number>;
  peak_gpu_mib?: number | undefined;
}
const timings: Timing[] = [];
const out = flags.out ??
  (Deno.env.get("OUT") ? join(Deno.env.get("OUT")!, "flux_scale.json") : undefined);
/**
 * What is timed so far, written after every point: a bounded run (bench/gpu_session.sh) that is
 * cut off keeps its measurements; the full report replaces it at the end.
 */
async function savePartial(graph: string, ms: Record<number, number>): Promise<void> {
  if (!out) return;
  const report = {
    partial: true,
    device,
    ep,
    size,
    text_tokens: L,
    timings,
    timing: { graph, ms },
  };
  await Deno.writeTextFile(out, JSON.stringify(report, null, 2));
}
for (const name of ["d1s1", "d2s1", "d1s2"]) {
  const dir = join(flags.graphs!, name, "transformer");
  const file = join(dir, "model.onnx");
  const cfg = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
  await ensureSparseData(file);
  const [t, peak] = await withGpuMemory(async () => {
    const t0 = performance.now();
    const { session } = await loadGraph(file, ep, {
      shaderF16: device.features.includes("shader-f16"),
    });
    const load_s = (performance.now() - t0) / 1000;
    const ms: Record<number, number> = {};
    const D = cfg.joint_attention_dim, P = cfg.pooled_projection_dim;
    const hd = cfg.attention_head_dim, W = cfg.num_attention_heads * hd;
    for (const n of counts) {
      // a whole-step graph's inputs, or a step graph's (the run's context and vec, RoPE tables)
      const all: Record<string, { data: Float32Array; dims: number[] }> = {
        hidden_states: { data: rand(n * 64), dims: [1, n, 64] },
        encoder_hidden_states: { data: rand(L * D), dims: [1, L, D] },
        pooled_projections: { data: rand(P), dims: [1, P] },
        timestep: { data: new Float32Array([0.5]), dims: [1] },
        img_ids: { data: rand(n * 3), dims: [n, 3] },
        txt_ids: { data: new Float32Array(L * 3), dims: [L, 3] },
        guidance: { data: new Float32Array([3.5]), dims: [1] },
        context: { data: rand(L * W), dims: [1, L, W] },
        vec: { data: rand(W), dims: [1, W] },
        rope_cos: { data: rand((L + n) * hd), dims: [L + n, hd] },
        rope_sin: { data: rand((L + n) * hd), dims: [L + n, hd] },
      };
      const feeds = Object.fromEntries(session.inputNames.map((k) => [k, all[k]!]));
      await session.run(feeds); // warm-up: shader compilation, allocation
      const runs: number[] = [];
      for (let i = 0; i < repeat; i++) {
        const s = performance.now();
        await session.run(feeds); // includes the download of the output
        runs.push(performance.now() - s);
      }
      ms[n] = runs.sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
      console.log(`${name}: ${n} image + ${L} text tokens: ${ms[n]!.toFixed(1)} ms`);
      await savePartial(name, ms);
    }
    await session.release();
    return { load_s, ms };
  });
  timings.push({
    graph: name,
    double: cfg.num_layers,
    single: cfg.num_single_layers,
    width: cfg.num_attention_heads * cfg.attention_head_dim,
    ...t,
    peak_gpu_mib: peak,
  });
}

const [a, b, c] = timings as [Timing, Timing, Timing];
/**
 * Multiply-adds x 2 of one block at n image + L text tokens (hidden d): a double block's two
 * streams each run q|k|v, output, and 4d feed-forward products (24 S d²), a single block's
 * joint q|k|v + 4d MLP in and 5d → d out (24 S d²); both attend over all S = n + L tokens
 * (4 S² d); the one-row modulation products are left out.
 */
const dim = a.width;
const blockFlop = (n: number) => 24 * (n + L) * dim * dim + 4 * (n + L) ** 2 * dim;
const perBlock = counts.map((n) => {
  const d = b.ms[n]! - a.ms[n]!, s = c.ms[n]! - a.ms[n]!;
  const rest = a.ms[n]! - d - s;
  return {
    tokens: n,
    double_ms: d,
    single_ms: s,
    rest_ms: rest,
    double_tflops: blockFlop(n) / d / 1e9,
    single_tflops: blockFlop(n) / s / 1e9,
    ms_per_1k_tokens: (1000 * d) / (n + L),
    flux_step_ms: rest + 19 * d + 38 * s,
  };
});
const step = (n: number) => perBlock.find((p) => p.tokens === n)!.flux_step_ms;
const base50 = 50 * step(full);
const ralu7 = 2 * step(low!) + 3 * step(mixed7!) + 5 * step(full);
const ralu4 = 5 * step(low!) + 6 * step(mixed4) + 7 * step(full);
// the strongest alternative at equal cost: base with as many full-resolution steps as RALU's
// token-steps buy (the frontier in this doc has base-k beating RALU there on our own model)
const equalK = (tokenSteps: number) => Math.round(tokenSteps / full);
const k7 = equalK(2 * low! + 3 * mixed7! + 5 * full), k4 = equalK(5 * low! + 6 * mixed4 + 7 * full);
const report = {
  device,
  ep,
  size,
  text_tokens: L,
  tokens: { full, low, mixed7, mixed4 },
  timings,
  per_block: perBlock,
  flux_dev_scaled: {
    blocks: "19 double + 38 single",
    base50_s: base50 / 1000,
    ralu7x_s: ralu7 / 1000,
    ralu4x_s: ralu4 / 1000,
    speedup_7x: base50 / ralu7,
    speedup_4x: base50 / ralu4,
    equal_cost: {
      [`base${k7}_s`]: (k7 * step(full)) / 1000,
      [`base${k4}_s`]: (k4 * step(full)) / 1000,
      ralu7x_over_base_equal: ralu7 / (k7 * step(full)),
      ralu4x_over_base_equal: ralu4 / (k4 * step(full)),
    },
    note: "DiT evaluations only (no text encoders, VAE, or RALU's edge decode)",
  },
};
console.log(
  "\n| tokens | double block ms (TFLOP/s) | single block ms (TFLOP/s) | double ms per 1k tokens | rest ms | FLUX.1 step ms |",
);
console.log("|---|---|---|---|---|---|");
for (const p of perBlock) {
  console.log(
    `| ${p.tokens} + ${L} | ${p.double_ms.toFixed(1)} (${p.double_tflops.toFixed(2)}) | ${
      p.single_ms.toFixed(1)
    } (${p.single_tflops.toFixed(2)}) | ${p.ms_per_1k_tokens.toFixed(1)} | ${
      p.rest_ms.toFixed(1)
    } | ${p.flux_step_ms.toFixed(0)} |`,
  );
}
console.log(
  `\nFLUX.1 scaled: base-50 ${(base50 / 1000).toFixed(1)} s, ralu-7x ${
    (ralu7 / 1000).toFixed(1)
  } s (${(base50 / ralu7).toFixed(2)}x), ralu-4x ${(ralu4 / 1000).toFixed(1)} s (${
    (base50 / ralu4).toFixed(2)
  }x); at equal token-steps base-${k7} ${(k7 * step(full) / 1000).toFixed(1)} s, base-${k4} ${
    (k4 * step(full) / 1000).toFixed(1)
  } s; peak GPU ${timings.map((t) => t.peak_gpu_mib ?? "n/a").join(" / ")} MiB`,
);
/** The same blocks in PyTorch on the same GPU (bench/flux_blocks_torch.py), when it has CUDA. */
async function torchBlocks(): Promise<unknown> {
  const spec = JSON.stringify({ tokens: counts, text: L });
  try {
    const r = await new Deno.Command("python3", {
      args: [join(import.meta.dirname!, "flux_blocks_torch.py"), spec],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(r.stdout).trim();
    return text ? JSON.parse(text.split("\n").at(-1)!) : {
      error: new TextDecoder().decode(r.stderr).slice(-300),
    };
  } catch (e) {
    return { error: String(e) };
  }
}
const torch = await torchBlocks() as {
  rows?: { block: string; tokens: number; dtype: string; ms: number }[];
};
Object.assign(report, { pytorch: torch });
if (torch.rows) {
  console.log(
    "\n| tokens | PyTorch double fp32 / bf16 ms | single fp32 / bf16 ms | ORT-web double / PyTorch fp32 |",
  );
  console.log("|---|---|---|---|");
  for (const p of perBlock) {
    const t = (block: string, dtype: string) =>
      torch.rows!.find((r) => r.block === block && r.tokens === p.tokens && r.dtype === dtype)?.ms;
    const f = (v?: number) => (v === undefined ? "—" : v.toFixed(2));
    const d32 = t("double", "fp32");
    console.log(
      `| ${p.tokens} + ${L} | ${f(d32)} / ${f(t("double", "bf16"))} | ${f(t("single", "fp32"))} / ${
        f(t("single", "bf16"))
      } | ${d32 ? (p.double_ms / d32).toFixed(1) + "x" : "—"} |`,
    );
  }
} else console.log(`\nPyTorch: ${JSON.stringify(torch)}`);
if (out) await Deno.writeTextFile(out, JSON.stringify(report, null, 2));
