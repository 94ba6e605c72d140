/**
 * The model manifest: everything the pipeline needs to know about a model directory.
 *
 * @example
 * ```ts
 * import { parseManifest } from "./manifest.ts";
 * const m = parseManifest(JSON.parse(await Deno.readTextFile("models/fixture/manifest.json")));
 * ```
 */
import { z } from "zod";
import { stageEndsSchema } from "./stage_ends.ts";
import { ntMatchingFor } from "../schedule/nt_matching.ts";
import { lastStageStart, MIN_STAGE3_START } from "../schedule/stages.ts";

const preset = z.object({
  N: z.array(z.number().int().positive()).length(3),
  e: stageEndsSchema,
  r: z.number().min(0).max(1),
  h: z.array(z.number().positive()).length(3).optional(),
  Z: z.number().min(2).optional(),
  /** The noise mode this preset runs with unless a request names one (default "fresh"). */
  noise: z.enum(["fresh", "anchored"]).optional(),
  /** Lets a preset start stage 3 below MIN_STAGE3_START (experiments only, never shipped). */
  allow_degenerate: z.boolean().optional(),
});

export const manifestSchema = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/),
  description: z.string(),
  files: z.object({
    transformer: z.string(),
    text_encoder: z.string(),
    vae_decoder: z.string(),
    vocab: z.string(),
  }),
  latent_channels: z.number().int().positive(),
  vae_scale_factor: z.number().int().min(4),
  vae_scaling: z.number().positive(),
  vae_shift: z.number(),
  token_footprint_px: z.number().int().positive(),
  max_text_tokens: z.number().int().positive(),
  text_dim: z.number().int().positive(),
  base_shift: z.number().positive(),
  default_steps: z.number().int().positive(),
  default_guidance: z.number().min(0),
  default_size: z.string().regex(/^\d+x\d+$/),
  sizes: z.array(z.string().regex(/^\d+x\d+$/)).min(1),
  architecture: z.object({
    hidden: z.number().int().positive(),
    depth: z.number().int().positive(),
    heads: z.number().int().positive(),
    mlp_ratio: z.number().positive(),
    parameters: z.number().int().positive(),
  }),
  preview: z.object({ weights: z.array(z.array(z.number())).length(3) }),
  presets: z.record(preset),
}).superRefine((m, ctx) => {
  for (const [name, p] of Object.entries(m.presets)) {
    if (p.allow_degenerate || !(p.e[0]! < p.e[1]! && p.e[1]! < 1)) continue;
    const Z = p.Z ?? ntMatchingFor(p.N, p.e, m.base_shift).Z;
    const s = lastStageStart(p.e, Z);
    if (s < MIN_STAGE3_START) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["presets", name, "e"],
        message: `preset ${name} starts stage 3 at t = ${s.toFixed(4)} (Z = ${
          Z.toFixed(2)
        }): below ${MIN_STAGE3_START} it is a short base run from fresh noise; choose other stage ends or set allow_degenerate for an experiment`,
      });
    }
  }
});

export type Manifest = z.infer<typeof manifestSchema>;
export type Preset = z.infer<typeof preset>;

export function parseManifest(json: unknown): Manifest {
  return manifestSchema.parse(json);
}

/** "WxH" → numbers. */
export function parseSize(size: string): { width: number; height: number } {
  const [w, h] = size.split("x").map(Number);
  return { width: w ?? 0, height: h ?? 0 };
}
