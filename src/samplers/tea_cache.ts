/**
 * TeaCache-style temporal caching inside one stage: before each step, how much the first
 * block's timestep-modulated input changed since the previous step (the model's indicator
 * graph, `rel_l1`), rescaled by a polynomial fitted per model to how much the DiT's output
 * changes, is added up; while the sum stays under the threshold the step reuses the last
 * computed velocity, and when it crosses the DiT runs and the sum restarts. A stage's first
 * and last steps always run the DiT, and a stage starts empty (token counts and positions
 * change at a RALU boundary), so nothing is reused across one.
 *
 * @example
 * ```ts
 * import { TeaState } from "./tea_cache.ts";
 * const s = new TeaState([1, 0], 0.25); // identity rescale
 * [0.1, 0.1, 0.1].map((rel) => s.decide(rel)); // [false, false, true]: 0.3 crosses 0.25
 * ```
 */
import type { TeaCacheSettings } from "../config/image_request.ts";
import type { Backend, Handle } from "./backend.ts";

/** The indicator: rel_l1 between the modulated inputs at (x, sigma) and (prev, prevSigma). */
export type Indicator = (
  x: Float32Array,
  sigma: number,
  prev: Float32Array,
  prevSigma: number,
) => Promise<number>;

/** A model's indicator and its rescale polynomial (coefficients, highest degree first). */
export interface TeaIndicator {
  run: Indicator;
  rescale: number[];
}

/** p(x) for coefficients highest degree first (numpy.polyval's order). */
export function polyval(coefficients: number[], x: number): number {
  return coefficients.reduce((acc, c) => acc * x + c, 0);
}

/** The accumulate-and-threshold rule, one decision per step after a stage's first. */
export class TeaState {
  #sum = 0;
  constructor(private readonly rescale: number[], private readonly threshold: number) {}

  /** Whether a step whose indicator is `rel` runs the DiT (and so restarts the sum). */
  decide(rel: number): boolean {
    this.#sum += Math.abs(polyval(this.rescale, rel));
    if (this.#sum < this.threshold) return false;
    this.#sum = 0;
    return true;
  }
}

/** One stage's TeaCache: the decision state, the previous step's latent, the last velocity. */
export class TeaStageCache {
  readonly #state: TeaState;
  #prev?: { x: Float32Array; sigma: number };
  #last: Handle | undefined;

  constructor(
    private readonly be: Backend,
    c: TeaCacheSettings,
    private readonly indicator: TeaIndicator,
  ) {
    this.#state = new TeaState(indicator.rescale, c.threshold);
  }

  /**
   * Whether step `i` of `steps` runs the DiT. Reads the latent to the host (one readback a
   * step on the GPU, but the last: the decision is the host's).
   */
  async computes(i: number, steps: number, x: Handle, sigma: number): Promise<boolean> {
    if (i === steps - 1) return true; // no later step compares with it
    const host = await this.be.read(x);
    const prev = this.#prev;
    this.#prev = { x: host, sigma };
    if (!prev || i === 0 || !this.#last) return true;
    return this.#state.decide(await this.indicator.run(host, sigma, prev.x, prev.sigma));
  }

  /** Keeps a copy of a computed velocity. */
  remember(v: Handle): void {
    this.be.free(this.#last);
    this.#last = this.be.combine([v], [1]);
  }

  /** The last computed velocity, as a new handle. */
  predict(): Handle {
    return this.be.combine([this.#last!], [1]);
  }

  release(): void {
    this.be.free(this.#last);
    this.#last = undefined;
  }
}
