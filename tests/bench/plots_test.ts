import assert from "node:assert/strict";
import { decode } from "fast-png";
import { compactPng, gridPng } from "../../bench/plots.ts";
import { encodeImage } from "../../src/pipeline/image_codec.ts";

/** A figure-like image: flat background, a gradient block, a few sharp lines. */
function figure(w: number, h: number, alpha: (x: number, y: number) => number): Uint8Array {
  const px = new Uint8Array(w * h * 4).fill(255);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      if (x > 10 && x < 60 && y > 5 && y < 40) {
        px[i] = x * 4;
        px[i + 1] = y * 6;
        px[i + 2] = 128;
      }
      if (y % 17 === 0) px[i] = px[i + 1] = px[i + 2] = 0;
      px[i + 3] = alpha(x, y);
    }
  }
  return px;
}

/** Pixels an independent decoder (fast-png) reads back, as RGBA8. */
function readBack(png: Uint8Array): { rgba: Uint8Array; channels: number } {
  const img = decode(png);
  const src = img.data as Uint8Array;
  if (img.channels === 4) return { rgba: src, channels: 4 };
  const rgba = new Uint8Array(img.width * img.height * 4).fill(255);
  for (let p = 0; p < img.width * img.height; p++) {
    for (let k = 0; k < 3; k++) rgba[p * 4 + k] = src[p * 3 + k]!;
  }
  return { rgba, channels: img.channels };
}

Deno.test("compactPng: opaque figures are stored as RGB with the same pixels, and smaller", () => {
  const px = figure(96, 64, () => 255);
  const png = compactPng(px, 96, 64);
  const back = readBack(png);
  assert.equal(back.channels, 3);
  assert.deepEqual(back.rgba, px);
  assert.ok(png.length < encodeImage(px, 96, 64, "png").length);
});

Deno.test("compactPng: translucent pixels keep their alpha", () => {
  const px = figure(40, 30, (x) => (x < 20 ? 255 : 100));
  const back = readBack(compactPng(px, 40, 30));
  assert.equal(back.channels, 4);
  assert.deepEqual(back.rgba, px);
});

Deno.test("gridPng: a grid's cells come out with their pixels, opaque, as RGB", async () => {
  const red = new Uint8Array(8 * 8 * 4).map((_, i) => (i % 4 === 1 || i % 4 === 2 ? 0 : 255));
  const png = await gridPng([[red]], 8, 8, ["row"], ["col"]);
  const img = decode(png);
  assert.equal(img.channels, 3);
  // the cell sits at (left 120, top 20), drawn at twice its size
  const at = (x: number, y: number) =>
    Array.from(img.data.slice((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));
  assert.deepEqual(at(120 + 8, 20 + 8), [255, 0, 0]);
  assert.deepEqual(at(2, img.height - 2), [255, 255, 255]);
});
