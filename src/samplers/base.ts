/**
 * `base`: one stage at full resolution, Euler steps over the model's shifted schedule.
 *
 * @example
 * ```ts ignore
 * import { sampleBase } from "./src/samplers/base.ts";
 * const { latent, cost } = await sampleBase(ctx, {});
 * ```
 */
import { baseSigmas } from "../schedule/flow_match.ts";
import { gaussian } from "../kernels/philox_cpu.ts";
import { cleanEstimate, eulerStep } from "../kernels/euler_cpu.ts";
import { gridIds, pack, unpack } from "../kernels/pack_cpu.ts";
import { checkCancelled, type Cost, type SamplerContext, type SamplerResult } from "./types.ts";

/** The seed's full-resolution noise `[C, H, W]`: every sampler starts from these numbers. */
export function initialNoise(ctx: SamplerContext): Float32Array {
  const { channels, height, width } = ctx.shape;
  return gaussian(ctx.seed, 0, 0, channels * height * width);
}

export function newCost(): Cost {
  return { tokensPerStep: [], tokenSteps: 0, evaluations: 0, overheadMs: 0 };
}

/**
 * Euler steps through `sigmas` on a token sequence; shared by every sampler's stages.
 * `grid` gives the latent size when the sequence is a raster grid (for previews).
 */
export async function denoiseStage(
  ctx: SamplerContext,
  x: Float32Array,
  ids: Float32Array,
  sigmas: Float64Array,
  stage: number,
  cost: Cost,
  previewGrid: (x0: Float32Array) => { latent: Float32Array; height: number; width: number },
): Promise<{ x: Float32Array; lastV: Float32Array | undefined }> {
  const n = ids.length / 3;
  let lastV: Float32Array | undefined;
  for (let i = 0; i + 1 < sigmas.length; i++) {
    await checkCancelled(ctx.signal);
    const sigma = sigmas[i]!;
    const v = await ctx.velocity(x, ids, sigma);
    cost.tokensPerStep.push(n);
    cost.tokenSteps += n * ctx.evalsPerStep;
    cost.evaluations += ctx.evalsPerStep;
    const before = x;
    ctx.emit({
      type: "step",
      stage,
      step: i + 1,
      total: sigmas.length - 1,
      sigma,
      tokens: n,
      preview: () => previewGrid(cleanEstimate(before, v, sigma)),
    });
    x = eulerStep(x.slice(), v, sigmas[i + 1]! - sigma);
    lastV = v;
  }
  return { x, lastV };
}

export async function sampleBase(ctx: SamplerContext, _options: Record<string, never> = {}): Promise<SamplerResult> {
  const { channels: c, height: h, width: w } = ctx.shape;
  const cost = newCost();
  // 1. Noise and ids on the full-resolution token grid
  const x = pack(initialNoise(ctx), c, h, w);
  const ids = gridIds(h / 2, w / 2);
  // 2. Schedule
  const sigmas = baseSigmas(ctx.steps, ctx.baseShift);
  ctx.emit({ type: "stage", stage: 1, tokens: ids.length / 3, resolution: `${w}x${h}` });
  // 3. Denoising loop
  const out = await denoiseStage(ctx, x, ids, sigmas, 1, cost, (x0) => ({
    latent: unpack(x0, c, h, w),
    height: h,
    width: w,
  }));
  return { latent: unpack(out.x, c, h, w), cost };
}
