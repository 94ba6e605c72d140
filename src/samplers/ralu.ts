/**
 * `ralu`: region-adaptive latent upsampling in three stages (RALU.md §2), written once
 * over the run's backend (CPU arrays or GPU buffers).
 *
 *   1. low resolution: the seed's full-resolution noise, every second row and column;
 *   2. mixed resolution: decode the clean estimate, Canny, upsample the top-r edge tokens
 *      (4 copies with fractional ids), inject correlated noise;
 *   3. full resolution: upsample the rest, ids x2, raster order, inject noise, finish.
 *
 * With `noise: "anchored"` stage 1 takes box sums / 2 of the noise over the 4 tokens each
 * low-resolution token becomes (denoise.ts lowResNoise), and at each boundary the
 * injected `g` of every token is the seed's own noise at its place (a token still at low
 * resolution at boundary 1: its stage-1 noise). The latent already holds (1 - e)/D =
 * alpha/Z of that same noise, so the injection is scaled to complete it rather than add
 * to it: c = (Z - 1)/Z² (group mean coefficient -2/Z) for copies and (Z - 1)/Z for the
 * rest. If the latent's noise is the seed's, each token then lands on exactly
 * s x0 + (1 - s) (seed noise) — where the base run of the same seed would be.
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
import { expandStage3 } from "../kernels/repack_cpu.ts";
import { denoise, initialNoise, lowResNoise, newCost, timed } from "./denoise.ts";
import { type RaluParams, resolveRalu } from "./ralu_params.ts";
import type { Repacked } from "./backend.ts";
import type { PreviewGrid, SamplerContext, SamplerResult } from "./types.ts";

export async function sampleRalu(
  ctx: SamplerContext,
  acc: Acceleration,
  manifest: Manifest,
): Promise<SamplerResult> {
  const be = ctx.backend;
  const { channels: c, height: H, width: W } = ctx.shape;
  const h = H / 2, w = W / 2; // latent size at low resolution
  const dim = 4 * c, fp = ctx.tokenFootprintPx;
  const lowTokens = (h / 2) * (w / 2), fullTokens = (H / 2) * (W / 2);
  const p = resolveRalu(acc, manifest, fullTokens);
  const plan = stagePlan(p.N, p.e, p.h, p.Z);
  const k = Math.floor(lowTokens * p.r); // tokens upsampled at stage 2
  const imgW = w * (fp / 2), imgH = h * (fp / 2); // the decoded low-resolution image
  const cost = newCost();
  const seedNoise = initialNoise(ctx);
  const stage1Noise = lowResNoise(ctx, p.noise, seedNoise);
  // anchored: the seed's noise tokens (full grid, raster), then the stage-1 tokens
  const anchors = p.noise === "anchored"
    ? be.upload(concat(pack(seedNoise, c, H, W), stage1Noise), "anchor")
    : undefined;
  const lowGrid: PreviewGrid = (x0) => ({ latent: unpack(x0, c, h, w), height: h, width: w });
  const fullGrid: PreviewGrid = (x0) => ({ latent: unpack(x0, c, H, W), height: H, width: W });
  /** Correlated noise at a boundary; anchored runs take `g` from `anchors` at places `of()`. */
  const inject = (boundary: 1 | 2, r: Repacked, of: () => Int32Array) =>
    be.injectNoise(
      r.tokens,
      r,
      dim,
      noiseParams(ctx.seed, boundary, plan.boundaries[boundary - 1]!, p),
      anchors && { values: anchors, of: of() },
    );

  // 1. Stage 1 — low resolution, from the same noise a base run would use
  const ids1 = gridIds(h / 2, w / 2);
  ctx.emit({ type: "stage", stage: 1, tokens: lowTokens, resolution: `${w}x${h}` });
  const s1 = await denoise(
    ctx,
    be.upload(stage1Noise, "latent"),
    ids1,
    plan.sigmas[0]!,
    1,
    cost,
    lowGrid,
    2,
  );

  // 2. Stage 2 — edge tokens go to full resolution early
  const x0 = be.cleanEstimate(s1.x, s1.lastV, plan.sigmas[0]!.at(-1)!);
  const image = await timed(cost, "decodeMs", () => be.decode(be.unpack(x0, c, h, w), h, w));
  const { rep, cls } = await timed(cost, "overheadMs", async () => {
    const cls = await be.canny(image, imgW, imgH, p.gray);
    const mask = be.topk(be.edgeScores(cls, imgW, imgH, fp), lowTokens, k);
    const rep = await be.repackStage2(s1.x, ids1, mask, k, dim);
    inject(1, rep, () => anchorPlaces(rep.ids, rep.lowCount, W / 2, w / 2, fullTokens));
    return { rep, cls };
  });
  // the edge map crosses to the host only for someone who reads it
  if (ctx.observed ?? true) {
    const edges = await be.readEdges(cls, imgW * imgH);
    ctx.emit({
      type: "edge_mask",
      width: imgW,
      height: imgH,
      mask: edges.map((v) => v * 255),
      selected: k,
      // each selected token's first copy carries its own id (i, j)
      tokens: Array.from({ length: (rep.count - rep.lowCount) / 4 }, (_, q) => {
        const t = rep.lowCount + 4 * q;
        return rep.ids[t * 3 + 1]! * (w / 2) + rep.ids[t * 3 + 2]!;
      }),
      cols: w / 2,
      rows: h / 2,
    });
  }
  ctx.emit({ type: "stage", stage: 2, tokens: rep.count, resolution: "mixed" });
  // a mixed sequence previews at full resolution, scattered as stage 3 will
  const mixedGrid: PreviewGrid = (mixed) =>
    fullGrid(expandStage3(mixed, rep.ids, rep.lowCount, dim, W / 2, H / 2).tokens);
  const s2 = await denoise(ctx, rep.tokens, rep.ids, plan.sigmas[1]!, 2, cost, mixedGrid, 2);

  // 3. Stage 3 — everything at full resolution, raster order
  const full = await timed(cost, "overheadMs", async () => {
    const full = await be.expandStage3(s2.x, rep.ids, rep.lowCount, dim, W / 2, H / 2);
    inject(2, full, () => Int32Array.from({ length: fullTokens }, (_, i) => i)); // raster: its own place
    return full;
  });
  ctx.emit({ type: "stage", stage: 3, tokens: full.count, resolution: `${W}x${H}` });
  const s3 = await denoise(ctx, full.tokens, full.ids, plan.sigmas[2]!, 3, cost, fullGrid);
  return { latent: be.unpack(s3.x, c, H, W), cost };
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

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
