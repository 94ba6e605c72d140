/**
 * `ralu`: region-adaptive latent upsampling in three stages (RALU.md §2).
 *
 *   1. low resolution: the seed's full-resolution noise, every second row and column;
 *   2. mixed resolution: decode the clean estimate, Canny, upsample the top-r edge tokens
 *      (4 copies with fractional ids), inject correlated noise;
 *   3. full resolution: upsample the rest, ids x2, raster order, inject noise, finish.
 *
 * With `noise: "anchored"` stage 1 takes box sums / 2 of the noise over the 4 tokens each
 * low-resolution token becomes (base.ts lowResNoise), and at
 * each boundary the injected `g` of every token is the seed's own noise at its place (a
 * token still at low resolution at boundary 1: its stage-1 noise). The latent already
 * holds (1 - e)/D = alpha/Z of that same noise, so the injection is scaled to complete
 * it rather than add to it: c = (Z - 1)/Z² (group mean coefficient -2/Z) for copies and
 * (Z - 1)/Z for the rest. If the latent's noise is the seed's, each token then lands on
 * exactly s x0 + (1 - s) (seed noise) — where the base run of the same seed would be.
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
import { gridIds, pack, unpack } from "../kernels/pack_cpu.ts";
import { cleanEstimate } from "../kernels/euler_cpu.ts";
import { cpuOps, type KernelOps } from "../kernels/ops.ts";
import { expandStage3 } from "../kernels/repack_cpu.ts";
import type { Anchor } from "../kernels/noise_cpu.ts";
import { denoiseOnDevice, denoiseStage, initialNoise, lowResNoise, newCost } from "./base.ts";
import { type RaluParams, resolveRalu } from "./ralu_params.ts";
import type { PreviewGrid, SamplerContext, SamplerResult } from "./types.ts";

export async function sampleRalu(
  ctx: SamplerContext,
  acc: Acceleration,
  manifest: Manifest,
  ops: KernelOps = ctx.ops ?? cpuOps,
): Promise<SamplerResult> {
  const run = planRun(ctx, acc, manifest);
  return ctx.device ? await raluOnDevice(ctx, run) : await raluOnArrays(ctx, run, ops);
}

/** What both paths share: the plan, the sizes, the cost record and the event helpers. */
function planRun(ctx: SamplerContext, acc: Acceleration, manifest: Manifest) {
  const p = resolveRalu(acc, manifest);
  const { channels: c, height: H, width: W } = ctx.shape;
  const h = H / 2, w = W / 2; // latent size at low resolution
  const f = ctx.tokenFootprintPx;
  const lowTokens = (h / 2) * (w / 2);
  const cost = newCost();
  const plan = stagePlan(p.N, p.e, p.h, p.Z);
  const anchored = p.noise === "anchored";
  const seedNoise = initialNoise(ctx);
  const stage1Noise = lowResNoise(ctx, p.noise, seedNoise);
  const fullTokens = (H / 2) * (W / 2);
  const lowCols = w / 2, fullCols = W / 2;
  return {
    p,
    c,
    H,
    W,
    h,
    w,
    dim: 4 * c,
    plan,
    cost,
    lowTokens,
    /** Tokens upsampled at stage 2. */
    k: Math.floor(lowTokens * p.r),
    /** The decoded low-resolution image's size, in pixels. */
    imgW: w * (f / 2),
    imgH: h * (f / 2),
    footprint: f,
    /** Times `fn` into `cost.overheadMs` (RALU's own work) or `cost.decodeMs`. */
    async timed<T>(into: "overheadMs" | "decodeMs", fn: () => Promise<T>): Promise<T> {
      const t0 = performance.now();
      try {
        return await fn();
      } finally {
        cost[into] += performance.now() - t0;
      }
    },
    lowPreview: ((x0) => ({ latent: unpack(x0, c, h, w), height: h, width: w })) as PreviewGrid,
    /** A mixed sequence previews at full resolution: scattered as stage 3 would. */
    mixedPreview: (ids: Float32Array, lowCount: number): PreviewGrid => (mixed) => ({
      latent: unpack(expandStage3(mixed, ids, lowCount, 4 * c, W / 2, H / 2).tokens, c, H, W),
      height: H,
      width: W,
    }),
    fullPreview: ((x) => ({ latent: unpack(x, c, H, W), height: H, width: W })) as PreviewGrid,
    /** Stage 1's tokens (a copy: the anchored mode reads the original again later). */
    stage1Noise: () => stage1Noise.slice(),
    /** Anchored mode: the seed's full-resolution noise tokens, then the stage-1 tokens. */
    anchorValues: anchored
      ? () => {
        const v = new Float32Array((fullTokens + lowTokens) * 4 * c);
        v.set(pack(seedNoise, c, H, W));
        v.set(stage1Noise, fullTokens * 4 * c);
        return v;
      }
      : undefined,
    /** Boundary 1: where each stage-2 token takes its anchored noise. */
    anchorOf1: (ids: Float32Array, lowCount: number) =>
      anchorPlaces(ids, lowCount, fullCols, lowCols, fullTokens),
    /** Boundary 2 (raster order): every token → the seed's noise at its place. */
    anchorOf2: () => Int32Array.from({ length: fullTokens }, (_, i) => i),
    /** Correlated-noise parameters at stage boundary 1 or 2. */
    noise: (boundary: 1 | 2) => noiseParams(ctx.seed, boundary, plan.boundaries[boundary - 1]!, p),
  };
}
type Run = ReturnType<typeof planRun>;

