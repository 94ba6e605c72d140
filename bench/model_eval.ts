/**
 * `deno run -A bench/model_eval.ts`: the default model's compositional accuracy on
 * held-out captions with 50-step base sampling, at full and at half resolution, plus a
 * contact sheet of 16 captions (docs/contact_sheet.png). Results go to docs/model.md.
 */
import { parseArgs } from "node:util";
import { decode } from "fast-png";
import { chooseEp } from "../src/onnx/ort.ts";
import { loadModel } from "../src/pipeline/model.ts";
import { generateImage } from "../src/pipeline/generate.ts";
import { caption, heldOutScenes } from "./scenes.ts";
import { evaluateImage, meanScore, type Score } from "./evaluator.ts";
import { svgToPng } from "./plots.ts";
import { encodeBase64 } from "../src/http/base64.ts";
import { encodeImage } from "../src/pipeline/image_codec.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    captions: { type: "string", default: "64" },
    model: { type: "string", default: "default" },
    out: { type: "string", default: "docs" },
    steps: { type: "string", default: "50" },
    guidance: { type: "string" },
  },
});
const model = await loadModel(flags.model!, await chooseEp("auto"), "auto");
const m = model.manifest;
const full = m.default_size;
const [W] = full.split("x").map(Number) as [number];
const half = `${W / 2}x${W / 2}`;
const scenes = heldOutScenes(Number(flags.captions), 77);
const signal = new AbortController().signal;
const results: Record<string, Score[]> = { [full]: [], [half]: [] };
const sheet: Uint8Array[] = [];
const t0 = performance.now();
for (const [i, scene] of scenes.entries()) {
  for (const size of [full, half]) {
    const img = await generateImage(model, {
      prompt: caption(scene),
      size,
      seed: i,
      steps: Number(flags.steps),
      guidance: flags.guidance === undefined ? undefined : Number(flags.guidance),
    }, { signal });
    const png = decode(img.bytes);
    results[size]!.push(evaluateImage(scene, png.data as Uint8Array, png.width, png.height));
    if (size === full && i < 16) sheet.push(png.data as Uint8Array);
  }
  if ((i + 1) % 8 === 0) {
    console.log(`${i + 1}/${scenes.length} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
}
const f = meanScore(results[full]!), h = meanScore(results[half]!);
const fmt = (s: Score) =>
  `colour ${s.color.toFixed(3)}, shape ${s.shape.toFixed(3)}, position ${
    s.position.toFixed(3)
  }, size ${s.size.toFixed(3)}, all ${s.all.toFixed(3)}`;
const keep = (a: number, b: number) => (b > 0 ? (100 * a / b).toFixed(0) + "%" : "n/a");
const report = [
  `## Evaluation — ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`,
  "",
  `${scenes.length} held-out captions x 1 seed, base sampling, ${flags.steps} steps, guidance ${
    flags.guidance ?? m.default_guidance
  }, DiT on the ${model.ep} EP.`,
  "",
  `* ${full}: ${fmt(f)}`,
  `* ${half}: ${fmt(h)} — keeps ${keep(h.color, f.color)} of the colour and ${
    keep(h.shape, f.shape)
  } of the shape score`,
  "",
  "Contact sheet: `docs/contact_sheet.png` (16 captions, each under its image).",
  "",
].join("\n");

// contact sheet: 4 x 4 images, captions wrapped under each
const scale = 2, cw = W * scale, capH = 70, gap = 10, cols = 4;
const rowsN = Math.ceil(sheet.length / cols);
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
const parts = [
  `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${
    cols * (cw + gap) + gap
  }" height="${rowsN * (cw + capH + gap) + gap}"><rect width="100%" height="100%" fill="white"/>`,
];
sheet.forEach((rgba, i) => {
  const x = gap + (i % cols) * (cw + gap), y = gap + Math.floor(i / cols) * (cw + capH + gap);
  parts.push(
    `<image x="${x}" y="${y}" width="${cw}" height="${cw}" style="image-rendering:pixelated" xlink:href="data:image/png;base64,${
      encodeBase64(encodeImage(rgba, W, W, "png"))
    }"/>`,
  );
  const lines: string[] = [];
  for (const word of caption(scenes[i]!).split(" ")) {
    if (lines.length && (lines.at(-1)! + " " + word).length * 5.4 < cw) {
      lines[lines.length - 1] += " " + word;
    } else lines.push(word);
  }
  lines.slice(0, 7).forEach((line, k) =>
    parts.push(
      `<text x="${x}" y="${y + cw + 11 + k * 9.5}" font-size="8.5" font-family="DejaVu Sans">${
        esc(line)
      }</text>`,
    )
  );
});
parts.push("</svg>");
await Deno.mkdir(flags.out!, { recursive: true });
await Deno.writeFile(`${flags.out}/contact_sheet.png`, await svgToPng(parts.join("")));
const docPath = `${flags.out}/model.md`;
let doc = "";
try {
  doc = await Deno.readTextFile(docPath);
} catch {
  doc = "# The default model\n\n";
}
const marker = "<!-- model-eval -->";
const block = `${marker}\n${report}\n${marker}`;
doc = doc.includes(marker)
  ? doc.replace(new RegExp(`${marker}[\\s\\S]*?${marker}`), block)
  : doc + block + "\n";
await Deno.writeTextFile(docPath, doc);
console.log(report);
await model.release();
