/**
 * `deno task bench [--quick | --device] [--ablations]`: quality against cost of every
 * sampling method on held-out captions, measured in one run, written to
 * docs/benchmarks.md with plots. base-k over the whole range of k draws base sampling's
 * frontier; each accelerated row (RALU as published and as shipped, naive, bottleneck;
 * both noise modes; the baselines at RALU's token-step budget) is set against the base-k
 * of nearest cost, with a paired bootstrap interval over images. Runs at guidance 1 and
 * at a guidance > 1. A benchmark, not a test: nothing here asserts.
 */
import { parseArgs } from "node:util";
import { decode } from "fast-png";
import type { Acceleration, CacheSettings } from "../src/config/image_request.ts";
import { chooseEp, probeAdapter } from "../src/onnx/ort.ts";
import { loadModel } from "../src/pipeline/model.ts";
import { imageTokens } from "../src/config/manifest.ts";
import { generateImage } from "../src/pipeline/generate.ts";
import { GpuOps } from "../src/kernels/gpu_ops.ts";
import { raluStageTokens, resolveRalu } from "../src/samplers/ralu_params.ts";
import { stageCost } from "../src/schedule/budget.ts";
import { boundary } from "../src/schedule/stages.ts";
import { caption, heldOutScenes } from "./scenes.ts";
import { evaluateImage, meanScore, sameComposition, type Score } from "./evaluator.ts";
import { edgeCount, mean, median, psnr, ssim } from "./metrics.ts";
import { bootstrapMeanDiff, type Interval, nearestByCost, verdict } from "./frontier.ts";
import { frontierPng, gridPng } from "./plots.ts";

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
    /** Guidance scales, each a run of its own; captions of the second and later halved. */
    guidance: { type: "string" },
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

// 1. Model, EP, kernels
const ep = await chooseEp(flags.ep as "auto" | "wasm" | "webgpu");
const adapter = await probeAdapter();
const model = await loadModel(flags.model!, ep, flags.kernels as "auto" | "gpu" | "cpu");
const m = model.manifest;
const [W, H] = m.default_size.split("x").map(Number) as [number, number];
const fullTokens = imageTokens(m, W, H);
const signal = new AbortController().signal;

// 2. Methods: base's frontier, then every accelerated row in both noise modes
const BASE_K = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 20, 30, 50];
/** RALU as published for FLUX (RALU.md §4; 7x with the authors' code's r). */
const PAPER: Record<string, { N: number[]; e: number[]; r: number }> = {
  "4x": { N: [5, 6, 7], e: [0.3, 0.45, 1], r: 0.3 },
  "7x": { N: [2, 3, 5], e: [0.2, 0.3, 1], r: 0.1 },
};
/**
 * The best stage ends bench/tune_preset.ts found for this model under the t >= 0.05 rule
 * (docs/benchmarks.md has the tuning tables); run beside the paper's, not shipped: each
 * sits at the rule's edge, where the score rises as stage 3 nears a fresh-noise restart.
 */
