/**
 * `bottleneck`: Bottleneck Sampling (Tian et al. 2025) — high → low → high resolution.
 * At each change the clean estimate is resized (2x2 average down, nearest up) and noise is
 * re-introduced at the stage's start level; each stage has its own shifted schedule
 * (the low stage a smaller shift, as resolution-dependent shifting prescribes).
 *
 * Steps per preset are chosen to cost about what the RALU preset of the same name costs:
 * 4x → [2, 8, 6], 7x → [1, 5, 4]; stage ends at t = 0.1 and 0.6 (custom: `N`, `e`).
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
import { gaussian } from "../kernels/philox_cpu.ts";
import { cleanEstimate } from "../kernels/euler_cpu.ts";
import { avgPool2x, gridIds, pack, unpack } from "../kernels/pack_cpu.ts";
import { expandStage3 } from "../kernels/repack_cpu.ts";
import { denoiseStage, initialNoise, newCost } from "./base.ts";
import type { SamplerContext, SamplerResult } from "./types.ts";

const PRESETS: Record<string, { N: number[]; e: number[] }> = {
  "4x": { N: [2, 8, 6], e: [0.1, 0.6, 1] },
  "7x": { N: [1, 5, 4], e: [0.1, 0.6, 1] },
};

/** x_t = (1 - sigma) x0 + sigma n, with fresh noise from stream `stream`. */
function renoise(x0: Float32Array, sigma: number, seed: number, stream: number): Float32Array {
  const n = gaussian(seed, stream, 0, x0.length);
  return x0.map((v, i) => (1 - sigma) * v + sigma * n[i]!);
}

export async function sampleBottleneck(
  ctx: SamplerContext,
  acc: Acceleration,
  _m: Manifest,
): Promise<SamplerResult> {
  const preset = PRESETS[acc.preset ?? "4x"];
  const N = acc.N ?? preset?.N;
  const e = acc.e ?? preset?.e;
  if (!N || !e) {
    throw new HttpError(
      400,
      `unknown bottleneck preset "${acc.preset}"; use 4x, 7x or N and e`,
      "acceleration.preset",
    );
  }
  const { channels: c, height: H, width: W } = ctx.shape;
  const h = H / 2, w = W / 2;
  const h0 = ctx.baseShift, hLow = Math.max(1, h0 / 2);
  const cost = newCost();
  const full = (x0: Float32Array) => ({ latent: unpack(x0, c, H, W), height: H, width: W });
  const low = (x0: Float32Array) => ({ latent: unpack(x0, c, h, w), height: h, width: w });

  // 1. High resolution: the composition is laid out at full size
  const idsFull = gridIds(H / 2, W / 2);
  ctx.emit({ type: "stage", stage: 1, tokens: idsFull.length / 3, resolution: `${W}x${H}` });
  const sA = shiftedSigmas(1, 1 - e[0]!, N[0]!, h0);
  const a = await denoiseStage(ctx, pack(initialNoise(ctx), c, H, W), idsFull, sA, 1, cost, full);

  // 2. Down: average-pool the clean estimate, re-noise, low resolution with a smaller shift
  const sigA = sA.at(-1)!;
  const x0a = unpack(cleanEstimate(a.x, a.lastV!, sigA), c, H, W);
  const idsLow = gridIds(h / 2, w / 2);
  ctx.emit({ type: "stage", stage: 2, tokens: idsLow.length / 3, resolution: `${w}x${h}` });
  const xLow = renoise(pack(avgPool2x(x0a, c, H, W), c, h, w), sigA, ctx.seed, 11);
  const sB = shiftedSigmas(sigA, 1 - e[1]!, N[1]!, hLow);
  const b = await denoiseStage(ctx, xLow, idsLow, sB, 2, cost, low);

  // 3. Up: nearest-upsample the clean estimate, re-noise, finish at full resolution
  const sigB = sB.at(-1)!;
  const x0b = cleanEstimate(b.x, b.lastV!, sigB);
  const up = expandStage3(x0b, idsLow, idsLow.length / 3, 4 * c, W / 2, H / 2);
  ctx.emit({ type: "stage", stage: 3, tokens: up.count, resolution: `${W}x${H}` });
  const sC = shiftedSigmas(sigB, 0, N[2]!, h0);
  const out = await denoiseStage(
    ctx,
    renoise(up.tokens, sigB, ctx.seed, 12),
    up.ids,
    sC,
    3,
    cost,
    full,
  );
  return { latent: unpack(out.x, c, H, W), cost };
}
