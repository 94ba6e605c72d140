/**
 * RALU's three-stage plan: per-stage times and sigmas, and the noise/latent scales at each
 * resolution change (RALU.md §2). Times `t` run 0 (noise) → 1 (data).
 *
 * @example
 * ```ts
 * import { stagePlan } from "./stages.ts";
 * const plan = stagePlan([5, 6, 7], [0.3, 0.45, 1], [5.019, 2.589, 2.226], 6.317);
 * plan.boundaries[0]!.beta; // latent scale at the first upsampling
 * ```
 */
import { shiftedSigmas } from "./flow_match.ts";

export interface Boundary {
  /** End time of the stage before the boundary. */
  e: number;
  /** Start time of the stage after it (< e: the jump goes back toward noise). */
  s: number;
  /** Latent scale `1 / D`. */
  beta: number;
  /** Noise scale `Z (1 - e) / D = 1 - s`. */
  alpha: number;
}

export interface StagePlan {
  /** Start time of each stage. */
  starts: number[];
  /** End time of each stage. */
  ends: number[];
  /** Sigmas of each stage (N_k + 1 values). */
  sigmas: Float64Array[];
  boundaries: Boundary[];
}

export function boundary(e: number, Z: number): Boundary {
  const D = Z * (1 - e) + e;
  return { e, s: e / D, beta: 1 / D, alpha: (Z * (1 - e)) / D };
}

/**
 * The lowest start time of stage 3 a shipped preset may have. Below it the run re-enters
 * stage 3 from over 95% fresh noise and keeps almost nothing of its low-resolution work:
 * a short base run in disguise, whatever its score.
 */
export const MIN_STAGE3_START = 0.05;

/** Start time of the last stage: s = e / (Z (1 - e) + e) at the last boundary. */
export function lastStageStart(e: number[], Z: number): number {
  return boundary(e[e.length - 2]!, Z).s;
}

export function stagePlan(N: number[], e: number[], h: number[], Z: number): StagePlan {
  const starts = [0];
  const boundaries: Boundary[] = [];
  for (let k = 0; k < N.length - 1; k++) {
    const b = boundary(e[k]!, Z);
    boundaries.push(b);
    starts.push(b.s);
  }
  const sigmas = N.map((n, k) => shiftedSigmas(1 - starts[k]!, 1 - e[k]!, n, h[k]!));
  return { starts, ends: [...e], sigmas, boundaries };
}
