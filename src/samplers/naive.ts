/**
 * `naive`: the baseline RALU improves on. Low resolution until `t_up`, then every token
 * is upsampled (nearest) and the run continues at full resolution — no noise injection,
 * no timestep matching, the base shift throughout. Steps: N1 + N2 low, N3 high.
 *
 * @example
 * ```ts ignore
 * import { sampleNaive } from "./naive.ts";
 * await sampleNaive(ctx, { method: "naive", preset: "4x" }, manifest);
 * ```
 */
import type { Acceleration } from "../config/image_request.ts";
import type { Manifest } from "../config/manifest.ts";
import { shiftedSigmas } from "../schedule/flow_match.ts";
import { gridIds, unpack } from "../kernels/pack_cpu.ts";
import { cpuOps } from "../kernels/ops.ts";
import { denoiseStage, lowResNoise, newCost } from "./base.ts";
import { resolveRalu } from "./ralu_params.ts";
import type { SamplerContext, SamplerResult } from "./types.ts";

export async function sampleNaive(
  ctx: SamplerContext,
  acc: Acceleration,
  manifest: Manifest,
): Promise<SamplerResult> {
  const p = resolveRalu({ ...acc, method: "ralu" }, manifest);
  const { channels: c, height: H, width: W } = ctx.shape;
  const h = H / 2, w = W / 2;
  const tUp = acc.t_up ?? p.e[1]!;
  const h0 = ctx.baseShift;
  const cost = newCost();

  // 1. Low resolution from the seed's noise
  const ids = gridIds(h / 2, w / 2);
  ctx.emit({ type: "stage", stage: 1, tokens: ids.length / 3, resolution: `${w}x${h}` });
  const low = await denoiseStage(
    ctx,
    lowResNoise(ctx, p.noise),
    ids,
    shiftedSigmas(1, 1 - tUp, p.N[0]! + p.N[1]!, h0),
    1,
    cost,
    (x0) => ({ latent: unpack(x0, c, h, w), height: h, width: w }),
  );

  // 2. Upsample everything (nearest), nothing else
  const t0 = performance.now();
  const up = await (ctx.ops ?? cpuOps).expandStage3(
    low.x,
    ids,
    ids.length / 3,
    4 * c,
    W / 2,
    H / 2,
  );
  cost.overheadMs += performance.now() - t0;
  ctx.emit({ type: "stage", stage: 2, tokens: up.count, resolution: `${W}x${H}` });
  const high = await denoiseStage(
    ctx,
    up.tokens,
    up.ids,
    shiftedSigmas(1 - tUp, 0, p.N[2]!, h0),
    2,
    cost,
    (x0) => ({ latent: unpack(x0, c, H, W), height: H, width: W }),
  );
  return { latent: unpack(high.x, c, H, W), cost };
}
