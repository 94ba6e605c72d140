/**
 * `deno run -A bench/sd3_positions.ts [--seeds 6] [--size 512x512] [--out FILE.json]`: which
 * table positions SD3's DiT should get for RALU's low-resolution tokens, measured on the
 * committed miniature (models/sd3-tiny, wasm EP).
 *
 * SD3 adds an absolute sin-cos position per token; a low-resolution token has no place the
 * model was trained on at full size. Two choices (manifest `positions.low`, ralu.json
 * `positions_low`): "half" — the centre-cropped grid a half-size image gets (what diffusers
 * would feed a 256² run), copies of selected tokens at fractional places on it; "full" — each
 * low token at its top-left full-resolution cell, copies at their own cells. For each seed:
 * base at the model's default steps, ralu 2x and 3x under each choice, and base at the steps of
 * equal token-steps; PSNR of each image against base's (RALU's aim is base's image at a
 * fraction of its cost). The miniature has random weights: its numbers say how far each choice
 * moves a DiT that depends on positions, not how a trained SD3 responds.
 */
import { parseArgs } from "node:util";
import { decode } from "fast-png";
import { loadModel } from "../src/pipeline/model.ts";
import { generateImage, type GenerateParams } from "../src/pipeline/generate.ts";
import { imageTokens, parseSize } from "../src/config/manifest.ts";
import { mean, psnr } from "./metrics.ts";

const { values } = parseArgs({
  options: {
    seeds: { type: "string", default: "6" },
    size: { type: "string", default: "512x512" },
    out: { type: "string" },
  },
});
const SEEDS = Number(values.seeds);
const size = values.size!;
const PROMPT = "a red circle on a blue square";

/** A copy of models/sd3-tiny whose ralu.json asks for `low` positions. */
async function variant(root: string, low: "half" | "full"): Promise<void> {
  const src = `${Deno.cwd()}/models/sd3-tiny`;
  const dir = `${root}/sd3-${low}`;
  await Deno.mkdir(dir, { recursive: true });
  for await (const e of Deno.readDir(src)) {
    if (e.name !== "ralu.json") await Deno.symlink(`${src}/${e.name}`, `${dir}/${e.name}`);
  }
  const ours = JSON.parse(await Deno.readTextFile(`${src}/ralu.json`));
  await Deno.writeTextFile(`${dir}/ralu.json`, JSON.stringify({ ...ours, positions_low: low }));
}

const root = await Deno.makeTempDir({ prefix: "sd3-positions-" });
await variant(root, "half");
await variant(root, "full");
const models = {
  half: await loadModel("sd3-half", "wasm", "cpu", root),
  full: await loadModel("sd3-full", "wasm", "cpu", root),
};
const m = models.half.manifest;
const { width, height } = parseSize(size);
const full = imageTokens(m, width, height);
const signal = new AbortController().signal;
const run = async (model: typeof models.half, p: Partial<GenerateParams>) => {
  const img = await generateImage(model, { prompt: PROMPT, size, ...p, seed: p.seed! }, { signal });
  return { rgba: decode(img.bytes).data as Uint8Array, tokenSteps: img.cost.tokenSteps };
};

const rows: Record<string, number[]> = {};
const add = (k: string, v: number) => (rows[k] ??= []).push(v);
for (let seed = 0; seed < SEEDS; seed++) {
  const base = await run(models.half, { seed });
  for (const preset of ["2x", "3x"]) {
    let tokenSteps = 0;
    for (const low of ["half", "full"] as const) {
      const r = await run(models[low], { seed, acceleration: { method: "ralu", preset } });
      add(`ralu ${preset}, ${low}`, psnr(r.rgba, base.rgba));
      tokenSteps = r.tokenSteps;
    }
    // base at the same token-steps (both branches counted alike)
    const k = Math.max(1, Math.round(tokenSteps / (2 * full)));
    const bk = await run(models.half, { seed, steps: k });
    add(`base-${k} (equal cost to ${preset})`, psnr(bk.rgba, base.rgba));
  }
}
await models.half.release();
await models.full.release();
await Deno.remove(root, { recursive: true });

console.log(
  `PSNR (dB) against base-${m.default_steps}, ${SEEDS} seeds, ${size}, sd3-tiny on wasm:`,
);
const table = Object.entries(rows).map(([k, v]) => ({
  run: k,
  mean: Number(mean(v).toFixed(2)),
  min: Number(Math.min(...v).toFixed(2)),
  max: Number(Math.max(...v).toFixed(2)),
}));
console.table(table);
const out = values.out ?? (Deno.env.get("OUT") ? `${Deno.env.get("OUT")}/sd3_positions.json` : "");
if (out) await Deno.writeTextFile(out, JSON.stringify({ size, seeds: SEEDS, rows }, null, 2));
