/**
 * Image encoding through maintained libraries: fast-png for PNG, jpeg-js for JPEG.
 * WebP has no maintained pure-JS encoder, so it is refused at validation.
 *
 * @example
 * ```ts
 * import { encodeImage } from "./image_codec.ts";
 * const png = encodeImage(new Uint8Array(2 * 2 * 4).fill(255), 2, 2, "png");
 * ```
 */
import { encode as encodePng } from "fast-png";
import jpeg from "jpeg-js";

export type OutputFormat = "png" | "jpeg";

/** RGBA8 pixels → file bytes. PNG output is deterministic for the same pixels. */
export function encodeImage(
  rgba: Uint8Array,
  width: number,
  height: number,
  format: OutputFormat,
): Uint8Array {
  if (format === "jpeg") {
    return new Uint8Array(jpeg.encode({ data: rgba, width, height }, 90).data);
  }
  return encodePng({ width, height, data: rgba, channels: 4, depth: 8 });
}

/** Gray8 pixels → PNG. */
export function encodeGrayPng(gray: Uint8Array, width: number, height: number): Uint8Array {
  return encodePng({ width, height, data: gray, channels: 1, depth: 8 });
}

/** `[3, H, W]` in [-1, 1] (decoder output) → RGBA8. */
export function planarToRgba(chw: Float32Array, width: number, height: number): Uint8Array {
  const n = width * height;
  const out = new Uint8Array(n * 4);
  for (let p = 0; p < n; p++) {
    for (let k = 0; k < 3; k++) {
      out[p * 4 + k] = Math.max(0, Math.min(255, Math.round((chw[k * n + p]! + 1) * 127.5)));
    }
    out[p * 4 + 3] = 255;
  }
  return out;
}

/**
 * RGBA8 `w` x `h` → `W` x `H`, each pixel repeated (nearest neighbour: a preview's latent
 * pixels stay crisp blocks at the final image's size).
 */
export function upscaleNearest(
  rgba: Uint8Array,
  w: number,
  h: number,
  W: number,
  H: number,
): Uint8Array {
  const out = new Uint8Array(W * H * 4);
  const src = new Uint32Array(rgba.buffer, rgba.byteOffset, w * h);
  const dst = new Uint32Array(out.buffer);
  for (let y = 0; y < H; y++) {
    const row = Math.floor((y * h) / H) * w;
    for (let x = 0; x < W; x++) dst[y * W + x] = src[row + Math.floor((x * w) / W)]!;
  }
  return out;
}
