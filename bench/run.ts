/**
 * `deno task bench [--quick | --device] [--ablations]`: speed and quality of every
 * sampling method on held-out captions, measured in one run, written to
 * docs/benchmarks.md with plots. A benchmark, not a test: nothing here asserts.
 */
import { parseArgs } from "node:util";
import { decode } from "fast-png";
import type { Acceleration } from "../src/config/image_request.ts";
import { chooseEp, probeAdapter } from "../src/onnx/ort.ts";
import { loadModel } from "../src/pipeline/model.ts";
import { generateImage } from "../src/pipeline/generate.ts";
import { GpuOps } from "../src/kernels/gpu_ops.ts";
import { caption, heldOutScenes } from "./scenes.ts";
import { evaluateImage, meanScore, sameComposition, type Score } from "./evaluator.ts";
import { edgeCount, mean, median, psnr, ssim } from "./metrics.ts";
import { gridPng, scatterPng } from "./plots.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean" },
    device: { type: "boolean" },
    ablations: { type: "boolean" },
    model: { type: "string", default: "default" },
    ep: { type: "string", default: "auto" },
    kernels: { type: "string", default: "auto" },
    captions: { type: "string" },
    seeds: { type: "string" },
    out: { type: "string", default: "docs" },
    "edge-margin": { type: "string", default: "0.2" },
  },
});

interface Method {
  name: string;
  family: string;
  steps?: number;
  acceleration?: Acceleration;
}

/** A method row: `family` groups it in the plots; ablations are left out of the grid. */
function method(name: string, family: string, acceleration?: Acceleration, steps?: number): Method {
  return {
    name,
    family,
    ...(acceleration ? { acceleration } : {}),
    ...(steps ? { steps } : {}),
  };
}
/** A low-resolution sampler as published (fresh noise), whatever the model's preset says. */
const published = (
  method: "ralu" | "naive",
  preset: string,
  extra: Partial<Acceleration> = {},
): Acceleration => ({ method, preset, noise: "fresh", ...extra });
const ralu = (preset: string, extra: Partial<Acceleration> = {}) =>
  published("ralu", preset, extra);

const METHODS: Method[] = [
  method("base-50", "base"),
  method("base-18", "base", undefined, 18),
  method("base-10", "base", undefined, 10),
  method("naive-4x", "naive", published("naive", "4x")),
  method("naive-7x", "naive", published("naive", "7x")),
  method("bottleneck-4x", "bottleneck", { method: "bottleneck", preset: "4x" }),
  method("bottleneck-7x", "bottleneck", { method: "bottleneck", preset: "7x" }),
  method("ralu-4x", "ralu", ralu("4x")),
  method("ralu-7x", "ralu", ralu("7x")),
  method("ralu-4x anchored", "ralu", ralu("4x", { noise: "anchored" })),
  method("ralu-7x anchored", "ralu", ralu("7x", { noise: "anchored" })),
];
const ABLATIONS: Method[] = [
  method("ralu-4x r=0.1", "ablation", ralu("4x", { r: 0.1 })),
  method("ralu-4x r=0.2", "ablation", ralu("4x", { r: 0.2 })),
  method("ralu-4x no NT-matching", "ablation", ralu("4x", { nt_matching: false })),
  method("ralu-4x gray=clip", "ablation", ralu("4x", { gray: "clip" })),
  method("naive-4x anchored", "ablation", published("naive", "4x", { noise: "anchored" })),
  method("ralu-4x exact noise", "ablation", ralu("4x", { exact_noise: true })),
];

const nCaptions = Number(flags.captions ?? (flags.quick ? 4 : flags.device ? 16 : 32));
const nSeeds = Number(flags.seeds ?? (flags.quick ? 1 : 2));
const methods = [...METHODS, ...(flags.ablations ? ABLATIONS : [])];
const edgeMargin = Number(flags["edge-margin"]);

// 1. Model, EP, kernels
const ep = await chooseEp(flags.ep as "auto" | "wasm" | "webgpu");
const adapter = await probeAdapter();
const model = await loadModel(flags.model!, ep, flags.kernels as "auto" | "gpu" | "cpu");
const m = model.manifest;
const [W, H] = m.default_size.split("x").map(Number) as [number, number];
const signal = new AbortController().signal;
console.log(
  `model ${m.id}, ep ${ep}, kernels ${model.kernels.name}, adapter ${
    adapter?.description ?? "none"
  }; ${nCaptions} captions x ${nSeeds} seeds`,
);

