/**
 * What SD3's DiT needs from a run that FLUX's does not: the three encoders' outputs joined
 * into one conditioning, tokens in SD3's lane order, and absolute (row, col) positions in its
 * sin-cos table for every token RALU feeds it — low-resolution cells, their fractional copies
 * and the full grid.
 *
 * @example
 * ```ts
 * import { sd3Positions } from "./sd3.ts";
 * // a 2 x 2 full grid in a 4-wide table: centre-cropped at (1, 1)
 * sd3Positions(Float32Array.of(0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1), 1, { rows: 2, cols: 2 }, { max: 4, low: "half" });
 * // Float32Array [1, 1, 1, 2, 2, 1, 2, 2]
 * ```
 */
import type { Manifest } from "../config/manifest.ts";

/** One CLIP's output for a prompt: `[77, width]` penultimate hidden states, projected pooled. */
export interface ClipPart {
  hidden: Float32Array;
  width: number;
  pooled: Float32Array;
}

/**
 * SD3's conditioning as diffusers builds it: CLIP-L and CLIP-G side by side over their 77
 * rows, zero-padded to the joint width `dim`, then T5's rows (zeros, 77 rows, without T5);
 * pooled = both projections side by side.
 */
export function joinSd3(
  clips: [ClipPart, ClipPart],
  t5: Float32Array | undefined,
  dim: number,
  clipTokens: number,
): { text: Float32Array; pooled: Float32Array } {
  const t5Rows = t5 ? t5.length / dim : clipTokens;
  const text = new Float32Array((clipTokens + t5Rows) * dim);
  for (let r = 0; r < clipTokens; r++) {
    let col = 0;
    for (const c of clips) {
      text.set(c.hidden.subarray(r * c.width, (r + 1) * c.width), r * dim + col);
      col += c.width;
    }
  }
  if (t5) text.set(t5, clipTokens * dim);
  const pooled = new Float32Array(clips[0].pooled.length + clips[1].pooled.length);
  pooled.set(clips[0].pooled);
  pooled.set(clips[1].pooled, clips[0].pooled.length);
  return { text, pooled };
}

/**
 * (row, col) in the table's index space of each token with ids `[n, 3]` (0, row, col).
 * `unit` is how many full-resolution tokens one id step spans: 1 on the full grid (base, RALU's
 * stage 3), 2 on RALU's low-resolution grid (stages 1 and 2, copies at half steps). `grid` is
 * the full-resolution token grid of the run; the offset centres it (or the half-size grid) in
 * the `max`-wide table as diffusers crops it.
 */
export function sd3Positions(
  ids: Float32Array,
  unit: number,
  grid: { rows: number; cols: number },
  table: NonNullable<Manifest["positions"]>,
): Float32Array {
  const n = ids.length / 3;
  const low = unit === 2 && table.low === "half";
  const rows = low ? grid.rows / 2 : grid.rows, cols = low ? grid.cols / 2 : grid.cols;
  if (rows > table.max || cols > table.max) {
    throw new RangeError(
      `${rows} x ${cols} tokens exceed the ${table.max}-wide position table`,
    );
  }
  const scale = low ? 1 : unit;
  const top = Math.floor((table.max - rows) / 2), left = Math.floor((table.max - cols) / 2);
  const out = new Float32Array(2 * n);
  for (let t = 0; t < n; t++) {
    out[2 * t] = top + scale * ids[3 * t + 1]!;
    out[2 * t + 1] = left + scale * ids[3 * t + 2]!;
  }
  return out;
}

/**
 * Tokens `[n, 4C]` from our lane order (c, dy, dx) to SD3's (dy, dx, c), or back with
 * `inverse`.
 */
export function reorderLanes(x: Float32Array, c: number, inverse = false): Float32Array {
  const dim = 4 * c;
  const out = new Float32Array(x.length);
  for (let base = 0; base < x.length; base += dim) {
    for (let ch = 0; ch < c; ch++) {
      for (let q = 0; q < 4; q++) {
        const ours = base + ch * 4 + q, theirs = base + q * c + ch;
        if (inverse) out[ours] = x[theirs]!;
        else out[theirs] = x[ours]!;
      }
    }
  }
  return out;
}
