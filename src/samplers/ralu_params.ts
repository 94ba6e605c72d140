/**
 * Resolves a request's `acceleration` into a complete RALU plan: preset from the model's
 * manifest, custom fields on top, `h`/`Z` from NT-matching when not given.
 *
 * @example
 * ```ts ignore
 * import { resolveRalu } from "./ralu_params.ts";
 * const p = resolveRalu({ method: "ralu", preset: "4x" }, manifest);
 * ```
 */
import type { Acceleration } from "../config/image_request.ts";
import { type Manifest, shiftFor } from "../config/manifest.ts";
import { HttpError } from "../http/errors.ts";
import { ntMatchingFor } from "../schedule/nt_matching.ts";
import { fitSteps } from "../schedule/budget.ts";
import { lastStageStart, MIN_STAGE3_START } from "../schedule/stages.ts";

export interface RaluParams {
  N: number[];
  e: number[];
  r: number;
  h: number[];
  Z: number;
  exactNoise: boolean;
  gray: "ours" | "clip";
  ntMatching: boolean;
  noise: "fresh" | "anchored";
}

/** Image tokens per step of RALU's three stages: low, low + 3 floor(r low) (mixed), full. */
export function raluStageTokens(fullTokens: number, r: number): number[] {
  const low = fullTokens / 4;
  return [low, low + 3 * Math.floor(low * r), fullTokens];
}

/**
 * `fullTokens` (image tokens at full resolution) sets h0 for a model with a dynamic shift,
 * and honours a request's `token_steps` budget: N is then scaled to it before NT-matching
 * solves h and Z.
 */
export function resolveRalu(
  acc: Acceleration,
  manifest: Manifest,
  fullTokens?: number,
): RaluParams {
  const presetName = acc.preset ?? (acc.N ? undefined : manifest.default_preset);
  const preset = presetName ? manifest.presets[presetName] : undefined;
  if (presetName && !preset) {
    throw new HttpError(
      400,
      `unknown preset "${presetName}"; this model has ${Object.keys(manifest.presets).join(", ")}`,
      "acceleration.preset",
    );
  }
  let N = acc.N ?? preset?.N;
  const e = acc.e ?? preset?.e;
  const r = acc.r ?? preset?.r ?? 0.3;
  if (!N || !e) throw new HttpError(400, "a custom RALU run needs N and e", "acceleration.N");
  if (acc.token_steps && fullTokens) {
    N = fitSteps(N, raluStageTokens(fullTokens, r), acc.token_steps);
  }
  let h = acc.h ?? preset?.h;
  let Z = acc.Z ?? preset?.Z;
  if (acc.token_steps && !acc.h) h = undefined; // new N: new timesteps
  if (acc.token_steps && !acc.Z) Z = undefined;
  // the base model's shift at this size is NT-matching's h0 (dynamic for FLUX.1-dev)
  const h0 = fullTokens ? shiftFor(manifest, fullTokens) : manifest.base_shift;
  if (!h || !Z) {
    const s = ntMatchingFor(N, e, h0);
    h ??= s.h;
    Z ??= s.Z;
  }
  // a given Z can restart stage 3 from nearly pure noise (solved ones cannot: NT-matching's limit)
  const s3 = lastStageStart(e, Z);
  if (acc.Z && s3 < MIN_STAGE3_START) {
    throw new HttpError(
      400,
      `Z ${acc.Z} with stage ends ${e.join(", ")} starts stage 3 at t = ${
        s3.toFixed(4)
      } (below ${MIN_STAGE3_START}): a short base run from fresh noise at this model's shift ${
        h0.toFixed(2)
      }; leave Z out for NT-matching's`,
      "acceleration.Z",
    );
  }
  const ntMatching = acc.nt_matching ?? true;
  if (!ntMatching) h = [h0, h0, h0];
  return {
    N,
    e,
    r,
    h,
    Z,
    exactNoise: acc.exact_noise ?? false,
    gray: acc.gray ?? "ours",
    ntMatching,
    noise: acc.noise ?? preset?.noise ?? "fresh",
  };
}
