/**
 * Request bodies of the images API: the OpenAI fields plus this server's extensions.
 *
 * @example
 * ```ts
 * import { imageRequestSchema } from "./image_request.ts";
 * imageRequestSchema.parse({ prompt: "a red circle", size: "128x128" });
 * ```
 */
import { z } from "zod";
import { stageEndsSchema } from "./stage_ends.ts";

export const MAX_PROMPT_CHARS = 1000;
/** Seeds are unsigned 32-bit (the Philox key): 0 … 2^32 − 1. */
export const MAX_SEED = 2 ** 32 - 1;

/** The fields each method takes besides `method` (anything else is refused). */
const METHOD_FIELDS: Record<string, readonly string[]> = {
  base: ["cache"],
  ralu: [
    "cache",
    "preset",
    "N",
    "e",
    "r",
    "h",
    "Z",
    "exact_noise",
    "gray",
    "nt_matching",
    "noise",
    "token_steps",
  ],
  naive: ["preset", "N", "t_up", "noise", "token_steps"],
  bottleneck: ["preset", "N", "e", "noise", "token_steps"],
};

/**
 * TaylorSeer-style caching inside each stage: the DiT runs on the first `warmup` steps of a
 * stage and then on every `interval`-th step; the steps between take its output extrapolated
 * in sigma (a Taylor expansion of `order` from the last order + 1 computed ones).
 */
export const taylorSeerSchema = z.object({
  method: z.literal("taylorseer"),
  interval: z.number().int().min(2).max(10).default(2),
  order: z.union([z.literal(1), z.literal(2)]).default(1),
  warmup: z.number().int().min(1).max(50).default(2),
}).strict();

/**
 * TeaCache-style caching inside each stage: the relative change of the first block's
 * timestep-modulated input, rescaled by the model's fitted polynomial, is summed step by step;
 * while the sum stays under `threshold` a step reuses the last computed velocity.
 */
export const teaCacheSchema = z.object({
  method: z.literal("teacache"),
  /** Per model: the default model skips about half to most steps at 0.02–0.1 (docs/benchmarks.md). */
  threshold: z.number().gt(0).max(5),
}).strict();

/** Temporal caching inside each stage (a stage's first step always runs the DiT). */
export const cacheSchema = z.discriminatedUnion("method", [taylorSeerSchema, teaCacheSchema])
  .superRefine((c, ctx) => {
    if (c.method === "taylorseer" && c.warmup < c.order + 1) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["warmup"],
        message: `order ${c.order} extrapolates from ${
          c.order + 1
        } computed steps: warmup must be at least that`,
      });
    }
  });

export type CacheSettings = z.infer<typeof cacheSchema>;
export type TaylorSeerSettings = z.infer<typeof taylorSeerSchema>;
export type TeaCacheSettings = z.infer<typeof teaCacheSchema>;

export const accelerationSchema = z.object({
  method: z.enum(["base", "ralu", "naive", "bottleneck"]).default("base"),
  preset: z.string().regex(/^[a-z0-9][a-z0-9-]*$/).optional(),
  N: z.array(z.number().int().min(1).max(100)).length(3).optional(),
  e: stageEndsSchema.optional(),
  r: z.number().min(0).max(1).optional(),
  h: z.array(z.number().min(0.5).max(10)).length(3).optional(),
  Z: z.number().min(2).max(100).optional(),
  /** naive: time at which everything is upsampled. */
  t_up: z.number().gt(0).lt(1).optional(),
  /** Variance-exact noise for tokens not copied at a boundary (RALU.md §3). */
  exact_noise: z.boolean().optional(),
  /** "ours" maps the decoder's [-1, 1] to [0, 1] before gray; "clip" is the reference code's way. */
  gray: z.enum(["ours", "clip"]).optional(),
  /** false keeps the base schedule across boundaries (ablation). */
  nt_matching: z.boolean().optional(),
  /**
   * "fresh" (RALU.md): stage 1 takes every second row and column of the seed's noise and
   * each boundary draws new noise. "anchored": stage 1 takes box sums / 2 of the seed's
   * noise and each boundary injects the seed's own noise for every token's place, so the
   * run stays closer to the base picture of the same seed (ralu; naive: stage 1 only;
   * bottleneck: the seed's noise at each resolution change).
   */
  noise: z.enum(["fresh", "anchored"]).optional(),
  /**
   * ralu, naive, bottleneck: scale the step counts so the run costs as close to this many
   * token-steps (image tokens summed over steps, one guidance branch) as whole steps allow.
   */
  token_steps: z.number().int().min(1).max(10_000_000).optional(),
  /** base, ralu: temporal caching inside each stage ({@link cacheSchema}). */
  cache: cacheSchema.optional(),
}).strict().superRefine((a, ctx) => {
  const fields = METHOD_FIELDS[a.method]!;
  for (const key of Object.keys(a)) {
    if (key !== "method" && !fields.includes(key)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: [key],
        message: `not a field of method ${a.method} (it takes ${fields.join(", ") || "none"})`,
      });
    }
  }
});

export type Acceleration = z.infer<typeof accelerationSchema>;

export const imageRequestSchema = z.object({
  prompt: z.string().min(1).max(MAX_PROMPT_CHARS),
  model: z.string().max(64).optional(),
  n: z.number().int().min(1).max(4).default(1),
  size: z.string().regex(/^\d{1,4}x\d{1,4}$/, "size must look like 128x128").optional(),
  response_format: z.enum(["b64_json", "url"]).default("b64_json"),
  output_format: z.enum(["png", "jpeg"]).default("png"),
  quality: z.string().max(16).optional(),
  stream: z.boolean().default(false),
  partial_images: z.number().int().min(0).max(3).default(0),
  user: z.string().max(256).optional(),
  seed: z.number().int().min(0).max(MAX_SEED).optional(),
  steps: z.number().int().min(1).max(200).optional(),
  guidance: z.number().min(0).max(20).optional(),
  negative_prompt: z.string().max(MAX_PROMPT_CHARS).optional(),
  preview_every: z.number().int().min(1).max(200).optional(),
  acceleration: accelerationSchema.optional(),
}).strict().superRefine((r, ctx) => {
  // image i gets seed + i: every reported seed must be one a request may send back
  if (r.seed !== undefined && r.seed + r.n - 1 > MAX_SEED) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ["seed"],
      message: `seed + n - 1 must be at most ${MAX_SEED}`,
    });
  }
});

export type ImageRequest = z.infer<typeof imageRequestSchema>;
