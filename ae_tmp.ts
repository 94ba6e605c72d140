import { evaluateImage, meanScore } from "./bench/evaluator.ts";
const raw = await Deno.readFile("/tmp/sde.npy");
const hdrLen = raw[8]! | (raw[9]! << 8);
const data = raw.subarray(10 + hdrLen);
const meta = JSON.parse(await Deno.readTextFile("/tmp/sde.json"));
const n = meta.scenes.length, px = 128 * 128 * 3;
meta.levels.forEach((lv: string, li: number) => {
  const sc = [];
  for (let i = 0; i < n; i++) {
    const img = data.subarray((li * n + i) * px, (li * n + i + 1) * px);
    const rgba = new Uint8Array(128 * 128 * 4);
    for (let p = 0; p < 128 * 128; p++) {
      for (let c = 0; c < 3; c++) rgba[p * 4 + c] = img[p * 3 + c]!;
      rgba[p * 4 + 3] = 255;
    }
    sc.push(evaluateImage(meta.scenes[i], rgba, 128, 128));
  }
  const m = meanScore(sc);
  console.log(lv, "colour", m.color.toFixed(2), "shape", m.shape.toFixed(2), "pos", m.position.toFixed(2), "size", m.size.toFixed(2));
});
