/**
 * Accelerated samplers by name. `base` is wired directly by the pipeline; the others
 * register here as they land.
 */
import type { Acceleration } from "../config/image_request.ts";
import type { Manifest } from "../config/manifest.ts";
import { HttpError } from "../http/errors.ts";
import type { SamplerContext, SamplerResult } from "./types.ts";

export type AcceleratedSampler = (
  ctx: SamplerContext,
  acceleration: Acceleration,
  manifest: Manifest,
) => Promise<SamplerResult>;

const samplers = new Map<string, AcceleratedSampler>();

export function registerSampler(name: string, sampler: AcceleratedSampler): void {
  samplers.set(name, sampler);
}

export function samplerFor(name: string): AcceleratedSampler {
  const s = samplers.get(name);
  if (!s) throw new HttpError(400, `acceleration method "${name}" is not available`, "acceleration.method");
  return s;
}

import { sampleRalu } from "./ralu.ts";
registerSampler("ralu", (ctx, acc, m) => sampleRalu(ctx, acc, m));