const TUNED: Record<string, Record<string, number[]>> = {
  default: { "4x": [0.25, 0.3, 1] },
};
const NOISE = ["fresh", "anchored"] as const;
const methods: Method[] = BASE_K.map((k) => ({ name: `base-${k}`, family: "base", steps: k }));
const budgets: Record<string, number> = {};
for (const preset of ["4x", "7x"]) {
  const shipped = m.presets[preset];
  if (!shipped) continue;
  const paper = PAPER[preset]!;
  const sameAsPaper =
    `${shipped.e}|${shipped.r}|${shipped.N}` === `${paper.e}|${paper.r}|${paper.N}`;
  budgets[preset] = stageCost(shipped.N, raluStageTokens(fullTokens, shipped.r));
  for (const noise of NOISE) {
    methods.push({
      name: `ralu-${preset} paper${sameAsPaper ? " = shipped" : ""} ${noise}`,
      family: "ralu",
      acceleration: { method: "ralu", preset, ...paper, noise },
    });
    if (!sameAsPaper) {
      methods.push({
        name: `ralu-${preset} shipped ${noise}`,
        family: "ralu",
        acceleration: { method: "ralu", preset, noise },
      });
    }
    const tuned = TUNED[m.id]?.[preset];
    if (tuned) {
      methods.push({
        name: `ralu-${preset} tuned ${noise}`,
        family: "ralu",
        acceleration: { method: "ralu", preset, e: tuned, noise },
      });
    }
  }
  for (const method of ["naive", "bottleneck"] as const) {
    for (const noise of NOISE) {
      methods.push({
        name: `${method}-${preset} ${noise}`,
        family: method,
        acceleration: { method, preset, noise, token_steps: budgets[preset]! },
      });
    }
  }
}
// temporal caching (TaylorSeer- and TeaCache-style): alone on base-50, and inside each RALU
// stage; set against base-k of nearest cost like every other row (its cost counts computed
// steps only). TeaCache needs the model's indicator graph.
const CACHES: CacheSettings[] = [
  { method: "taylorseer", interval: 2, order: 1, warmup: 2 },
  { method: "taylorseer", interval: 3, order: 2, warmup: 3 },
  ...(model.indicator
    ? [0.03, 0.08].map((threshold) => ({ method: "teacache" as const, threshold }))
    : []),
];
const cacheLabel = (c: CacheSettings) =>
  c.method === "taylorseer"
    ? `taylor i${c.interval} o${c.order} w${c.warmup}`
    : `teacache ${c.threshold}`;
for (const cache of CACHES) {
  methods.push({
    name: `base-50 + ${cacheLabel(cache)}`,
    family: "cache",
    steps: 50,
    acceleration: { method: "base", cache },
  });
  for (const preset of ["4x", "7x"].filter((p) => m.presets[p])) {
    methods.push({
      name: `ralu-${preset} shipped + ${cacheLabel(cache)}`,
      family: "cache",
      acceleration: { method: "ralu", preset, cache },
    });
  }
}
if (flags.ablations) {
  const abl = (name: string, extra: Partial<Acceleration>) =>
    methods.push({
      name: `ralu-4x ${name}`,
      family: "ablation",
      acceleration: { method: "ralu", preset: "4x", noise: "fresh", ...extra },
    });
  abl("r=0.1", { r: 0.1 });
  abl("r=0.2", { r: 0.2 });
  abl("no NT-matching", { nt_matching: false });
  abl("gray=clip", { gray: "clip" });
  abl("exact noise", { exact_noise: true });
}

const nCaptions = Number(flags.captions ?? (flags.quick ? 4 : flags.device ? 16 : 32));
const nSeeds = Number(flags.seeds ?? (flags.quick ? 1 : 2));
const guidances = (flags.guidance ?? (flags.quick ? "1" : "1,3")).split(",").map(Number);
const edgeMargin = Number(flags["edge-margin"]);
console.log(
  `model ${m.id}, ep ${ep}, kernels ${model.kernels.name}, adapter ${
    adapter?.description ?? "none"
  }; ${methods.length} methods; guidance ${guidances.join(", ")}`,
);

// 3. Warm-up (first-run compilation is not what we measure)
for (
  const acc of [
    undefined,
    ...methods.filter((x) => x.acceleration).map((x) => x.acceleration),
  ]
) {
  await generateImage(model, { prompt: "a red circle", seed: 0, steps: 2, acceleration: acc }, {
    signal,
  });
}

/** Per image, in caption x seed order: what each method's output scores. */
interface Row {
  ms: number[];
  overheadMs: number[];
  decodeMs: number[];
  psnr: number[];
  ssim: number[];
  same: number[];
  edgeRatio: number[];
  artifact: number[];
  scores: Score[];
  tokenSteps: number;
  speedupFlops: number;
  evaluations: number;
  images: Uint8Array[];
}

