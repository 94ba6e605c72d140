/**
 * Analytic cost of a run: linear layers scale with tokens, attention with tokens squared
 * (RALU.md §5), so a run's cost is a sum over its network evaluations.
 *
 * @example
 * ```ts
 * import { stepFlops } from "./cost.ts";
 * stepFlops(256, 40, { hidden: 128, depth: 5, mlp_ratio: 4 });
 * ```
 */
import type { Cost } from "../samplers/types.ts";

export interface Architecture {
  hidden: number;
  depth: number;
  mlp_ratio: number;
}

/** FLOPs of one DiT evaluation with `n` image and `m` text tokens (multiply-add = 2). */
export function stepFlops(n: number, m: number, a: Architecture): number {
  const t = n + m;
  const d = a.hidden;
  // qkv + out projection (4 d^2) + MLP (2 ratio d^2) + adaLN, per token
  const linear = 2 * t * (4 + 2 * a.mlp_ratio) * d * d;
  // scores and weighted sum: 2 matmuls of t x t x d
  const attention = 2 * 2 * t * t * d;
  return a.depth * (linear + attention);
}

export interface CostReport {
  /** Image tokens of each step that ran the network. */
  image_tokens_per_step: number[];
  token_steps: number;
  /** Network evaluations run (x 2 under classifier-free guidance). */
  evaluations: number;
  /** Steps run in all, and of those the ones whose velocity came from the cache. */
  steps: number;
  cached_steps: number;
  flops: number;
  base: { steps: number; token_steps: number; flops: number };
  speedup_token_steps: number;
  speedup_flops: number;
}

export function costReport(
  cost: Cost,
  evalsPerStep: number,
  textTokens: number,
  arch: Architecture,
  baseSteps: number,
  fullTokens: number,
): CostReport {
  const flops = cost.tokensPerStep.reduce(
    (s, n) => s + evalsPerStep * stepFlops(n, textTokens, arch),
    0,
  );
  const baseTokenSteps = baseSteps * fullTokens * evalsPerStep;
  const baseFlops = baseSteps * evalsPerStep * stepFlops(fullTokens, textTokens, arch);
  return {
    image_tokens_per_step: cost.tokensPerStep,
    token_steps: cost.tokenSteps,
    evaluations: cost.evaluations,
    steps: cost.steps,
    cached_steps: cost.cachedSteps,
    flops,
    base: { steps: baseSteps, token_steps: baseTokenSteps, flops: baseFlops },
    speedup_token_steps: baseTokenSteps / cost.tokenSteps,
    speedup_flops: baseFlops / flops,
  };
}
