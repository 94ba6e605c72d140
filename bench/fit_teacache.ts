/**
 * `deno run -A bench/fit_teacache.ts [--model default] [--captions 8] [--steps 50]
 * [--degree 2] [--write]`: fits a model's TeaCache rescale polynomial. Runs base sampling
 * with every step computed, on captions drawn apart from the benchmark's, and pairs for each
 * step after the first the indicator graph's rel_l1 (how much the first block's modulated
 * input moved since the previous step) with how much the DiT's velocity moved,
 * mean|v_i - v_{i-1}| / mean|v_{i-1}|; a least-squares polynomial maps the first to the
 * second. Prints the fit and its residual; `--write` stores it as the manifest's
 * `teacache_rescale` (a models/<id>/manifest.json model; FLUX folders take it in ralu.json).
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { loadModel } from "../src/pipeline/model.ts";
import { generateImage } from "../src/pipeline/generate.ts";
import { caption, heldOutScenes } from "./scenes.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    model: { type: "string", default: "default" },
    captions: { type: "string", default: "8" },
    steps: { type: "string", default: "50" },
    degree: { type: "string", default: "2" },
    write: { type: "boolean", default: false },
  },
});
const model = await loadModel(flags.model, "wasm", "cpu");
const pairs: [number, number][] = [];
const meanAbsDiff = (a: Float32Array, b: Float32Array) => {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num += Math.abs(a[i]! - b[i]!);
    den += Math.abs(b[i]!);
  }
  return num / den;
};

// every velocity of the run, with the latent it came from, as host arrays
const original = model.backend.bind(model);
let steps: { x: Float32Array; v: Float32Array; sigma: number }[] = [];
model.backend = (conds, g) => {
  const be = original(conds, g);
  const velocity = be.velocity.bind(be);
  be.velocity = async (x, ids, sigma) => {
    const v = await velocity(x, ids, sigma, 1);
    steps.push({ x: await be.read(x), v: await be.read(v), sigma });
    return v;
  };
  return be;
};
const signal = new AbortController().signal;
// captions and seeds apart from the benchmark's (scene seed 2026, image seeds from 0)
for (const [i, scene] of heldOutScenes(Number(flags.captions), 9001).entries()) {
  const prompt = caption(scene);
  steps = [];
  const g = model.manifest.default_guidance;
  await generateImage(model, { prompt, seed: 9001 + i, steps: Number(flags.steps) }, { signal });
  const ind = model.teaIndicator(await model.encodePrompt(prompt), g)!;
  for (let k = 1; k < steps.length; k++) {
    const a = steps[k]!, b = steps[k - 1]!;
    pairs.push([await ind.run(a.x, a.sigma, b.x, b.sigma), meanAbsDiff(a.v, b.v)]);
  }
}

/** Least-squares polynomial of `degree` through the pairs, highest degree first. */
function polyfit(xy: [number, number][], degree: number): number[] {
  const n = degree + 1;
  const A = Array.from({ length: n }, () => new Float64Array(n + 1));
  for (const [x, y] of xy) {
    const pw = Array.from({ length: n }, (_, i) => x ** (degree - i));
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) A[r]![c]! += pw[r]! * pw[c]!;
      A[r]![n]! += pw[r]! * y;
    }
  }
  for (let c = 0; c < n; c++) { // Gauss-Jordan with partial pivoting
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(A[r]![c]!) > Math.abs(A[p]![c]!)) p = r;
    [A[c], A[p]] = [A[p]!, A[c]!];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = A[r]![c]! / A[c]![c]!;
      for (let k = c; k <= n; k++) A[r]![k]! -= f * A[c]![k]!;
    }
  }
  return A.map((row, i) => row[n]! / row[i]!);
}

const coef = polyfit(pairs, Number(flags.degree));
const fit = (x: number) => coef.reduce((a, c) => a * x + c, 0);
const rms = Math.sqrt(pairs.reduce((a, [x, y]) => a + (fit(x) - y) ** 2, 0) / pairs.length);
const xs = pairs.map(([x]) => x), ys = pairs.map(([, y]) => y);
console.log(
  `${pairs.length} step pairs; indicator ${Math.min(...xs).toFixed(4)}..${
    Math.max(...xs).toFixed(4)
  }, output change ${Math.min(...ys).toFixed(4)}..${Math.max(...ys).toFixed(4)}`,
);
console.log(
  `rescale (highest degree first): ${
    JSON.stringify(coef.map((c) => +c.toPrecision(6)))
  }; rms residual ${rms.toFixed(4)}`,
);
if (flags.write) {
  const file = join("models", flags.model, "manifest.json");
  const m = JSON.parse(await Deno.readTextFile(file));
  m.teacache_rescale = coef.map((c) => +c.toPrecision(6));
  await Deno.writeTextFile(file, JSON.stringify(m, null, 2) + "\n");
  console.log(`written to ${file}`);
}
await model.release();