// 2. Warm-up (first-run compilation is not what we measure)
for (const method of methods.slice(0, 1).concat(methods.filter((x) => x.family === "ralu"))) {
  await generateImage(model, {
    prompt: "a red circle",
    seed: 0,
    steps: 2,
    acceleration: method.acceleration,
  }, { signal });
}

// 3. Runs: every method on the same captions and seeds, interleaved so machine noise hits all alike
interface Row {
  ms: number[];
  overheadMs: number[];
  decodeMs: number[];
  psnr: number[];
  ssim: number[];
  same: number;
  edgeRatio: number[];
  artifacts: number;
  scores: Score[];
  speedupFlops: number;
  speedupTokenSteps: number;
  evaluations: number;
  images: Uint8Array[];
}
const rows = new Map<string, Row>(
  methods.map((
    x,
  ) => [x.name, {
    ms: [],
    overheadMs: [],
    decodeMs: [],
    psnr: [],
    ssim: [],
    same: 0,
    edgeRatio: [],
    artifacts: 0,
    scores: [],
    speedupFlops: 0,
    speedupTokenSteps: 0,
    evaluations: 0,
    images: [],
  }]),
);
const scenes = heldOutScenes(nCaptions);
let peakRss = 0;
const t0 = performance.now();
for (const [ci, scene] of scenes.entries()) {
  const prompt = caption(scene);
  for (let s = 0; s < nSeeds; s++) {
    let reference: { rgba: Uint8Array; edges: number } | undefined;
    for (const method of methods) {
      const start = performance.now();
      const img = await generateImage(model, {
        prompt,
        seed: 1000 + s,
        steps: method.steps,
        acceleration: method.acceleration,
      }, { signal });
      const ms = performance.now() - start;
      const rgba = decode(img.bytes).data as Uint8Array;
      const edges = edgeCount(rgba, W, H);
      const row = rows.get(method.name)!;
      reference ??= { rgba, edges };
      row.ms.push(ms);
      row.overheadMs.push(img.cost.overheadMs);
      row.decodeMs.push(img.cost.decodeMs);
      row.psnr.push(psnr(rgba, reference.rgba));
      row.ssim.push(ssim(rgba, reference.rgba, W, H));
      if (sameComposition(reference.rgba, rgba, W, H)) row.same++;
      row.edgeRatio.push((edges + 1) / (reference.edges + 1));
      if (edges > reference.edges * (1 + edgeMargin) + 5) row.artifacts++;
      row.scores.push(evaluateImage(scene, rgba, W, H));
      row.speedupFlops = img.report.speedup_flops;
      row.speedupTokenSteps = img.report.speedup_token_steps;
      row.evaluations = img.cost.evaluations;
      if (s === 0 && ci < 6) row.images.push(rgba);
      peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
    }
  }
  console.log(
    `caption ${ci + 1}/${nCaptions} done (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
  );
}

// 4. Aggregate
const baseMs = median(rows.get("base-50")!.ms);
const table = methods.map((method) => {
  const r = rows.get(method.name)!;
  const med = median(r.ms);
  const score = meanScore(r.scores);
  const finite = r.psnr.filter(Number.isFinite);
  return {
    method: method.name,
    family: method.family,
    evals: r.evaluations,
    ms: med,
    wall: baseMs / med,
    flops: r.speedupFlops,
    tokenSteps: r.speedupTokenSteps,
    wallOverFlops: baseMs / med / r.speedupFlops,
    overhead: mean(r.overheadMs) / mean(r.ms),
    decode: mean(r.decodeMs) / mean(r.ms),
    psnr: finite.length ? mean(finite) : Infinity,
    ssim: mean(r.ssim),
    same: r.same / r.ms.length,
    // median: one image whose base has almost no edges would swing a mean (ratios of +1 counts)
    edgeRatio: median(r.edgeRatio),
    artifactRatio: r.artifacts / r.ms.length,
    color: score.color,
    shape: score.shape,
    position: score.position,
    all: score.all,
  };
});
const gpuPeak = model.kernels instanceof GpuOps ? model.kernels.pool.peakBytes : 0;

// 5. Report
await Deno.mkdir(flags.out!, { recursive: true });
const fmt = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : "∞");
const header =
  "| method | NFE | median ms | wall speedup | FLOPs speedup | wall/FLOPs | RALU kernels share | stage-2 decode share | PSNR vs base-50 | SSIM | same picture | edge ratio | artifact ratio | colour | shape | position | all |";
const lines = table.map((t) =>
  `| ${t.method} | ${t.evals} | ${fmt(t.ms, 0)} | ${fmt(t.wall)}x | ${fmt(t.flops)}x | ${
    fmt(t.wallOverFlops)
  } | ${(100 * t.overhead).toFixed(1)}% | ${(100 * t.decode).toFixed(1)}% | ${fmt(t.psnr, 1)} | ${
    fmt(t.ssim, 3)
  } | ${fmt(t.same)} | ${fmt(t.edgeRatio)} | ${fmt(t.artifactRatio)} | ${fmt(t.color)} | ${
    fmt(t.shape)
  } | ${fmt(t.position)} | ${fmt(t.all)} |`
);
const mode = flags.device ? "device" : flags.quick ? "quick" : "full";
const cmd = `deno task bench${flags.quick ? " --quick" : ""}${flags.device ? " --device" : ""}${
  flags.ablations ? " --ablations" : ""
}`;
const machine =
  `${navigator.hardwareConcurrency} CPU threads (${Deno.build.os}/${Deno.build.arch}), DiT on the ${ep} EP, RALU kernels on ${model.kernels.name}${
    adapter ? ` (adapter: ${adapter.description})` : ""
  }`;
const section = [
  `## ${mode} run — ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`,
  "",
  `Command: \`${cmd}\`. Machine: ${machine}. Model \`${m.id}\` at ${W}x${H}, guidance ${m.default_guidance}, ${nCaptions} held-out captions x ${nSeeds} seeds, ${
    ((performance.now() - t0) / 1000).toFixed(0)
  } s in all.`,
  `Peak process memory ${
    (peakRss / 2 ** 20).toFixed(0)
  } MiB; peak GPU buffer bytes of the RALU kernels ${(gpuPeak / 2 ** 10).toFixed(0)} KiB.`,
  "",
  header,
  "|" + " --- |".repeat(17),
  ...lines,
  "",
  `Speedups are ratios to \`base-50\` medians from this same run. "RALU kernels share" is the time in edge detection, top-k, repacking and noise over the whole generation; "stage-2 decode share" is the extra VAE decode RALU makes to find edges. Same picture: share of images with the composition of the \`base-50\` image of the same seed (the same objects by colour, place, size and shape, and the same background; \`sameComposition\` in bench/evaluator.ts). Edge ratio: median over images of the Canny edge pixels of the output over those of the \`base-50\` image of the same seed; artifact ratio: share of images whose edge count rises more than ${
    edgeMargin * 100
  }% above it.`,
  "",
].join("\n");
const docPath = `${flags.out}/benchmarks.md`;
let doc = "";
try {
  doc = await Deno.readTextFile(docPath);
} catch {
  doc =
    "# Benchmarks\n\nWritten by `deno task bench` (see bench/run.ts). Each section is one run; newer runs replace the section of the same mode.\n\n";
}
const marker = `<!-- bench:${mode} -->`;
const block = `${marker}\n${section}\n${marker}`;
doc = doc.includes(marker)
  ? doc.replace(new RegExp(`${marker}[\\s\\S]*?${marker}`), block)
  : doc + block + "\n";
await Deno.writeTextFile(docPath, doc);

const points = table.filter((t) => t.method !== "base-50");
await Deno.writeFile(
  `${flags.out}/bench_${mode}_psnr.png`,
  await scatterPng(
    points,
    "wall",
    "psnr",
    "Fidelity to base-50 vs measured speedup",
    "wall-clock speedup (x)",
    "PSNR vs base-50 (dB)",
  ),
);
await Deno.writeFile(
  `${flags.out}/bench_${mode}_artifacts.png`,
  await scatterPng(
    points,
    "flops",
    "artifactRatio",
    "Artifact ratio vs FLOPs speedup",
    "FLOPs speedup (x)",
    "artifact ratio",
  ),
);
const shown = methods.filter((x) => x.family !== "ablation");
await Deno.writeFile(
  `${flags.out}/bench_${mode}_grid.png`,
  await gridPng(
    shown.map((x) => rows.get(x.name)!.images),
    W,
    H,
    shown.map((x) => x.name),
    scenes.slice(0, rows.get("base-50")!.images.length).map(caption),
  ),
);
console.log(section);
await model.release();