async function runAt(guidance: number, captions: number) {
  const rows = new Map<string, Row>(methods.map((x) => [x.name, {
    ms: [],
    overheadMs: [],
    decodeMs: [],
    psnr: [],
    ssim: [],
    same: [],
    edgeRatio: [],
    artifact: [],
    scores: [],
    tokenSteps: 0,
    speedupFlops: 0,
    evaluations: 0,
    images: [],
  }]));
  const scenes = heldOutScenes(captions);
  let peakRss = 0;
  const t0 = performance.now();
  for (const [ci, scene] of scenes.entries()) {
    const prompt = caption(scene);
    for (let s = 0; s < nSeeds; s++) {
      const outputs = new Map<string, { rgba: Uint8Array; edges: number }>();
      // interleaved, so machine noise hits every method alike
      for (const method of methods) {
        const start = performance.now();
        const img = await generateImage(model, {
          prompt,
          seed: 1000 + s,
          steps: method.steps,
          guidance,
          acceleration: method.acceleration,
        }, { signal });
        const row = rows.get(method.name)!;
        row.ms.push(performance.now() - start);
        row.overheadMs.push(img.cost.overheadMs);
        row.decodeMs.push(img.cost.decodeMs);
        row.tokenSteps = img.cost.tokenSteps / (guidance > 1 ? 2 : 1);
        row.speedupFlops = img.report.speedup_flops;
        row.evaluations = img.cost.evaluations;
        const rgba = decode(img.bytes).data as Uint8Array;
        outputs.set(method.name, { rgba, edges: edgeCount(rgba, W, H) });
        row.scores.push(evaluateImage(scene, rgba, W, H));
        if (s === 0 && ci < 6) row.images.push(rgba);
        peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
      }
      const ref = outputs.get("base-50")!;
      for (const [name, o] of outputs) {
        const row = rows.get(name)!;
        row.psnr.push(psnr(o.rgba, ref.rgba));
        row.ssim.push(ssim(o.rgba, ref.rgba, W, H));
        row.same.push(sameComposition(ref.rgba, o.rgba, W, H) ? 1 : 0);
        row.edgeRatio.push((o.edges + 1) / (ref.edges + 1));
        row.artifact.push(o.edges > ref.edges * (1 + edgeMargin) + 5 ? 1 : 0);
      }
    }
    console.log(
      `g ${guidance}: caption ${ci + 1}/${captions} (${
        ((performance.now() - t0) / 1000).toFixed(0)
      } s)`,
    );
  }
  return { rows, scenes, peakRss, seconds: (performance.now() - t0) / 1000 };
}

// 4. Report helpers
const fmt = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : "∞");
const ci = (i: Interval, d = 2) =>
  Number.isFinite(i.mean)
    ? `${i.mean >= 0 ? "+" : ""}${i.mean.toFixed(d)} [${i.lo.toFixed(d)}, ${i.hi.toFixed(d)}]`
    : "–";

/** The schedule a RALU row runs (h, Z, s, alpha, beta), for the docs. */
function scheduleOf(acc: Acceleration): string {
  const p = resolveRalu(acc, m, fullTokens);
  const b = [boundary(p.e[0]!, p.Z), boundary(p.e[1]!, p.Z)];
  const f = (v: number) => v.toFixed(3);
  return `N ${p.N.join("/")}, e ${p.e.slice(0, 2).join("/")}, r ${p.r}: h ${
    p.h.map(f).join("/")
  }, Z ${p.Z.toFixed(2)}, s ${f(b[0]!.s)}/${f(b[1]!.s)}, alpha ${f(b[0]!.alpha)}/${
    f(b[1]!.alpha)
  }, beta ${f(b[0]!.beta)}/${f(b[1]!.beta)}`;
}

const mode = flags.device ? "device" : flags.quick ? "quick" : "full";
await Deno.mkdir(flags.out!, { recursive: true });
const parts: string[] = [];
const machine =
  `${navigator.hardwareConcurrency} CPU threads (${Deno.build.os}/${Deno.build.arch}), DiT on the ${ep} EP, RALU kernels on ${model.kernels.name}${
    adapter ? ` (adapter: ${adapter.description})` : ""
  }`;
