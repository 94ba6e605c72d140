/**
 * `base`: one stage at full resolution, Euler steps over the model's shifted schedule.
 *
 * @example
 * ```ts ignore
 * import { sampleBase } from "./base.ts";
 * const { latent, cost } = await sampleBase(ctx, {});
 * ```
 */
import { baseSigmas } from "../schedule/flow_match.ts";
import { gaussian } from "../kernels/philox_cpu.ts";
import { cleanEstimate, eulerStep } from "../kernels/euler_cpu.ts";
import { downsample2x, gridIds, pack, unpack } from "../kernels/pack_cpu.ts";
import type { RaluParams } from "./ralu_params.ts";
import {
  checkCancelled,
  type Cost,
  type PreviewGrid,
  type SamplerContext,
  type SamplerResult,
} from "./types.ts";

/** The seed's full-resolution noise `[C, H, W]`: every sampler starts from these numbers. */
export function initialNoise(ctx: SamplerContext): Float32Array {
  const { channels, height, width } = ctx.shape;
  return gaussian(ctx.seed, 0, 0, channels * height * width);
}

/**
 * Stage 1's tokens for the low-resolution samplers (ralu, naive): the seed's noise at half
 * resolution — every second row and column ("fresh"), or box sums / 2 over the 4 tokens
 * each low-resolution token becomes ("anchored"; pack_cpu.ts).
 */
export function lowResNoise(
  ctx: SamplerContext,
  noise: RaluParams["noise"],
  seedNoise: Float32Array = initialNoise(ctx),
): Float32Array {
  const { channels: c, height: H, width: W } = ctx.shape;
  const mode = noise === "anchored" ? "box" : "nearest";
  return pack(downsample2x(seedNoise, c, H, W, mode), c, H / 2, W / 2);
}

export function newCost(): Cost {
  return { tokensPerStep: [], tokenSteps: 0, evaluations: 0, overheadMs: 0, decodeMs: 0 };
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
  previewGrid: PreviewGrid,
): Promise<{ x: Float32Array; lastV: Float32Array | undefined }> {
  if (ctx.device) return await denoiseStageOnDevice(ctx, x, ids, sigmas, stage, cost, previewGrid);
  const n = ids.length / 3;
  let lastV: Float32Array | undefined;
  for (let i = 0; i + 1 < sigmas.length; i++) {
    await checkCancelled(ctx.signal);
    const sigma = sigmas[i]!;
    const v = await ctx.velocity(x, ids, sigma);
    countStep(ctx, cost, n);
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

function countStep(ctx: SamplerContext, cost: Cost, n: number): void {
  cost.tokensPerStep.push(n);
  cost.tokenSteps += n * ctx.evalsPerStep;
  cost.evaluations += ctx.evalsPerStep;
}

/**
 * The same loop with the latent in a GPU buffer: the DiT reads and writes ORT's device
 * memory and the Euler update runs in shaders/euler.wgsl. The latent crosses to the CPU
 * only for a preview and once at the end of the stage (with the last velocity).
 */
async function denoiseStageOnDevice(
  ctx: SamplerContext,
  x: Float32Array,
  ids: Float32Array,
  sigmas: Float64Array,
  stage: number,
  cost: Cost,
  previewGrid: PreviewGrid,
): Promise<{ x: Float32Array; lastV: Float32Array | undefined }> {
  const { gpu } = ctx.device!;
  const xb = gpu.uploadBuffer(x, "latent");
  let lastV: GPUBuffer | undefined;
  try {
    lastV = (await denoiseOnDevice(ctx, xb, ids, sigmas, stage, cost, previewGrid)).lastV;
    return {
      x: await gpu.readBuffer(xb, x.length),
      lastV: lastV ? await gpu.readBuffer(lastV, x.length) : undefined,
    };
  } finally {
    gpu.releaseBuffer(xb); // also when cancelled mid-stage
    if (lastV) gpu.releaseBuffer(lastV);
  }
}

/**
 * Euler steps on a latent that stays in the GPU buffer `x` (updated in place). Returns the
 * last velocity as a pooled buffer the caller releases; nothing is read back but previews.
 * On failure (cancellation included) `x` stays the caller's and the velocity is released.
 */
export async function denoiseOnDevice(
  ctx: SamplerContext,
  x: GPUBuffer,
  ids: Float32Array,
  sigmas: Float64Array,
  stage: number,
  cost: Cost,
  previewGrid: PreviewGrid,
): Promise<{ lastV: GPUBuffer | undefined }> {
  const { gpu, velocity } = ctx.device!;
  const n = ids.length / 3;
  const count = 4 * ctx.shape.channels * n;
  let lastV: GPUBuffer | undefined;
  try {
    for (let i = 0; i + 1 < sigmas.length; i++) {
      await checkCancelled(ctx.signal);
      const sigma = sigmas[i]!;
      const v = await velocity(x, ids, sigma);
      countStep(ctx, cost, n);
      let preview = () => previewGrid(new Float32Array(count));
      if (ctx.previewEvery && (i + 1) % ctx.previewEvery === 0) {
        const x0b = gpu.cleanEstimateOnDevice(x, v, sigma, count);
        const x0 = await gpu.readBuffer(x0b, count);
        gpu.releaseBuffer(x0b);
        preview = () => previewGrid(x0);
      }
      ctx.emit({
        type: "step",
        stage,
        step: i + 1,
        total: sigmas.length - 1,
        sigma,
        tokens: n,
        preview,
      });
      gpu.eulerOnDevice(x, v, sigmas[i + 1]! - sigma, count);
      if (lastV) gpu.releaseBuffer(lastV);
      lastV = v;
    }
    return { lastV };
  } catch (e) {
    if (lastV) gpu.releaseBuffer(lastV);
    throw e;
  }
}

export async function sampleBase(
  ctx: SamplerContext,
  _options: Record<string, never> = {},
): Promise<SamplerResult> {
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
