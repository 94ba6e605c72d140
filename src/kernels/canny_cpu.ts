/**
 * Gray conversion, Canny edges and per-token edge counts: the CPU reference of
 * shaders/gray.wgsl, shaders/canny_*.wgsl and shaders/edge_score.wgsl. Integer
 * arithmetic throughout (as OpenCV does on 8-bit images), so GPU and CPU agree exactly.
 *
 * Canny follows OpenCV's defaults: 3x3 Sobel with replicated borders, L1 magnitude,
 * non-maximum suppression in four directions (tan 22.5° sectors, ties broken the same
 * way as OpenCV), double threshold (weak > low, strong > high) and hysteresis over the
 * 8-neighbourhood, run to a fixed point.
 *
 * @example
 * ```ts
 * import { canny } from "./canny_cpu.ts";
 * const gray = new Uint8Array(16 * 16).map((_, i) => (i % 16 < 8 ? 0 : 255));
 * const edges = canny(gray, 16, 16, 100, 200); // 1 on the vertical step
 * ```
 */

export type GrayMode = "ours" | "clip";

/** Gray level of 8-bit RGB: OpenCV's fixed-point BT.601 weights (0.299, 0.587, 0.114 in Q14). */
export function grayLevel(r: number, g: number, b: number): number {
  return (r * 4899 + g * 9617 + b * 1868 + 8192) >> 14;
}

/**
 * RGB planar `[3, H, W]` in [-1, 1] → gray levels 0..255. "ours" maps each channel to
 * 0..255, rounds, then takes OpenCV's fixed-point gray. "clip" is the authors' formula
 * exactly: BT.601 weights on the raw floats, the gray value clipped to [0, 1], times 255,
 * truncated (float32 steps, as shaders/gray.wgsl).
 */
export function grayFromDecoded(
  chw: Float32Array,
  width: number,
  height: number,
  mode: GrayMode = "ours",
): Uint8Array {
  const n = width * height;
  const out = new Uint8Array(n);
  const f = Math.fround;
  // float32 steps and floor(x + 0.5), exactly as shaders/gray.wgsl computes them
  const roundF = (x: number) => Math.max(0, Math.min(255, Math.floor(f(x + 0.5))));
  const level = (v: number) => roundF(f(f(v + 1) * 127.5));
  const [wr, wg, wb] = [f(0.299), f(0.587), f(0.114)];
  for (let p = 0; p < n; p++) {
    const r = chw[p]!, g = chw[n + p]!, b = chw[2 * n + p]!;
    if (mode === "clip") {
      const y = f(f(f(wr * r) + f(wg * g)) + f(wb * b));
      out[p] = Math.floor(f(Math.min(1, Math.max(0, y)) * 255));
    } else {
      out[p] = grayLevel(level(r), level(g), level(b));
    }
  }
  return out;
}

/** Sobel dx, dy (replicated border) and L1 magnitude. */
export function sobel(
  gray: Uint8Array,
  w: number,
  h: number,
): { dx: Int32Array; dy: Int32Array; mag: Int32Array } {
  const dx = new Int32Array(w * h), dy = new Int32Array(w * h), mag = new Int32Array(w * h);
  const at = (x: number, y: number) =>
    gray[Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))]!;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const gx = at(x + 1, y - 1) + 2 * at(x + 1, y) + at(x + 1, y + 1) - at(x - 1, y - 1) -
        2 * at(x - 1, y) - at(x - 1, y + 1);
      const gy = at(x - 1, y + 1) + 2 * at(x, y + 1) + at(x + 1, y + 1) - at(x - 1, y - 1) -
        2 * at(x, y - 1) - at(x + 1, y - 1);
      const i = y * w + x;
      dx[i] = gx;
      dy[i] = gy;
      mag[i] = Math.abs(gx) + Math.abs(gy);
    }
  }
  return { dx, dy, mag };
}

const SHIFT = 15;
const TG22 = 13573; // tan(22.5°) in Q15

/**
 * Non-maximum suppression + double threshold: 2 = strong edge, 1 = weak candidate, 0 = none.
 * Magnitudes outside the image count as 0.
 */
export function classify(
  dx: Int32Array,
  dy: Int32Array,
  mag: Int32Array,
  w: number,
  h: number,
  low: number,
  high: number,
): Uint8Array {
  const out = new Uint8Array(w * h);
  const m = (x: number, y: number) => (x < 0 || y < 0 || x >= w || y >= h ? 0 : mag[y * w + x]!);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const v = mag[i]!;
      if (v <= low) continue;
      const xs = Math.abs(dx[i]!);
      const ys = Math.abs(dy[i]!) * 2 ** SHIFT;
      const tg22x = xs * TG22;
      let peak: boolean;
      if (ys < tg22x) {
        peak = v > m(x - 1, y) && v >= m(x + 1, y);
      } else {
        const tg67x = tg22x + xs * 2 ** (SHIFT + 1);
        if (ys > tg67x) {
          peak = v > m(x, y - 1) && v >= m(x, y + 1);
        } else {
          const s = (dx[i]! < 0) !== (dy[i]! < 0) ? -1 : 1;
          peak = v > m(x - s, y - 1) && v > m(x + s, y + 1);
        }
      }
      if (peak) out[i] = v > high ? 2 : 1;
    }
  }
  return out;
}

/** Hysteresis: weak pixels 8-connected to a strong one become strong, to a fixed point. */
export function hysteresis(cls: Uint8Array, w: number, h: number): Uint8Array {
  const out = cls.slice();
  const stack: number[] = [];
  for (let i = 0; i < out.length; i++) if (out[i] === 2) stack.push(i);
  while (stack.length) {
    const i = stack.pop()!;
    const x = i % w, y = (i - x) / w;
    for (let oy = -1; oy <= 1; oy++) {
      for (let ox = -1; ox <= 1; ox++) {
        const nx = x + ox, ny = y + oy;
        if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
        const j = ny * w + nx;
        if (out[j] === 1) {
          out[j] = 2;
          stack.push(j);
        }
      }
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = out[i] === 2 ? 1 : 0;
  return out;
}

/** Canny edge map (1 = edge) of gray levels. */
export function canny(gray: Uint8Array, w: number, h: number, low = 100, high = 200): Uint8Array {
  const { dx, dy, mag } = sobel(gray, w, h);
  return hysteresis(classify(dx, dy, mag, w, h, low, high), w, h);
}

/** Edge pixels per token: the token grid is (h / fp) x (w / fp), raster order. */
export function edgeScores(edges: Uint8Array, w: number, h: number, fp: number): Uint32Array {
  const tw = w / fp, th = h / fp;
  const out = new Uint32Array(tw * th);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      out[Math.floor(y / fp) * tw + Math.floor(x / fp)]! += edges[y * w + x]!;
    }
  }
  return out;
}
