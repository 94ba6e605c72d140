/**
 * What every sampler shares: the seed's noise, the cost record, and the Euler loop of one
 * stage — written once over the run's {@link Backend}, so it runs on CPU arrays or on
 * device buffers alike.
 *
 * @example
 * ```ts ignore
 * import { denoise, initialNoise, newCost } from "./denoise.ts";
 * const x = ctx.backend.upload(pack(initialNoise(ctx), c, h, w), "latent");
 * const { lastV } = await denoise(ctx, x, ids, sigmas, 1, cost, grid);
 * ```
 */
import { gaussian } from "../kernels/philox_cpu.ts";
import { downsample2x, pack } from "../kernels/pack_cpu.ts";
import type { Handle } from "./backend.ts";
import { checkCancelled, type Cost, type PreviewGrid, type SamplerContext } from "./types.ts";
import { computesStep, StageCache } from "./taylor_cache.ts";
import { TeaStageCache } from "./tea_cache.ts";

export type NoiseMode = "fresh" | "anchored";

/** The seed's full-resolution noise `[C, H, W]`: every sampler starts from these numbers. */
export function initialNoise(ctx: Pick<SamplerContext, "shape" | "seed">): Float32Array {
  const { channels, height, width } = ctx.shape;
  return gaussian(ctx.seed, 0, 0, channels * height * width);
}

/**
 * Stage 1's tokens for the samplers that start at half resolution with RALU's token
 * copies (ralu, naive): every second row and column of the seed's noise ("fresh"), or box
 * sums / 2 over the 4 tokens each low-resolution token becomes ("anchored"; pack_cpu.ts).
 */
export function lowResNoise(
  ctx: Pick<SamplerContext, "shape" | "seed">,
  noise: NoiseMode,
  seedNoise: Float32Array = initialNoise(ctx),
): Float32Array {
  const { channels: c, height: H, width: W } = ctx.shape;
  const mode = noise === "anchored" ? "box" : "nearest";
  return pack(downsample2x(seedNoise, c, H, W, mode), c, H / 2, W / 2);
}

export function newCost(): Cost {
  return {
    steps: 0,
    cachedSteps: 0,
    tokensPerStep: [],
    tokenSteps: 0,
    evaluations: 0,
    overheadMs: 0,
    decodeMs: 0,
  };
}

/** Runs `fn`, adding its time to `cost[into]` (RALU's own work, or its extra decode). */
export async function timed<T>(
  cost: Cost,
  into: "overheadMs" | "decodeMs",
  fn: () => Promise<T>,
): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    cost[into] += performance.now() - t0;
  }
}

/**
 * Euler steps through `sigmas` on the token sequence `x` (updated in place). Returns the
 * last velocity (the next stage's clean estimate needs it). The latent is read back only
 * for a preview, every `ctx.previewEvery` steps of the whole run (not on its last step)
 * while someone reads them (`ctx.observed`);
 * `grid` lays a clean estimate out as a `[C, h, w]` latent for it. `unit`: full-resolution
 * tokens one step of `ids` spans (2 on a low-resolution grid; SD3's positions need it).
 */
export async function denoise(
  ctx: SamplerContext,
  x: Handle,
  ids: Float32Array,
  sigmas: Float64Array,
  stage: number,
  cost: Cost,
  grid: PreviewGrid,
  unit = 1,
): Promise<{ x: Handle; lastV: Handle }> {
  const be = ctx.backend;
  const n = ids.length / 3;
  // with caching, a fresh cache per stage: tokens and their places change at a boundary
  const c = ctx.cache;
  const taylor = c?.method === "taylorseer" ? new StageCache(be, c) : undefined;
  const tea = c?.method === "teacache" ? new TeaStageCache(be, c, ctx.indicator!) : undefined;
  const steps = sigmas.length - 1;
  let lastV: Handle | undefined;
  try {
    for (let i = 0; i + 1 < sigmas.length; i++) {
      await checkCancelled(ctx.signal);
      const sigma = sigmas[i]!;
      const computed = taylor
        ? computesStep(taylor.settings, i)
        : tea
        ? await tea.computes(i, steps, x, sigma)
        : true;
      const v = computed
        ? await be.velocity(x, ids, sigma, unit)
        : taylor
        ? taylor.predict(sigma)
        : tea!.predict();
      cost.steps++;
      if (computed) {
        cost.tokensPerStep.push(n);
        cost.tokenSteps += n * ctx.evalsPerStep;
        cost.evaluations += ctx.evalsPerStep;
        taylor?.remember(sigma, v);
        tea?.remember(v);
      } else cost.cachedSteps++;
      // counted over the run's steps, not the stage's; the last step's is the final image
      const runStep = cost.steps;
      const wantPreview = !!ctx.previewEvery && runStep % ctx.previewEvery === 0 &&
        runStep !== ctx.totalSteps && (ctx.observed ?? true);
      let preview: ReturnType<PreviewGrid> | undefined;
      if (wantPreview) {
        const x0 = be.cleanEstimate(x, v, sigma);
        preview = grid(await be.read(x0));
        be.free(x0);
      }
      ctx.emit({
        type: "step",
        stage,
        step: i + 1,
        total: sigmas.length - 1,
        sigma,
        tokens: n,
        ...(computed ? {} : { cached: true }),
        ...(preview ? { preview } : {}),
      });
      be.euler(x, v, sigmas[i + 1]! - sigma);
      be.free(lastV);
      lastV = v;
    }
  } finally {
    taylor?.release();
    tea?.release();
  }
  if (!lastV) throw new RangeError(`stage ${stage} has no steps`);
  return { x, lastV };
}
