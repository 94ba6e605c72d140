/**
 * Step counts for a token-step budget: scales a multi-stage plan's `N` so that
 * sum_k N_k T_k (T_k = image tokens per step of stage k) comes as close to `budget` as
 * integer steps allow, keeping the stages' proportions as far as that permits. This is
 * how an accelerated sampler is run at the same cost as the row it is compared with.
 *
 * @example
 * ```ts
 * import { fitSteps } from "./budget.ts";
 * fitSteps([11, 7], [64, 256], 2838); // [12, 8]: 2816 token-steps
 * ```
 */

export function stageCost(N: number[], tokens: number[]): number {
  return N.reduce((a, n, k) => a + n * tokens[k]!, 0);
}

export function fitSteps(N: number[], tokens: number[], budget: number): number[] {
  if (!(budget > 0)) throw new RangeError(`token-step budget must be positive, got ${budget}`);
  const ideal = budget / stageCost(N, tokens);
  let best = N.map(() => 1);
  let bestKey = [Infinity, Infinity];
  const consider = (cand: number[]) => {
    if (cand.some((n) => n < 1)) return;
    const miss = Math.abs(stageCost(cand, tokens) - budget);
    const skew = cand.reduce((a, n, k) => a + Math.abs(n - ideal * N[k]!), 0);
    if (miss < bestKey[0]! || (miss === bestKey[0] && skew < bestKey[1]!)) {
      best = cand;
      bestKey = [miss, skew];
    }
  };
  for (let l = ideal * 0.5; l <= ideal * 1.5 + 1e-9; l += ideal / 200) {
    const base = N.map((n) => Math.max(1, Math.round(l * n)));
    consider(base);
    // one stage a step more or less: integer steps rarely hit a budget by scaling alone
    for (let k = 0; k < N.length; k++) {
      for (const d of [-1, 1]) consider(base.map((n, j) => (j === k ? n + d : n)));
    }
  }
  return best;
}
