/**
 * Correlated noise injection at a RALU boundary, CPU reference of shaders/noise.wgsl:
 * `x ← beta x + alpha n`. For the 4 copies of a token made at this boundary,
 * `n = g + (sqrt(1 - 4c) - 1) mean(g)` per lane, so Cov(n) = I - c 11ᵀ over the group and
 * the copies land on the right marginal; other tokens get independent noise (optionally
 * scaled by sqrt(Z² - 1)/Z for exact variance). `g` is the Philox stream `boundary`, or,
 * with an {@link Anchor}, the seed's own noise at each token's place (see ralu.ts).
 *
 * @example
 * ```ts
 * import { injectNoise } from "./noise_cpu.ts";
 * const x = new Float32Array(4 * 16);
 * const groups = new Int32Array(16).map((_, i) => i % 4); // one group of 4
 * injectNoise(x, groups, 16, { seed: 1, boundary: 1, beta: 0.2, alpha: 0.9, c: 0.02, exactScale: 1 });
 * ```
 */
import { gaussian } from "./philox_cpu.ts";

export interface NoiseParams {
  seed: number;
  boundary: number;
  beta: number;
  alpha: number;
  /** c = 1/Z²; must be ≤ 1/4. */
  c: number;
  /** Scale of independent noise: 1 (reference behaviour) or sqrt(Z² - 1)/Z. */
  exactScale: number;
}

/**
 * Anchored noise: token `t` takes `g` from `values[of[t] * dim ..]` instead of the Philox
 * stream when `of[t] >= 0`. RALU's "anchored" mode points a copy at the seed's
 * full-resolution noise for its place, so the run stays near the picture a base run of
 * the same seed draws; any iid N(0, 1) values keep the covariance `I - c 11ᵀ`.
 */
export interface Anchor<B = Float32Array, I = Int32Array> {
  values: B;
  of: I;
}

/** The group-mean coefficient `sqrt(1 - 4c) - 1`. */
export function groupCoefficient(c: number): number {
  if (c > 0.25) throw new RangeError(`correlated noise needs c <= 1/4 (Z >= 2), got c = ${c}`);
  return Math.sqrt(1 - 4 * c) - 1;
}

export function correlatedNoise(
  groups: Int32Array,
  dim: number,
  p: NoiseParams,
  anchor?: Anchor,
): Float32Array {
  const n = groups.length / 4;
  const g = gaussian(p.seed, p.boundary, 0, n * dim);
  if (anchor) {
    for (let t = 0; t < n; t++) {
      const a = anchor.of[t]!;
      if (a >= 0) g.set(anchor.values.subarray(a * dim, (a + 1) * dim), t * dim);
    }
  }
  const k = Math.fround(groupCoefficient(p.c));
  const out = new Float32Array(n * dim);
  for (let t = 0; t < n; t++) {
    const m0 = groups[t * 4]!;
    for (let l = 0; l < dim; l++) {
      const own = g[t * dim + l]!;
      if (m0 < 0) {
        out[t * dim + l] = Math.fround(own * Math.fround(p.exactScale));
        continue;
      }
      let sum = 0;
      for (let m = 0; m < 4; m++) sum = Math.fround(sum + g[groups[t * 4 + m]! * dim + l]!);
      out[t * dim + l] = Math.fround(own + Math.fround(k * Math.fround(sum * 0.25)));
    }
  }
  return out;
}

/** In place `x ← beta x + alpha n`. */
export function injectNoise(
  x: Float32Array,
  groups: Int32Array,
  dim: number,
  p: NoiseParams,
  anchor?: Anchor,
): Float32Array {
  const n = correlatedNoise(groups, dim, p, anchor);
  const b = Math.fround(p.beta), a = Math.fround(p.alpha);
  for (let i = 0; i < x.length; i++) {
    x[i] = Math.fround(Math.fround(b * x[i]!) + Math.fround(a * n[i]!));
  }
  return x;
}