/**
 * Anchored noise at boundary 1: index into [seed noise tokens (full grid, raster) ..,
 * stage-1 tokens (low grid) ..] for each stage-2 token. The first `lowCount` tokens are
 * still at low resolution and take their stage-1 noise; a copy at id (i + a/2, j + b/2)
 * takes its full-resolution place (2i + a, 2j + b).
 */
export function anchorPlaces(
  ids: Float32Array,
  lowCount: number,
  fullCols: number,
  lowCols: number,
  fullTokens: number,
): Int32Array {
  const of = new Int32Array(ids.length / 3);
  for (let t = 0; t < of.length; t++) {
    const row = ids[t * 3 + 1]!, col = ids[t * 3 + 2]!;
    of[t] = t < lowCount ? fullTokens + row * lowCols + col : 2 * row * fullCols + 2 * col;
  }
  return of;
}

function emitStage2(ctx: SamplerContext, r: Run, edges: Uint8Array, tokens: number): void {
  ctx.emit({
    type: "edge_mask",
    width: r.imgW,
    height: r.imgH,
    mask: edges.map((v) => v * 255),
    selected: r.k,
  });
  ctx.emit({ type: "stage", stage: 2, tokens, resolution: "mixed" });
}

/** The CPU-array path (wasm EP): kernels through `ops`, on a GPU adapter or the CPU. */
async function raluOnArrays(ctx: SamplerContext, r: Run, ops: KernelOps): Promise<SamplerResult> {
  const { c, H, W, h, w, dim, plan, cost } = r;
  // 1. Stage 1 — low resolution, from the same noise a base run would use
  let ids = gridIds(h / 2, w / 2);
  ctx.emit({ type: "stage", stage: 1, tokens: r.lowTokens, resolution: `${w}x${h}` });
  const s1 = await denoiseStage(ctx, r.stage1Noise(), ids, plan.sigmas[0]!, 1, cost, r.lowPreview);

  // 2. Stage 2 — edge tokens go to full resolution early
  const x0 = cleanEstimate(s1.x, s1.lastV!, plan.sigmas[0]!.at(-1)!);
  const image = await r.timed("decodeMs", () => ctx.decode(unpack(x0, c, h, w), h, w));
  const s2 = await r.timed("overheadMs", async () => {
    const edges = await ops.canny(image, r.imgW, r.imgH, r.p.gray);
    const scores = await ops.edgeScores(edges, r.imgW, r.imgH, r.footprint);
    const mask = await ops.topk(scores, r.k);
    const rep = await ops.repackStage2(s1.x, ids, mask, dim);
    const anchor = r.anchorValues &&
      { values: r.anchorValues(), of: r.anchorOf1(rep.ids, rep.lowCount) };
    await ops.injectNoise(rep.tokens, rep.groups, dim, r.noise(1), anchor);
    return { edges, rep, anchor };
  });
  emitStage2(ctx, r, s2.edges, s2.rep.count);
  const { rep } = s2;
  const st2 = await denoiseStage(
    ctx,
    rep.tokens,
    rep.ids,
    plan.sigmas[1]!,
    2,
    cost,
    r.mixedPreview(rep.ids, rep.lowCount),
  );

  // 3. Stage 3 — everything at full resolution, raster order
  const s3 = await r.timed("overheadMs", async () => {
    const full = await ops.expandStage3(st2.x, rep.ids, rep.lowCount, dim, W / 2, H / 2);
    const anchor: Anchor | undefined = s2.anchor &&
      { values: s2.anchor.values, of: r.anchorOf2() };
    await ops.injectNoise(full.tokens, full.groups, dim, r.noise(2), anchor);
    return full;
  });
  ids = s3.ids;
  ctx.emit({ type: "stage", stage: 3, tokens: s3.count, resolution: `${W}x${H}` });
  const st3 = await denoiseStage(ctx, s3.tokens, ids, plan.sigmas[2]!, 3, cost, r.fullPreview);
  return { latent: unpack(st3.x, c, H, W), cost };
}

/**
 * The WebGPU EP path: the latent lives in GPU buffers from the first step to the last —
 * the stage-2 decode, Canny, top-k, repacking and noise all run on ORT's device. What
 * crosses to the CPU: previews, the edge map (an SSE event), the new token ids (the DiT's
 * `img_ids` feed) and the final latent.
 */
