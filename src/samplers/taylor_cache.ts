/**
 * TaylorSeer-style temporal caching inside one stage: which steps run the DiT, and the
 * velocity of the others extrapolated in sigma from the last computed ones. A stage starts
 * with an empty cache (token counts and positions change at a RALU boundary), so no
 * prediction ever reaches across one.
 *
 * The extrapolation of order k through the last k + 1 computed (sigma, v) is the Taylor
 * expansion whose derivatives are their finite differences — written as its Lagrange
 * weights, so a prediction is one weighted sum of velocities (exact for velocities that are
 * polynomials of degree ≤ k in sigma).
 *
 * @example
 * ```ts
 * import { lagrangeWeights } from "./taylor_cache.ts";
 * lagrangeWeights([1, 0.9], 0.8); // [-1, 2]: v(0.8) = 2 v(0.9) - v(1) on a line
 * ```
 */
import type { TaylorSeerSettings } from "../config/image_request.ts";
import type { Backend, Handle } from "./backend.ts";

/** Weights w with p(t) = Σ w_i p(ts_i) for every polynomial p of degree < ts.length. */
export function lagrangeWeights(ts: number[], t: number): number[] {
  return ts.map((ti, i) => ts.reduce((w, tj, j) => (j === i ? w : (w * (t - tj)) / (ti - tj)), 1));
}

/** Whether step `i` (0-based within its stage) runs the DiT. */
export function computesStep(c: TaylorSeerSettings, i: number): boolean {
  return i < c.warmup || (i - c.warmup + 1) % c.interval === 0;
}

/** One stage's cache: the last order + 1 computed velocities (owned copies). */
export class StageCache {
  readonly #points: { sigma: number; v: Handle }[] = [];

  constructor(private readonly be: Backend, readonly settings: TaylorSeerSettings) {}

  /** Keeps a copy of a computed velocity (the DiT's own output may be reused by it). */
  remember(sigma: number, v: Handle): void {
    this.#points.push({ sigma, v: this.be.combine([v], [1]) });
    if (this.#points.length > this.settings.order + 1) this.be.free(this.#points.shift()!.v);
  }

  /** The extrapolated velocity at `sigma`, a new handle. */
  predict(sigma: number): Handle {
    const w = lagrangeWeights(this.#points.map((p) => p.sigma), sigma);
    return this.be.combine(this.#points.map((p) => p.v), w);
  }

  release(): void {
    for (const p of this.#points.splice(0)) this.be.free(p.v);
  }
}
