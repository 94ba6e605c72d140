/**
 * Flow-matching noise levels. `sigma = 1 - t`: 1 is pure noise, 0 is clean data.
 *
 * @example
 * ```ts
 * import { baseSigmas } from "./flow_match.ts";
 * const sigmas = baseSigmas(50, 3); // 51 values from 1 down to 0
 * ```
 */

/** Resolution shift: pushes sigmas toward noise for h > 1. */
export function shift(sigma: number, h: number): number {
  return (h * sigma) / (1 + (h - 1) * sigma);
}

/** Inverse of {@link shift}. */
export function inverseShift(s: number, h: number): number {
  return s / (h - (h - 1) * s);
}

/**
 * `steps + 1` sigmas from `from` to `to` (sigmas, from > to), evenly spaced in the
 * unshifted domain, then shifted by `h`.
 */
export function shiftedSigmas(from: number, to: number, steps: number, h: number): Float64Array {
  const a = inverseShift(from, h);
  const b = inverseShift(to, h);
  const out = new Float64Array(steps + 1);
  for (let i = 0; i <= steps; i++) out[i] = shift(a + ((b - a) * i) / steps, h);
  return out;
}

/** The one-stage schedule of the base sampler: sigma 1 → 0 in `steps` steps. */
export function baseSigmas(steps: number, h: number): Float64Array {
  return shiftedSigmas(1, 0, steps, h);
}
