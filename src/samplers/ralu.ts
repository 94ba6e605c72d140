/**
 * `ralu`: region-adaptive latent upsampling in three stages (RALU.md §2).
 *
 *   1. low resolution: the seed's full-resolution noise, every second row and column;
 *   2. mixed resolution: decode the clean estimate, Canny, upsample the top-r edge tokens
 *      (4 copies with fractional ids), inject correlated noise;
 *   3. full resolution: upsample the rest, ids x2, raster order, inject noise, finish.
 *
 * Timesteps come from NT-matching; the kernels (edges, top-k, repacking, noise) run
 * through `KernelOps`, on the GPU when there is one, else their CPU references.
 *
 * @example
 * ```ts ignore
 * import { sampleRalu } from "./ralu.ts";
 * const { latent, cost } = await sampleRalu(ctx, { method: "ralu", preset: "7x" }, manifest);
 * ```
 */
import type { Acceleration } from "../config/image_request.ts";
import type { Manifest } from "../config/manifest.ts";
import { stagePlan } from "../schedule/stages.ts";
import { downsample2x, gridIds, pack, unpack } from "../kernels/pack_cpu.ts";
import { cleanEstimate } from "../kernels/euler_cpu.ts";
import { cpuOps, type KernelOps } from "../kernels/ops.ts";
import { expandStage3 } from "../kernels/repack_cpu.ts";
import { denoiseStage, initialNoise, newCost } from "./base.ts";
import { resolveRalu } from "./ralu_params.ts";
import type { SamplerContext, SamplerResult } from "./types.ts";

export async function sampleRalu(
  ctx: SamplerContext,
  acc: Acceleration,
  manifest: Manifest,
  ops: KernelOps = ctx.ops ?? cpuOps,
): Promise<SamplerResult> {
  const p = resolveRalu(acc, manifest);
  const { channels: c, height: H, width: W } = ctx.shape;
  const dim = 4 * c;
  const h = H / 2, w = W / 2; // latent size at low resolution
  const plan = stagePlan(p.N, p.e, p.h, p.Z);
  const cost = newCost();
  const timed = async <T>(f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      cost.overheadMs += performance.now() - t0;
    }
  };
  const lowPreview = (x0: Float32Array) => ({ latent: unpack(x0, c, h, w), height: h, width: w });

  // 1. Stage 1 — low resolution, from the same noise a base run would use
  let x = pack(downsample2x(initialNoise(ctx), c, H, W), c, h, w);
  let ids = gridIds(h / 2, w / 2);
  ctx.emit({ type: "stage", stage: 1, tokens: ids.length / 3, resolution: `${w}x${h}` });
  const s1 = await denoiseStage(ctx, x, ids, plan.sigmas[0]!, 1, cost, lowPreview);
  x = s1.x;

  // 2. Stage 2 — edge tokens go to full resolution early
  const sigmaEnd1 = plan.sigmas[0]!.at(-1)!;
  const x0 = cleanEstimate(x, s1.lastV!, sigmaEnd1);
  const tDecode = performance.now();
  const image = await ctx.decode(unpack(x0, c, h, w), h, w);
  cost.decodeMs += performance.now() - tDecode;
  const f = ctx.tokenFootprintPx;
  const imgW = w * (f / 2), imgH = h * (f / 2);
  const lowTokens = ids.length / 3;
  const k = Math.floor(lowTokens * p.r);
  const s2 = await timed(async () => {
    const edges = await ops.canny(image, imgW, imgH, p.gray);
    const scores = await ops.edgeScores(edges, imgW, imgH, f);
    const mask = await ops.topk(scores, k);
    const rep = await ops.repackStage2(x, ids, mask, dim);
    const b = plan.boundaries[0]!;
    await ops.injectNoise(rep.tokens, rep.groups, dim, noiseParams(ctx.seed, 1, b, p));
    return { edges, mask, rep };
  });
  ctx.emit({
    type: "edge_mask",
    width: imgW,
    height: imgH,
    mask: s2.edges.map((v) => v * 255),
    selected: k,
  });
  ctx.emit({ type: "stage", stage: 2, tokens: s2.rep.count, resolution: "mixed" });
  const st2 = await denoiseStage(
    ctx,
    s2.rep.tokens,
    s2.rep.ids,
    plan.sigmas[1]!,
    2,
    cost,
    // a mixed sequence previews at full resolution: scatter it like stage 3 would
    (mixed) => ({
      latent: unpack(
        expandStage3(mixed, s2.rep.ids, s2.rep.lowCount, dim, W / 2, H / 2).tokens,
        c,
        H,
        W,
      ),
      height: H,
      width: W,
    }),
  );

  // 3. Stage 3 — everything at full resolution, raster order
  const s3 = await timed(async () => {
    const rep = await ops.expandStage3(st2.x, s2.rep.ids, s2.rep.lowCount, dim, W / 2, H / 2);
    await ops.injectNoise(
      rep.tokens,
      rep.groups,
      dim,
      noiseParams(ctx.seed, 2, plan.boundaries[1]!, p),
    );
    return rep;
  });
  ids = s3.ids;
  ctx.emit({ type: "stage", stage: 3, tokens: s3.count, resolution: `${W}x${H}` });
  const st3 = await denoiseStage(ctx, s3.tokens, ids, plan.sigmas[2]!, 3, cost, (xx) => ({
    latent: unpack(xx, c, H, W),
    height: H,
    width: W,
  }));
  return { latent: unpack(st3.x, c, H, W), cost };
}

function noiseParams(
  seed: number,
  boundary: number,
  b: { beta: number; alpha: number },
  p: { Z: number; exactNoise: boolean },
) {
  return {
    seed,
    boundary,
    beta: b.beta,
    alpha: b.alpha,
    c: 1 / (p.Z * p.Z),
    exactScale: p.exactNoise ? Math.sqrt(p.Z * p.Z - 1) / p.Z : 1,
  };
}
