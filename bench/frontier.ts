/**
 * Quality against cost: where an accelerated sampler sits relative to base sampling's
 * frontier (base-k for many k). Each accelerated row is set against the base-k of nearest
 * token-step cost, with a paired bootstrap interval over images for the difference.
 *
 * @example
 * ```ts
 * import { bootstrapMeanDiff, nearestByCost } from "./frontier.ts";
 * nearestByCost(2838, [{ name: "base-10", cost: 2560 }, { name: "base-12", cost: 3072 }]).name; // "base-12"
 * bootstrapMeanDiff([1, 1, 0, 1], [1, 0, 0, 1]).mean; // 0.25
 * ```
 */
import { prng } from "./scenes.ts";

export function nearestByCost<T extends { cost: number }>(cost: number, rows: T[]): T {
  let best = rows[0]!;
  for (const r of rows) if (Math.abs(r.cost - cost) < Math.abs(best.cost - cost)) best = r;
  return best;
}

export interface Interval {
  mean: number;
  lo: number;
  hi: number;
}

/**
 * Mean of `a[i] - b[i]` over images (pairs where either is not finite are left out, e.g.
 * PSNR of an image identical to the reference) and its percentile bootstrap interval,
 * resampling images with replacement.
 */
export function bootstrapMeanDiff(
  a: number[],
  b: number[],
  level = 0.95,
  resamples = 2000,
  seed = 7,
): Interval {
  const d = a.map((v, i) => v - b[i]!).filter(Number.isFinite);
  if (d.length === 0) return { mean: NaN, lo: NaN, hi: NaN };
  const mean = d.reduce((s, v) => s + v, 0) / d.length;
  const rand = prng(seed);
  const means = Float64Array.from({ length: resamples }, () => {
    let s = 0;
    for (let i = 0; i < d.length; i++) s += d[Math.floor(rand() * d.length)]!;
    return s / d.length;
  }).sort();
  const q = (p: number) => means[Math.min(resamples - 1, Math.max(0, Math.floor(p * resamples)))]!;
  return { mean, lo: q((1 - level) / 2), hi: q(1 - (1 - level) / 2) };
}

/** "above" / "below" base's frontier where the interval excludes 0, else "level". */
export function verdict(i: Interval): "above" | "below" | "level" {
  return i.lo > 0 ? "above" : i.hi < 0 ? "below" : "level";
}
