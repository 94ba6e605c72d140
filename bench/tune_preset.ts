/**
 * `deno run -A bench/tune_preset.ts --preset 4x`: searches a model's RALU preset for the
 * stage ends `e1`, `e2` (and the edge ratio `r`) that keep the most images the same
 * picture as 50-step base sampling, with the step counts `N` — and so the token-step
 * speedup — held fixed. Tuning captions come from a different seed than the benchmark's,
 * so `deno task bench` judges the chosen preset on captions it was not tuned on.
 * Candidates whose stage 3 starts below t = 0.05 (MIN_STAGE3_START: over 95% fresh noise,
 * a short base run in disguise) are refused unless `--allow-degenerate` is given for an
 * experiment. Prints a table with each candidate's schedule values (h, Z, s, alpha, beta);
 * changing a manifest is left to the person (or the exporter).
 *
 * @example
 * ```ts ignore
 * // deno run -A bench/tune_preset.ts --preset 4x --captions 16 --seeds 2
 * ```
 */
import { parseArgs } from "node:util";
import { decode } from "fast-png";
import type { Acceleration } from "../src/config/image_request.ts";
import { chooseEp } from "../src/onnx/ort.ts";
import { loadModel } from "../src/pipeline/model.ts";
import { generateImage } from "../src/pipeline/generate.ts";
import { caption, heldOutScenes } from "./scenes.ts";
import { sameComposition } from "./evaluator.ts";
import { mean, psnr } from "./metrics.ts";
import { ntMatchingFor } from "../src/schedule/nt_matching.ts";
import { boundary, lastStageStart, MIN_STAGE3_START } from "../src/schedule/stages.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    preset: { type: "string", default: "4x" },
    model: { type: "string", default: "default" },
    captions: { type: "string", default: "16" },
    seeds: { type: "string", default: "2" },
    e1: { type: "string", default: "0.15,0.2,0.25,0.3" },
    gap: { type: "string", default: "0.1,0.15,0.25" },
    r: { type: "string" },
    "allow-degenerate": { type: "boolean" },
  },
});
const list = (s: string) => s.split(",").map(Number);
const model = await loadModel(flags.model!, await chooseEp("auto"), "auto");
const m = model.manifest;
const preset = m.presets[flags.preset!];
if (!preset) throw new Error(`model ${m.id} has no preset ${flags.preset}`);
const [W, H] = m.default_size.split("x").map(Number) as [number, number];
const signal = new AbortController().signal;
/** Benchmark captions use seed 2026 (bench/scenes.ts); tuning uses its own. */
const scenes = heldOutScenes(Number(flags.captions), 4242);
const seeds = Array.from({ length: Number(flags.seeds) }, (_, s) => 1000 + s);

const render = async (prompt: string, seed: number, acceleration?: Acceleration) =>
  decode(
    (await generateImage(model, { prompt, seed, acceleration }, { signal })).bytes,
  ).data as Uint8Array;

const refs: Uint8Array[] = [];
for (const scene of scenes) {
  for (const seed of seeds) refs.push(await render(caption(scene), seed));
}

const candidates: { e: number[]; r: number }[] = [];
for (const r of flags.r ? list(flags.r) : [preset.r ?? 0.3]) {
  for (const e1 of list(flags.e1!)) {
    for (const gap of list(flags.gap!)) {
      if (e1 + gap < 1) candidates.push({ e: [e1, +(e1 + gap).toFixed(3), 1], r });
    }
  }
}
/** The schedule a candidate runs: NT-matching's h, Z and both boundaries' s, alpha, beta. */
const schedule = (e: number[]) => {
  const { h, Z } = ntMatchingFor(preset.N, e, m.base_shift);
  const b = [boundary(e[0]!, Z), boundary(e[1]!, Z)];
  const f = (v: number) => v.toFixed(3);
  return {
    s3: lastStageStart(e, Z),
    text: `h ${h.map(f).join(", ")}; Z ${Z.toFixed(2)}; s ${f(b[0]!.s)}, ${f(b[1]!.s)}; ` +
      `alpha ${f(b[0]!.alpha)}, ${f(b[1]!.alpha)}; beta ${f(b[0]!.beta)}, ${f(b[1]!.beta)}`,
  };
};
console.log(
  `| e | r | schedule | same picture | PSNR vs base-50 |\n| --- | --- | --- | --- | --- |`,
);
for (const c of candidates) {
  const sch = schedule(c.e);
  if (sch.s3 < MIN_STAGE3_START && !flags["allow-degenerate"]) {
    console.log(
      `| ${c.e.join(", ")} | ${c.r} | ${sch.text} | refused: stage 3 starts at t = ${
        sch.s3.toFixed(4)
      } < ${MIN_STAGE3_START} | |`,
    );
    continue;
  }
  let same = 0, k = 0;
  const db: number[] = [];
  for (const scene of scenes) {
    for (const seed of seeds) {
      const img = await render(caption(scene), seed, {
        method: "ralu",
        preset: flags.preset,
        e: c.e,
        r: c.r,
      });
      if (sameComposition(refs[k]!, img, W, H)) same++;
      db.push(psnr(img, refs[k]!));
      k++;
    }
  }
  console.log(
    `| ${c.e.join(", ")} | ${c.r} | ${sch.text} | ${(same / k).toFixed(2)} | ${
      mean(db.filter(Number.isFinite)).toFixed(1)
    } |`,
  );
}
await model.release();
