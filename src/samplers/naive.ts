/**
 * `naive`: the baseline RALU improves on. Low resolution until `t_up`, then every token
 * is upsampled (4 token copies, nearest) and the run continues at full resolution — no
 * noise injection, no timestep matching, the base shift throughout. Steps: N1 + N2 low,
 * N3 high. Its own default `t_up` per preset is where RALU as published leaves its
 * low-resolution stages (e2 = 0.45 for 4x, 0.3 for 7x), not a stage end tuned for RALU.
 *
 * @example
 * ```ts ignore
 * import { sampleNaive } from "./naive.ts";
 * await sampleNaive(ctx, { method: "naive", preset: "4x" }, manifest);
 * ```
 */
import type { Acceleration } from "../config/image_request.ts";
import type { Manifest } from "../config/manifest.ts";
import { HttpError } from "../http/errors.ts";
import { shiftedSigmas } from "../schedule/flow_match.ts";
import { fitSteps } from "../schedule/budget.ts";
import { gridIds, unpack } from "../kernels/pack_cpu.ts";
import { denoise, lowResNoise, newCost, timed } from "./denoise.ts";
import type { SamplerContext, SamplerResult } from "./types.ts";

/** Steps at low / full resolution and the upsampling time of each preset. */
export const NAIVE_PRESETS: Record<string, { N: [number, number]; t_up: number }> = {
  "4x": { N: [11, 7], t_up: 0.45 },
  "7x": { N: [5, 5], t_up: 0.3 },
};

/** Steps (low, full) and upsampling time of a request: preset or custom, fitted to a budget. */
export function naivePlan(acc: Acceleration, fullTokens: number): { N: number[]; tUp: number } {
  const preset = NAIVE_PRESETS[acc.preset ?? "4x"];
  if (!preset && !(acc.N && acc.t_up)) {
    throw new HttpError(
      400,
      `unknown naive preset "${acc.preset}"; use 4x, 7x or N and t_up`,
      "acceleration.preset",
    );
  }
  let N = acc.N ? [acc.N[0]! + acc.N[1]!, acc.N[2]!] : [...preset!.N];
  if (acc.token_steps) N = fitSteps(N, [fullTokens / 4, fullTokens], acc.token_steps);
  return { N, tUp: acc.t_up ?? preset!.t_up };
}

export async function sampleNaive(
  ctx: SamplerContext,
  acc: Acceleration,
  _m: Manifest,
): Promise<SamplerResult> {
  const be = ctx.backend;
  const { channels: c, height: H, width: W } = ctx.shape;
  const h = H / 2, w = W / 2;
  const low = (H / 4) * (W / 4), full = (H / 2) * (W / 2);
  const { N, tUp } = naivePlan(acc, full);
  const h0 = ctx.baseShift;
  const cost = newCost();

  // 1. Low resolution from the seed's noise
  const ids = gridIds(h / 2, w / 2);
  ctx.emit({ type: "stage", stage: 1, tokens: low, resolution: `${w}x${h}` });
  const x = be.upload(lowResNoise(ctx, acc.noise ?? "fresh"), "latent");
  const s1 = await denoise(ctx, x, ids, shiftedSigmas(1, 1 - tUp, N[0]!, h0), 1, cost, (x0) => ({
    latent: unpack(x0, c, h, w),
    height: h,
    width: w,
  }), 2);

  // 2. Upsample everything (nearest), nothing else, and finish at full resolution
  const up = await timed(
    cost,
    "overheadMs",
    () => be.expandStage3(s1.x, ids, low, 4 * c, W / 2, H / 2),
  );
  ctx.emit({ type: "stage", stage: 2, tokens: up.count, resolution: `${W}x${H}` });
  const s2 = await denoise(
    ctx,
    up.tokens,
    up.ids,
    shiftedSigmas(1 - tUp, 0, N[1]!, h0),
    2,
    cost,
    (x0) => ({
      latent: unpack(x0, c, H, W),
      height: H,
      width: W,
    }),
  );
  return { latent: be.unpack(s2.x, c, H, W), cost };
}
