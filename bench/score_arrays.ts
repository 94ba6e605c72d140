/**
 * `deno run -A bench/score_arrays.ts DIR`: scores the images tools/train/diagnose.py wrote
 * (DIR/images.npy, uint8 [levels, scenes, H, W, 3], and DIR/meta.json) with the evaluator,
 * one line per level, then how each caption shape was drawn (the evaluator's reading of the
 * component it matched to the object: circle, square or triangle by bounding-box fill), and
 * per level the share of images that are the same picture as the first level's
 * (`sameComposition`; diagnose.py --consistency compares samplers that way).
 *
 * @example
 * ```ts ignore
 * // /usr/bin/python3 tools/train/diagnose.py --out /tmp/diag
 * // deno run -A bench/score_arrays.ts /tmp/diag
 * ```
 */
import {
  classifyShape,
  evaluateImage,
  matchObjects,
  meanScore,
  sameComposition,
  segment,
} from "./evaluator.ts";
import type { Scene } from "./scenes.ts";

const dir = Deno.args[0] ?? "/tmp/diag";
const raw = await Deno.readFile(`${dir}/images.npy`);
// .npy v1: magic (6) + version (2) + header length (2, little-endian) + header
const headerLen = raw[8]! | (raw[9]! << 8);
const header = new TextDecoder().decode(raw.subarray(10, 10 + headerLen));
const shape = header.match(/\(([^)]*)\)/)![1]!.split(",").filter((v) => v.trim()).map(Number);
const [levels, count, h, w] = shape as [number, number, number, number];
const data = raw.subarray(10 + headerLen);
const meta: { levels: string[]; scenes: Scene[]; step: number } = JSON.parse(
  await Deno.readTextFile(`${dir}/meta.json`),
);
console.log(`DiT step ${meta.step}; ${count} scenes at ${w}x${h}`);
const image = (l: number, i: number) => {
  const rgb = data.subarray((l * count + i) * h * w * 3, (l * count + i + 1) * h * w * 3);
  const rgba = new Uint8Array(h * w * 4).fill(255);
  for (let p = 0; p < h * w; p++) rgba.set(rgb.subarray(p * 3, p * 3 + 3), p * 4);
  return rgba;
};
/** The first level's images, which every level is compared with. */
const first = meta.scenes.map((_, i) => image(0, i));
const drawn: string[] = [];
for (let l = 0; l < levels; l++) {
  // caption shape -> evaluator's reading -> count
  const confusion = new Map<string, Map<string, number>>();
  let same = 0;
  const scores = meta.scenes.map((scene, i) => {
    const rgba = image(l, i);
    if (sameComposition(rgba, first[i]!, w, h)) same++;
    const comps = segment(rgba, w, h);
    matchObjects(scene, comps).forEach((c, k) => {
      if (!c) return;
      const want = scene.objects[k]!.shape;
      const row = confusion.get(want) ?? new Map<string, number>();
      const got = classifyShape(c, w, h);
      confusion.set(want, row.set(got, (row.get(got) ?? 0) + 1));
    });
    return evaluateImage(scene, rgba, w, h, comps);
  });
  drawn.push(
    `${meta.levels[l]!.padEnd(5)} ` +
      [...confusion].sort().map(([want, row]) =>
        `${want} -> ${[...row].sort().map(([got, n]) => `${got} ${n}`).join(", ")}`
      ).join("; "),
  );
  const m = meanScore(scores);
  const level = meta.levels[l]!;
  const name = level === "ae"
    ? "autoencoder only"
    : Number.isNaN(Number(level))
    ? level
    : `from sigma ${level}`;
  console.log(
    `${name.padEnd(18)} colour ${m.color.toFixed(2)} shape ${m.shape.toFixed(2)} position ${
      m.position.toFixed(2)
    } size ${m.size.toFixed(2)} same picture as ${meta.levels[0]} ${(same / count).toFixed(2)}`,
  );
}
console.log("drawn as (caption shape -> read as):");
for (const line of drawn) console.log(`  ${line}`);
