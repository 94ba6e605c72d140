/**
 * `base`: one stage at full resolution, Euler steps over the model's shifted schedule.
 *
 * @example
 * ```ts ignore
 * import { sampleBase } from "./base.ts";
 * const { latent, cost } = await sampleBase(ctx);
 * ```
 */
import { baseSigmas } from "../schedule/flow_match.ts";
import { gridIds, pack, unpack } from "../kernels/pack_cpu.ts";
import { denoise, initialNoise, newCost } from "./denoise.ts";
import type { SamplerContext, SamplerResult } from "./types.ts";

export async function sampleBase(ctx: SamplerContext): Promise<SamplerResult> {
  const { channels: c, height: h, width: w } = ctx.shape;
  const be = ctx.backend;
  const cost = newCost();
  // 1. The seed's noise and ids on the full-resolution token grid
  const x = be.upload(pack(initialNoise(ctx), c, h, w), "latent");
  const ids = gridIds(h / 2, w / 2);
  // 2. Schedule
  const sigmas = baseSigmas(ctx.steps, ctx.baseShift);
  ctx.emit({ type: "stage", stage: 1, tokens: ids.length / 3, resolution: `${w}x${h}` });
  // 3. Denoising loop
  await denoise(ctx, x, ids, sigmas, 1, cost, (x0) => ({
    latent: unpack(x0, c, h, w),
    height: h,
    width: w,
  }));
  return { latent: be.unpack(x, c, h, w), cost };
}
