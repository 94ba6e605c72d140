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
import { sampleBottleneck } from "./bottleneck.ts";
import { sampleNaive } from "./naive.ts";
import { sampleRalu } from "./ralu.ts";
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