async function raluOnDevice(ctx: SamplerContext, r: Run): Promise<SamplerResult> {
  const { gpu, decode } = ctx.device!;
  const { c, H, W, h, w, dim, plan, cost } = r;
  const held: GPUBuffer[] = [];
  const own = (...bufs: (GPUBuffer | undefined)[]) => {
    for (const b of bufs) if (b) held.push(b);
  };
  /** Denoises stage `n` in place on `x`; returns its last velocity (held until the end). */
  const stage = async (n: 1 | 2 | 3, x: GPUBuffer, ids: Float32Array, preview: PreviewGrid) => {
    const { lastV } = await denoiseOnDevice(ctx, x, ids, plan.sigmas[n - 1]!, n, cost, preview);
    own(lastV);
    return lastV;
  };
  try {
    // 1. Stage 1
    const ids1 = gridIds(h / 2, w / 2);
    const x1 = gpu.uploadBuffer(r.stage1Noise(), "latent");
    own(x1);
    ctx.emit({ type: "stage", stage: 1, tokens: r.lowTokens, resolution: `${w}x${h}` });
    const lastV1 = await stage(1, x1, ids1, r.lowPreview);

    // 2. Stage 2
    const x0 = gpu.cleanEstimateOnDevice(x1, lastV1!, plan.sigmas[0]!.at(-1)!, r.lowTokens * dim);
    const latent = gpu.unpackOnDevice(x0, c, h, w);
    own(x0, latent);
    const image = await r.timed("decodeMs", () => decode(latent, h, w));
    own(image);
    const s2 = await r.timed("overheadMs", async () => {
      const cls = await gpu.cannyOnDevice(image, r.imgW, r.imgH, r.p.gray);
      const scores = gpu.edgeScoresOnDevice(cls, r.imgW, r.imgH, r.footprint);
      const mask = gpu.topkOnDevice(scores, r.lowTokens, r.k);
      const idsb = gpu.uploadBuffer(ids1, "ids");
      own(cls, scores, mask, idsb);
      const rep = gpu.repackStage2OnDevice(x1, idsb, mask, r.lowTokens, r.k, dim);
      own(rep.tokens, rep.ids, rep.groups);
      const ids = await gpu.readBuffer(rep.ids, rep.count * 3);
      const values = r.anchorValues && gpu.uploadBuffer(r.anchorValues(), "anchor");
      const anchor = values &&
        { values, of: gpu.uploadBuffer(r.anchorOf1(ids, rep.lowCount), "anchor of") };
      own(anchor?.values, anchor?.of);
      gpu.injectNoiseOnDevice(rep.tokens, rep.groups, rep.count, dim, r.noise(1), anchor);
      const edges = await gpu.readEdges(cls, r.imgW * r.imgH);
      return { edges, rep, ids, values };
    });
    emitStage2(ctx, r, s2.edges, s2.rep.count);
    await stage(2, s2.rep.tokens, s2.ids, r.mixedPreview(s2.ids, s2.rep.lowCount));

    // 3. Stage 3
    const s3 = await r.timed("overheadMs", async () => {
      const { tokens, ids, count, lowCount } = s2.rep;
      const full = gpu.expandStage3OnDevice(tokens, ids, count, lowCount, dim, W / 2, H / 2);
      own(full.tokens, full.ids, full.groups);
      const values = s2.values;
      const anchor = values &&
        { values, of: gpu.uploadBuffer(r.anchorOf2(), "anchor of") };
      own(anchor?.of);
      gpu.injectNoiseOnDevice(full.tokens, full.groups, full.count, dim, r.noise(2), anchor);
      return { full, ids: await gpu.readBuffer(full.ids, full.count * 3) };
    });
    ctx.emit({ type: "stage", stage: 3, tokens: s3.full.count, resolution: `${W}x${H}` });
    await stage(3, s3.full.tokens, s3.ids, r.fullPreview);
    const x = await gpu.readBuffer(s3.full.tokens, s3.full.count * dim);
    return { latent: unpack(x, c, H, W), cost };
  } finally {
    for (const b of held) gpu.releaseBuffer(b);
  }
}

export function noiseParams(
  seed: number,
  boundary: number,
  b: { beta: number; alpha: number },
  p: Pick<RaluParams, "Z" | "exactNoise" | "noise">,
) {
  return {
    seed,
    boundary,
    beta: b.beta,
    alpha: b.alpha,
    // anchored: complete the alpha/Z of the seed's noise the latent holds (see the top)
    c: p.noise === "anchored" ? (p.Z - 1) / (p.Z * p.Z) : 1 / (p.Z * p.Z),
    exactScale: p.noise === "anchored"
      ? (p.Z - 1) / p.Z
      : p.exactNoise
      ? Math.sqrt(p.Z * p.Z - 1) / p.Z
      : 1,
  };
}