const cmd = `deno task bench${flags.quick ? " --quick" : ""}${flags.device ? " --device" : ""}${
  flags.ablations ? " --ablations" : ""
}${flags.guidance ? ` --guidance ${flags.guidance}` : ""}${
  flags.captions ? ` --captions ${flags.captions}` : ""
}${flags.seeds ? ` --seeds ${flags.seeds}` : ""}`;
parts.push(
  `## ${mode} run — ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`,
  "",
  `Command: \`${cmd}\`. Machine: ${machine}. Model \`${m.id}\` at ${W}x${H}.`,
  "",
  "Schedules of the RALU rows (NT-matching's h and Z; s, alpha, beta at boundaries 1/2):",
  "",
  ...[
    ...new Set(
      methods.filter((x) => x.family === "ralu").map((x) =>
        x.name.replace(/ (fresh|anchored)$/, "")
      ),
    ),
  ]
    .map((name) => {
      const x = methods.find((y) => y.name.startsWith(name))!;
      return `- ${name}: ${scheduleOf(x.acceleration!)}`;
    }),
  "",
);

for (const [gi, guidance] of guidances.entries()) {
  const captions = gi === 0 ? nCaptions : Math.max(1, Math.round(nCaptions / 2));
  const { rows, scenes, peakRss, seconds } = await runAt(guidance, captions);
  const base50 = median(rows.get("base-50")!.ms);
  const stat = methods.map((x) => {
    const r = rows.get(x.name)!;
    const finite = r.psnr.filter(Number.isFinite);
    const score = meanScore(r.scores);
    return {
      x,
      r,
      method: x.name,
      family: x.family,
      cost: r.tokenSteps,
      tokenSpeedup: (50 * fullTokens) / r.tokenSteps,
      ms: median(r.ms),
      wall: base50 / median(r.ms),
      psnr: finite.length ? mean(finite) : Infinity,
      ssim: mean(r.ssim),
      same: mean(r.same),
      edgeRatio: median(r.edgeRatio),
      artifactRatio: mean(r.artifact),
      score,
    };
  });
  const base = stat.filter((t) => t.family === "base");
  const accel = stat.filter((t) => t.family !== "base");
  const tag = `g${guidance}`;
  parts.push(
    `### guidance ${guidance} — ${captions} held-out captions x ${nSeeds} seeds, ${
      seconds.toFixed(0)
    } s`,
    "",
    `Peak process memory ${
      (peakRss / 2 ** 20).toFixed(0)
    } MiB; peak GPU buffer bytes of the kernels ${
      ((model.kernels instanceof GpuOps ? model.kernels.pool.peakBytes : 0) / 2 ** 10).toFixed(0)
    } KiB.`,
    "",
    "| method | token-steps | token-step speedup | FLOPs speedup | median ms | wall speedup | RALU kernels share | stage-2 decode share | PSNR vs base-50 | SSIM | same picture | edge ratio | artifact ratio | colour | shape | position | all |",
    "|" + " --- |".repeat(17),
    ...stat.map((t) =>
      `| ${t.method} | ${t.cost} | ${fmt(t.tokenSpeedup)}x | ${fmt(t.r.speedupFlops)}x | ${
        fmt(t.ms, 0)
      } | ${fmt(t.wall)}x | ${(100 * mean(t.r.overheadMs) / mean(t.r.ms)).toFixed(1)}% | ${
        (100 * mean(t.r.decodeMs) / mean(t.r.ms)).toFixed(1)
      }% | ${fmt(t.psnr, 1)} | ${fmt(t.ssim, 3)} | ${fmt(t.same)} | ${fmt(t.edgeRatio)} | ${
        fmt(t.artifactRatio)
      } | ${fmt(t.score.color)} | ${fmt(t.score.shape)} | ${fmt(t.score.position)} | ${
        fmt(t.score.all)
      } |`
    ),
    "",
    "Each accelerated row against the base-k of nearest token-step cost (differences: row minus base-k, mean over images with a paired 95% bootstrap interval; verdict on same picture, then PSNR):",
    "",
    "| method | token-steps | nearest base-k | its token-steps | wall speedup (row / base-k) | Δ same picture | Δ PSNR dB | Δ SSIM | verdict |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  const verdicts: Record<string, string[]> = { above: [], below: [], level: [] };
  for (const t of accel) {
    const b = nearestByCost(t.cost, base);
    const dSame = bootstrapMeanDiff(t.r.same, b.r.same);
    const dPsnr = bootstrapMeanDiff(t.r.psnr, b.r.psnr);
    const dSsim = bootstrapMeanDiff(t.r.ssim, b.r.ssim);
    const v = verdict(dSame) === "level" ? verdict(dPsnr) : verdict(dSame);
    if (t.family !== "ablation") verdicts[v]!.push(t.method);
    parts.push(
      `| ${t.method} | ${t.cost} | ${b.method} | ${b.cost} | ${fmt(t.wall)}x / ${fmt(b.wall)}x | ${
        ci(dSame)
      } | ${ci(dPsnr, 1)} | ${ci(dSsim, 3)} | ${v} |`,
    );
  }
  parts.push(
    "",
    `At guidance ${guidance}, against base at equal token-step cost: above base's frontier — ${
      verdicts.above!.join(", ") || "none"
    }; level with it — ${verdicts.level!.join(", ") || "none"}; below it — ${
      verdicts.below!.join(", ") || "none"
    }.`,
    "",
  );
  const measures = [
    ["same", "same picture as base-50", "share of images"],
    ["psnr", "PSNR vs base-50", "dB"],
    ["ssim", "SSIM vs base-50", "SSIM"],
    ["artifactRatio", "artifact ratio (edges > base-50 + 20%)", "share of images"],
  ] as const;
  const plain = (t: typeof stat[number]) => ({
    method: t.method,
    family: t.family,
    wall: t.wall,
    same: t.same,
    psnr: Number.isFinite(t.psnr) ? t.psnr : null,
    ssim: t.ssim,
    artifactRatio: t.artifactRatio,
  });
  for (const [key, title, unit] of measures) {
    const file = `bench_${mode}_${tag}_${key}.png`;
    await Deno.writeFile(
      `${flags.out}/${file}`,
      await frontierPng(
        base.filter((t) => t.method !== "base-50" || key !== "psnr").map(plain),
        accel.filter((t) => t.family !== "ablation").map(plain),
        key,
        `${title}, guidance ${guidance}`,
        unit,
      ),
    );
    parts.push(`![${title} against wall speedup, guidance ${guidance}](${file})`);
  }
  const shown = methods.filter((x) =>
    ["base-50", "base-7", "base-12"].includes(x.name) ||
    (x.family !== "base" && x.family !== "ablation")
  );
  const gridFile = `bench_${mode}_${tag}_grid.png`;
  await Deno.writeFile(
    `${flags.out}/${gridFile}`,
    await gridPng(
      shown.map((x) => rows.get(x.name)!.images),
      W,
      H,
      shown.map((x) => x.name),
      scenes.slice(0, rows.get("base-50")!.images.length).map(caption),
    ),
  );
  parts.push("", `Method x caption grid (seed 1000): [${gridFile}](${gridFile})`, "");
}
parts.push(
  `Speedups are ratios to \`base-50\` medians from the same run; token-steps count image tokens over steps for one guidance branch. Same picture: the composition of the \`base-50\` image of the same seed (\`sameComposition\` in bench/evaluator.ts). Edge ratio: median over images of Canny edge pixels over those of \`base-50\`; artifact ratio: share of images whose edge count rises more than ${
    edgeMargin * 100
  }% above it. The baselines (naive, bottleneck) run at the shipped RALU preset's token-step budget (\`token_steps\`).`,
  "",
);

// 5. Write the section of this mode into docs/benchmarks.md
const section = parts.join("\n");
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
console.log(section);
await model.release();
