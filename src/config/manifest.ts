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
import { cacheSchema } from "./image_request.ts";
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
  /** Temporal caching inside each stage unless a request names its own. */
  cache: cacheSchema.optional(),
});

const sizeRange = z.object({
  min: z.number().int().positive(),
  max: z.number().int().positive(),
  multiple: z.number().int().positive(),
});

/** FLUX.1-dev's resolution-dependent shift: mu linear in the image tokens, h = exp(mu). */
const dynamicShift = z.object({
  base_image_seq_len: z.number().int().positive(),
  max_image_seq_len: z.number().int().positive(),
  base_shift: z.number(),
  max_shift: z.number(),
});

export const manifestSchema = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/),
  description: z.string(),
  /**
   * "ralu-dit": a model of this project (manifest.json); "flux": a diffusers/Optimum FLUX.1
   * folder; "sd3": a Stable Diffusion 3 / 3.5 folder (tools/export/export_sd3.py).
   */
  family: z.enum(["ralu-dit", "flux", "sd3"]).default("ralu-dit"),
  files: z.object({
    transformer: z.string(),
    /**
     * The transformer in fp16 with fp32 islands (tools/export/mixed_precision.py), chosen over
     * `transformer` where the adapter has shader-f16 (src/pipeline/precision.ts).
     */
    transformer_fp16: z.string().optional(),
    text_encoder: z.string(),
    text_encoder_2: z.string().optional(),
    /** SD3's T5; without it the conditioning has zeros in its place (as diffusers does). */
    text_encoder_3: z.string().optional(),
    vae_decoder: z.string(),
    vocab: z.string().optional(),
    /** TeaCache's indicator graph (tools/export/indicator_graph.py); without it, no TeaCache. */
    indicator: z.string().optional(),
    /** A FLUX step graph's conditioning graph (text → context, pooled + guidance → vec). */
    conditioning: z.string().optional(),
  }),
  latent_channels: z.number().int().positive(),
  /**
   * TeaCache's rescale polynomial (highest degree first) from the indicator's rel_l1 to the
   * DiT output's relative change, fitted per model (bench/fit_teacache.ts); default identity.
   */
  teacache_rescale: z.array(z.number()).min(1).max(8).optional(),
  vae_scale_factor: z.number().int().min(4),
  vae_scaling: z.number().positive(),
  vae_shift: z.number(),
  token_footprint_px: z.number().int().positive(),
  max_text_tokens: z.number().int().positive(),
  text_dim: z.number().int().positive(),
  /** `[D_pooled]` of the pooled text vector (default text_dim). */
  pooled_dim: z.number().int().positive().optional(),
  /** FLUX's RoPE axes (`axes_dims_rope`), for a step graph's per-stage tables. */
  rope_axes: z.array(z.number().int().positive()).min(1).optional(),
  /** The timestep shift h; with dynamic_shift, the value at the default size is reported here. */
  base_shift: z.number().positive(),
  dynamic_shift: dynamicShift.optional(),
  /** The DiT takes the guidance scale as an input (FLUX.1-dev); no classifier-free guidance. */
  guidance_embed: z.boolean().default(false),
  /** The DiT's timestep is sigma times this (SD3 takes scheduler units, 0..1000). */
  timestep_scale: z.number().positive().default(1),
  /** Lane order of a token's 2x2 patch in the DiT's input: ours (c, dy, dx) or SD3's (dy, dx, c). */
  token_order: z.enum(["c_dy_dx", "dy_dx_c"]).default("c_dy_dx"),
  /**
   * A DiT with absolute positions (SD3's sin-cos table, `max` patches wide) takes (row, col)
   * per token, centre-cropped as diffusers does. RALU's low-resolution stages use `low`:
   * "half" — the grid a half-size image would get (copies at fractional places on it);
   * "full" — each low token at its top-left full-resolution cell, copies at their own cells.
   */
  positions: z.object({ max: z.number().int().positive(), low: z.enum(["half", "full"]) })
    .optional(),
  default_steps: z.number().int().positive(),
  default_guidance: z.number().min(0),
  default_size: z.string().regex(/^\d+x\d+$/),
  /** Suggested sizes (the playground's list); with size_range any size inside it is accepted. */
  sizes: z.array(z.string().regex(/^\d+x\d+$/)).min(1),
  size_range: sizeRange.optional(),
  architecture: z.object({
    hidden: z.number().int().positive(),
    depth: z.number().int().positive(),
    heads: z.number().int().positive(),
    mlp_ratio: z.number().positive(),
    parameters: z.number().int().positive().optional(),
  }),
  preview: z.object({ weights: z.array(z.array(z.number())).length(3) }),
  presets: z.record(preset),
  /** The preset a `ralu` request without N or preset runs (default "4x"). */
  default_preset: z.string().default("4x"),
}).superRefine((m, ctx) => {
  const { width, height } = parseSize(m.default_size);
  const h0 = shiftFor(m, (width / m.token_footprint_px) * (height / m.token_footprint_px));
  for (const [name, p] of Object.entries(m.presets)) {
    if (p.allow_degenerate) continue;
    const { s, Z } = presetStage3Start(p, h0);
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

/** Where a preset's last stage starts (t) for a base shift h0, and the Z it is solved with. */
export function presetStage3Start(
  p: Pick<Preset, "N" | "e" | "Z">,
  h0: number,
): { s: number; Z: number } {
  if (!(p.e[0]! < p.e[1]! && p.e[1]! < 1)) return { s: 1, Z: p.Z ?? 0 };
  const Z = p.Z ?? ntMatchingFor(p.N, p.e, h0).Z;
  return { s: lastStageStart(p.e, Z), Z };
}

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestInput = z.input<typeof manifestSchema>;

/**
 * The timestep shift h0 for a run with `fullTokens` image tokens: fixed, or FLUX.1-dev's
 * dynamic shift (mu interpolated linearly in the sequence length, h = exp(mu)).
 */
export function shiftFor(
  m: Pick<Manifest, "base_shift" | "dynamic_shift">,
  fullTokens: number,
): number {
  const d = m.dynamic_shift;
  if (!d) return m.base_shift;
  const slope = (d.max_shift - d.base_shift) / (d.max_image_seq_len - d.base_image_seq_len);
  return Math.exp(d.base_shift + slope * (fullTokens - d.base_image_seq_len));
}

/** Null when the model takes `width` x `height`, else why not. */
export function sizeProblem(m: Manifest, width: number, height: number): string | null {
  if (m.sizes.includes(`${width}x${height}`)) return null;
  const r = m.size_range;
  if (!r) return `use one of ${m.sizes.join(", ")}`;
  for (const v of [width, height]) {
    if (!(v >= r.min && v <= r.max && v % r.multiple === 0)) {
      return `width and height must be multiples of ${r.multiple} between ${r.min} and ${r.max}`;
    }
  }
  return null;
}
export type Preset = z.infer<typeof preset>;

export function parseManifest(json: unknown): Manifest {
  return manifestSchema.parse(json);
}

/** Image tokens of a `width` x `height` image at full resolution (2x2 latent pixels each). */
export function imageTokens(
  m: Pick<Manifest, "vae_scale_factor">,
  width: number,
  height: number,
): number {
  return (width / m.vae_scale_factor / 2) * (height / m.vae_scale_factor / 2);
}

/** "WxH" → numbers. */
export function parseSize(size: string): { width: number; height: number } {
  const [w, h] = size.split("x").map(Number);
  return { width: w ?? 0, height: h ?? 0 };
}
