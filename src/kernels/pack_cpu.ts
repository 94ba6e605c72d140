/**
 * Latent ↔ token packing (2x2 patches, FLUX order: channel, then row offset, then column
 * offset) and nearest 2x downsampling; CPU references of shaders/pack.wgsl.
 *
 * @example
 * ```ts
 * import { pack, unpack } from "./pack_cpu.ts";
 * const latent = new Float32Array(4 * 8 * 8);
 * const tokens = pack(latent, 4, 8, 8); // 16 tokens x 16 numbers
 * unpack(tokens, 4, 8, 8); // equals latent
 * ```
 */

/** [C, H, W] → [(H/2)(W/2), 4C]. */
export function pack(latent: Float32Array, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(latent.length);
  const tw = w / 2;
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const token = (y >> 1) * tw + (x >> 1);
        const lane = ch * 4 + (y & 1) * 2 + (x & 1);
        out[token * 4 * c + lane] = latent[(ch * h + y) * w + x]!;
      }
    }
  }
  return out;
}

/** [(H/2)(W/2), 4C] → [C, H, W]. */
export function unpack(tokens: Float32Array, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(tokens.length);
  const tw = w / 2;
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const token = (y >> 1) * tw + (x >> 1);
        out[(ch * h + y) * w + x] = tokens[token * 4 * c + ch * 4 + (y & 1) * 2 + (x & 1)]!;
      }
    }
  }
  return out;
}

/**
 * 2x downsampling of [C, H, W]. "nearest" keeps even rows and columns (RALU's stage-1
 * noise). "box" is the inverse of RALU's token copies: a low-resolution token becomes 4
 * tokens that repeat its lanes, so low pixel (y, x) takes the sum / 2 of the 4 full
 * pixels that its lane lands on in those 4 tokens — rows 2y - y%2 and 2y - y%2 + 2,
 * columns likewise. Unit variance for N(0, 1) noise, and the "anchored" mode's algebra
 * closes exactly (ralu.ts).
 */
export function downsample2x(
  latent: Float32Array,
  c: number,
  h: number,
  w: number,
  mode: DownsampleMode = "nearest",
): Float32Array {
  const hh = h / 2, ww = w / 2;
  const out = new Float32Array(c * hh * ww);
  const f = Math.fround;
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < hh; y++) {
      for (let x = 0; x < ww; x++) {
        const o = (ch * hh + y) * ww + x;
        if (mode === "nearest") {
          out[o] = latent[(ch * h + 2 * y) * w + 2 * x]!;
          continue;
        }
        const j = (ch * h + 2 * y - (y % 2)) * w + 2 * x - (x % 2);
        out[o] =
          f(f(f(latent[j]! + latent[j + 2]!) + latent[j + 2 * w]!) + latent[j + 2 * w + 2]!) *
          0.5;
      }
    }
  }
  return out;
}
export type DownsampleMode = "nearest" | "box";

/** Ids (0, row, col) of a raster token grid, `[n, 3]`. */
export function gridIds(rows: number, cols: number): Float32Array {
  const ids = new Float32Array(rows * cols * 3);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      ids[(r * cols + c) * 3 + 1] = r;
      ids[(r * cols + c) * 3 + 2] = c;
    }
  }
  return ids;
}

/**
 * 2x2 average pooling of [C, H, W] (how Bottleneck Sampling goes down a resolution);
 * CPU reference of shaders/downsample.wgsl's mode 2.
 */
export function avgPool2x(latent: Float32Array, c: number, h: number, w: number): Float32Array {
  const hh = h / 2, ww = w / 2;
  const out = new Float32Array(c * hh * ww);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < hh; y++) {
      for (let x = 0; x < ww; x++) {
        const at = (dy: number, dx: number) => latent[(ch * h + 2 * y + dy) * w + 2 * x + dx]!;
        const f = Math.fround;
        out[(ch * hh + y) * ww + x] = f(f(f(at(0, 0) + at(0, 1)) + f(at(1, 0) + at(1, 1))) * 0.25);
      }
    }
  }
  return out;
}

/**
 * Nearest 2x upsampling of [C, H, W] → [C, 2H, 2W] in latent-pixel space: pixel (y, x)
 * fills (2y + a, 2x + b). The inverse of {@link avgPool2x} on a constant 2x2 block; CPU
 * reference of shaders/upsample.wgsl.
 */
export function upsample2x(latent: Float32Array, c: number, h: number, w: number): Float32Array {
  const H = 2 * h, W = 2 * w;
  const out = new Float32Array(c * H * W);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        out[(ch * H + y) * W + x] = latent[(ch * h + (y >> 1)) * w + (x >> 1)]!;
      }
    }
  }
  return out;
}
