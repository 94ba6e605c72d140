/**
 * Samplers by name, all with one signature; `acceleration.method` picks one.
 *
 * @example
 * ```ts ignore
 * import { samplerFor } from "./registry.ts";
 * const result = await samplerFor("ralu")(ctx, { method: "ralu", preset: "4x" }, manifest);
 * ```
 */
import type { Acceleration } from "../config/image_request.ts";
import type { Manifest } from "../config/manifest.ts";
import { HttpError } from "../http/errors.ts";
import { sampleBase } from "./base.ts";
import { bottleneckPlan, sampleBottleneck } from "./bottleneck.ts";
import { naivePlan, sampleNaive } from "./naive.ts";
import { sampleRalu } from "./ralu.ts";
import { resolveRalu } from "./ralu_params.ts";
import type { SamplerContext, SamplerResult } from "./types.ts";

export type AnySampler = (
  ctx: SamplerContext,
  acceleration: Acceleration,
  manifest: Manifest,
) => Promise<SamplerResult>;

const SAMPLERS: Record<Acceleration["method"], AnySampler> = {
  base: (ctx) => sampleBase(ctx),
  ralu: sampleRalu,
  naive: sampleNaive,
  bottleneck: sampleBottleneck,
};

export function samplerFor(name: string): AnySampler {
  const s = SAMPLERS[name as Acceleration["method"]];
  if (!s) {
    throw new HttpError(
      400,
      `acceleration method "${name}" is not available`,
      "acceleration.method",
    );
  }
  return s;
}

const sum = (N: number[]) => N.reduce((a, b) => a + b, 0);

/**
 * The denoising steps a run will make, from the same plans the samplers use (so a 400 for
 * a bad preset comes before the queue, and previews can be spread over the real run).
 * `steps` is base's step count; `fullTokens` the image tokens at full resolution.
 */
export function runSteps(
  acc: Acceleration | undefined,
  manifest: Manifest,
  steps: number,
  fullTokens: number,
): number {
  switch (acc?.method ?? "base") {
    case "ralu":
      return sum(resolveRalu(acc!, manifest, fullTokens).N);
    case "naive":
      return sum(naivePlan(acc!, fullTokens).N);
    case "bottleneck":
      return sum(bottleneckPlan(acc!, fullTokens).N);
    default:
      return steps;
  }
}
