/**
 * prompt → embeddings → sampler → decode → image, for one image of a request.
 *
 * @example
 * ```ts ignore
 * import { generateImage } from "./generate.ts";
 * const img = await generateImage(model, { prompt: "a red circle" }, hooks);
 * ```
 */
import {
  imageTokens,
  type Manifest,
  parseSize,
  shiftFor,
  sizeProblem,
} from "../config/manifest.ts";
import type { Acceleration, CacheSettings } from "../config/image_request.ts";
import type { Cost, SamplerContext, SamplerEvent, SamplerResult } from "../samplers/types.ts";
import { previewRgba } from "../kernels/preview_cpu.ts";
import { encodeImage, type OutputFormat, planarToRgba, upscaleNearest } from "./image_codec.ts";
import type { Conditioning, LoadedModel } from "./model.ts";
import { HttpError } from "../http/errors.ts";
import { type CostReport, costReport } from "./cost.ts";
import { runSteps, samplerFor } from "../samplers/registry.ts";

export interface GenerateParams {
  prompt: string;
  negativePrompt?: string | undefined;
  size?: string | undefined;
  seed: number;
  steps?: number | undefined;
  guidance?: number | undefined;
  acceleration?: Acceleration | undefined;
  outputFormat?: OutputFormat;
  /** The run's step count when the caller already planned it ({@link planSteps}). */
  totalSteps?: number | undefined;
}

export type PipelineEvent =
  | SamplerEvent
  | {
    type: "preview";
    stage: number;
    step: number;
    png: Uint8Array;
    width: number;
    height: number;
  };

export interface GenerateHooks {
  signal: AbortSignal;
  /** Emit a preview every k steps (0 = never). */
  previewEvery?: number;
  /** Whether anyone can read previews and edge maps (default true); none are made otherwise. */
  observed?: boolean;
  emit?: (event: PipelineEvent) => void;
}

export interface GeneratedImage {
  bytes: Uint8Array;
  format: OutputFormat;
  width: number;
  height: number;
  seed: number;
  cost: Cost;
  /** The cost next to that of the base run it replaces (FLOPs, token-steps, speedups). */
  report: CostReport;
  timings: { encodeMs: number; sampleMs: number; decodeMs: number; totalMs: number };
  /** Notes for the response (e.g. a prompt truncated to the text encoder's limit). */
  warnings: string[];
}

/** Checks a request against the model before it is queued, so errors come back as 400s. */
export function resolveSize(
  model: Pick<LoadedModel, "manifest">,
  size: string | undefined,
): { width: number; height: number } {
  const m = model.manifest;
  const chosen = size ?? m.default_size;
  const parsed = parseSize(chosen);
  const problem = sizeProblem(m, parsed.width, parsed.height);
  if (problem) {
    throw new HttpError(
      400,
      `size ${chosen} is not supported by model ${m.id}: ${problem}`,
      "size",
    );
  }
  return parsed;
}

/** The denoising steps this request's run makes (throws the method's 400s up front). */
export function planSteps(
  model: Pick<LoadedModel, "manifest">,
  p: Pick<GenerateParams, "size" | "steps" | "acceleration">,
): number {
  const m = model.manifest;
  const { width, height } = resolveSize(model, p.size);
  const method = p.acceleration?.method ?? "base";
  const unit = 2 * m.token_footprint_px;
  if (method !== "base" && (width % unit || height % unit)) {
    // stage 1 runs at half the size on whole 2x2-latent tokens
    throw new HttpError(
      400,
      `size ${width}x${height}: ${method} denoises at half the size first, so width and height must be multiples of ${unit}`,
      "size",
    );
  }
  usesTeaCache(m, p.acceleration);
  return runSteps(p.acceleration, m, p.steps ?? m.default_steps, imageTokens(m, width, height));
}

/** A run's temporal cache: the request's own, else (ralu) its preset's. */
export function cacheFor(m: Manifest, acc: Acceleration | undefined): CacheSettings | undefined {
  if (acc?.cache) return acc.cache;
  if (acc?.method !== "ralu") return undefined;
  const name = acc.preset ?? (acc.N ? undefined : m.default_preset);
  return name ? m.presets[name]?.cache : undefined;
}

