/**
 * `bottleneck`: Bottleneck Sampling (Tian et al. 2025) — high → low → high resolution.
 * At each change the clean estimate is resized in latent-pixel space (2x2 mean down,
 * nearest up), then put back at the noise level the previous stage ended on; each stage
 * has its own shifted schedule, the low stage the shift its 4x fewer tokens call for
 * (h0 · sqrt(1/4), resolution-dependent shifting).
 *
 * Noise at a change: `"fresh"` draws new Gaussian noise; `"anchored"` re-uses the seed's
 * own noise at that resolution (the seed's noise at full resolution; its 2x2 sums / 2 —
 * unit variance — at half), so the run is compared like for like with anchored RALU.
 * Presets: 4x → N [2, 8, 6], 7x → [1, 5, 4], stage ends t = 0.1 and 0.6 (custom: `N`,
 * `e`; `token_steps` scales N to a budget).
 *
 * @example
 * ```ts ignore
 * import { sampleBottleneck } from "./bottleneck.ts";
 * await sampleBottleneck(ctx, { method: "bottleneck", preset: "4x" }, manifest);
 * ```
 */
import type { Acceleration } from "../config/image_request.ts";
import type { Manifest } from "../config/manifest.ts";
import { HttpError } from "../http/errors.ts";
import { shiftedSigmas } from "../schedule/flow_match.ts";
import { fitSteps } from "../schedule/budget.ts";
import { gaussian } from "../kernels/philox_cpu.ts";
import { avgPool2x, gridIds, pack, unpack } from "../kernels/pack_cpu.ts";
import type { Handle } from "./backend.ts";
import { denoise, initialNoise, newCost } from "./denoise.ts";
import type { SamplerContext, SamplerResult } from "./types.ts";

export const BOTTLENECK_PRESETS: Record<string, { N: number[]; e: number[] }> = {
  "4x": { N: [2, 8, 6], e: [0.1, 0.6, 1] },
  "7x": { N: [1, 5, 4], e: [0.1, 0.6, 1] },
};

/** Philox streams of the fresh noise drawn at the two resolution changes. */
const DOWN_STREAM = 11, UP_STREAM = 12;

/** Steps and stage ends of a request: preset or custom, fitted to a token-step budget. */
export function bottleneckPlan(
  acc: Acceleration,
  fullTokens: number,
): { N: number[]; e: number[] } {
  const preset = BOTTLENECK_PRESETS[acc.preset ?? "4x"];
  const N = acc.N ?? preset?.N;
  const e = acc.e ?? preset?.e;
  if (!N || !e) {
    throw new HttpError(
      400,
      `unknown bottleneck preset "${acc.preset}"; use 4x, 7x or N and e`,
      "acceleration.preset",
    );
  }
  const tokens = [fullTokens, fullTokens / 4, fullTokens];
  return { N: acc.token_steps ? fitSteps(N, tokens, acc.token_steps) : N, e };
}

export async function sampleBottleneck(
  ctx: SamplerContext,
  acc: Acceleration,
  _m: Manifest,
): Promise<SamplerResult> {
  const be = ctx.backend;
  const { channels: c, height: H, width: W } = ctx.shape;
  const h = H / 2, w = W / 2;
  const full = (H / 2) * (W / 2), low = full / 4;
  const { N, e } = bottleneckPlan(acc, full);
  const h0 = ctx.baseShift, hLow = Math.max(1, h0 / 2);
  const anchored = acc.noise === "anchored";
  const seedNoise = initialNoise(ctx);
  const cost = newCost();
  const fullGrid = (x0: Float32Array) => ({ latent: unpack(x0, c, H, W), height: H, width: W });
  const lowGrid = (x0: Float32Array) => ({ latent: unpack(x0, c, h, w), height: h, width: w });
  /** The clean estimate `[C, hh, ww]` of a stage's end, as latent pixels. */
  const clean = (s: { x: Handle; lastV: Handle }, sigma: number, hh: number, ww: number) =>
    be.unpack(be.cleanEstimate(s.x, s.lastV, sigma), c, hh, ww);

  // 1. High resolution: the composition is laid out at full size
  const idsFull = gridIds(H / 2, W / 2);
  ctx.emit({ type: "stage", stage: 1, tokens: full, resolution: `${W}x${H}` });
  const sA = shiftedSigmas(1, 1 - e[0]!, N[0]!, h0);
  const a = await denoise(
    ctx,
    be.upload(pack(seedNoise, c, H, W), "latent"),
    idsFull,
    sA,
    1,
    cost,
    fullGrid,
  );

  // 2. Down: 2x2 means of the clean estimate, re-noised, low resolution with a smaller shift
  const sigA = sA.at(-1)!;
  const lowNoise = anchored
    ? avgPool2x(seedNoise, c, H, W).map((v) => 2 * v)
    : gaussian(ctx.seed, DOWN_STREAM, 0, c * h * w);
  const x0Low = be.pack(be.meanPool2x(clean(a, sigA, H, W), c, H, W), c, h, w);
  const xLow = be.renoise(x0Low, be.upload(pack(lowNoise, c, h, w), "noise"), sigA);
  const idsLow = gridIds(h / 2, w / 2);
  ctx.emit({ type: "stage", stage: 2, tokens: low, resolution: `${w}x${h}` });
  const sB = shiftedSigmas(sigA, 1 - e[1]!, N[1]!, hLow);
  const b = await denoise(ctx, xLow, idsLow, sB, 2, cost, lowGrid, 2);

  // 3. Up: nearest 2x of the clean estimate, re-noised, finish at full resolution
  const sigB = sB.at(-1)!;
  const upNoise = anchored ? seedNoise : gaussian(ctx.seed, UP_STREAM, 0, c * H * W);
  const x0Full = be.pack(be.upsample2x(clean(b, sigB, h, w), c, h, w), c, H, W);
  const xFull = be.renoise(x0Full, be.upload(pack(upNoise, c, H, W), "noise"), sigB);
  ctx.emit({ type: "stage", stage: 3, tokens: full, resolution: `${W}x${H}` });
  const out = await denoise(
    ctx,
    xFull,
    idsFull,
    shiftedSigmas(sigB, 0, N[2]!, h0),
    3,
    cost,
    fullGrid,
  );
  return { latent: be.unpack(out.x, c, H, W), cost };
}