/** Whether the run's cache is TeaCache; a 400 where the model has no indicator graph for it. */
function usesTeaCache(m: Manifest, acc: Acceleration | undefined): boolean {
  if (cacheFor(m, acc)?.method !== "teacache") return false;
  if (m.files.indicator) return true;
  throw new HttpError(
    400,
    `model ${m.id} has no TeaCache indicator graph (tools/export/indicator_graph.py); use "taylorseer"`,
    "acceleration.cache.method",
  );
}

/** A run's TeaCache indicator, when its cache asks for one. */
function teaIndicator(
  model: LoadedModel,
  acc: Acceleration | undefined,
  cond: Conditioning,
  guidance: number,
): SamplerContext["indicator"] {
  // a model loads its indicator session exactly when its manifest names one
  return usesTeaCache(model.manifest, acc) ? model.teaIndicator(cond, guidance) : undefined;
}

export async function generateImage(
  model: LoadedModel,
  p: GenerateParams,
  hooks: GenerateHooks,
): Promise<GeneratedImage> {
  const m = model.manifest;
  const t0 = performance.now();
  const { width, height } = resolveSize(model, p.size);
  const f = m.vae_scale_factor;
  const shape = { channels: m.latent_channels, height: height / f, width: width / f };
  const fullTokens = imageTokens(m, width, height);
  const guidance = p.guidance ?? m.default_guidance;
  const emit = hooks.emit ?? (() => {});

  // 1. Text conditioning (an empty prompt is the unconditional branch of guidance)
  const cond = await model.encodePrompt(p.prompt);
  const useCfg = model.usesCfg(guidance);
  const uncond: Conditioning | undefined = useCfg
    ? await model.encodePrompt(p.negativePrompt ?? "")
    : undefined;
  const tEncode = performance.now();

  // 3. Sample
  const previewEvery = hooks.previewEvery ?? 0;
  const ctx: SamplerContext = {
    shape,
    seed: p.seed,
    steps: p.steps ?? m.default_steps,
    baseShift: shiftFor(m, fullTokens),
    backend: model.backend(uncond ? [cond, uncond] : [cond], guidance, { width, height }),
    tokenFootprintPx: m.token_footprint_px,
    evalsPerStep: useCfg ? 2 : 1,
    previewEvery,
    totalSteps: p.totalSteps ?? planSteps(model, p),
    cache: cacheFor(m, p.acceleration),
    indicator: teaIndicator(model, p.acceleration, cond, guidance),
    observed: hooks.observed ?? true,
    signal: hooks.signal,
    emit: (ev) => {
      if (ev.type === "step" && ev.preview) {
        const pv = ev.preview;
        const rgba = previewRgba(
          pv.latent,
          m.preview.weights,
          m.latent_channels,
          pv.height,
          pv.width,
        );
        // at the final image's size: what an OpenAI client shows as a partial image
        const png = encodeImage(
          upscaleNearest(rgba, pv.width, pv.height, width, height),
          width,
          height,
          "png",
        );
        emit(ev);
        emit({
          type: "preview",
          stage: ev.stage,
          step: ev.step,
          png,
          width,
          height,
        });
        return;
      }
      emit(ev);
    },
  };
  const method = p.acceleration?.method ?? "base";
  const be = ctx.backend;
  let result: SamplerResult;
  let image: Float32Array;
  let tSample: number;
  try {
    result = await samplerFor(method)(ctx, p.acceleration ?? { method }, m);
    tSample = performance.now();
    // 4. Decode where the latent is (on the device for a WebGPU run); only the image comes back
    image = await be.read(await be.decode(result.latent, shape.height, shape.width));
  } finally {
    be.release(); // every buffer of the run, also on cancellation and errors
  }
  const bytes = encodeImage(
    planarToRgba(image, width, height),
    width,
    height,
    p.outputFormat ?? "png",
  );
  const tEnd = performance.now();
  return {
    bytes,
    format: p.outputFormat ?? "png",
    width,
    height,
    seed: p.seed,
    cost: result.cost,
    report: costReport(
      result.cost,
      ctx.evalsPerStep,
      m.max_text_tokens,
      m.architecture,
      m.default_steps,
      fullTokens,
    ),
    warnings: cond.warnings,
    timings: {
      encodeMs: tEncode - t0,
      sampleMs: tSample - tEncode,
      decodeMs: tEnd - tSample,
      totalMs: tEnd - t0,
    },
  };
}
