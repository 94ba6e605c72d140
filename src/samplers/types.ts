/**
 * What every sampler takes and returns. Samplers see a velocity function and shapes, never
 * the model files; the pipeline wires them up.
 */
import type { KernelOps } from "../kernels/ops.ts";
import type { GpuOps } from "../kernels/gpu_ops.ts";

export interface LatentShape {
  channels: number;
  /** Latent height and width at full resolution (image size / VAE factor). */
  height: number;
  width: number;
}

export type StepEvent = {
  stage: number;
  step: number;
  total: number;
  sigma: number;
  tokens: number;
  /** Clean-estimate latent `[C, h, w]` for previews, computed only when asked for. */
  preview: () => { latent: Float32Array; height: number; width: number };
};

export type SamplerEvent =
  | { type: "stage"; stage: number; tokens: number; resolution: string }
  | { type: "edge_mask"; width: number; height: number; mask: Uint8Array; selected: number }
  | ({ type: "step" } & StepEvent);

/** Turns a stage's clean estimate into a `[C, h, w]` latent for a preview. */
export type PreviewGrid = (
  x0: Float32Array,
) => { latent: Float32Array; height: number; width: number };

export interface Cost {
  /** Image tokens of each network evaluation, in order. */
  tokensPerStep: number[];
  /** Sum of image tokens over evaluations (× 2 under classifier-free guidance). */
  tokenSteps: number;
  /** Network evaluations (× 2 under classifier-free guidance). */
  evaluations: number;
  /** RALU's own work (edges, selection, repacking, noise), milliseconds. */
  overheadMs: number;
  /** The extra VAE decode RALU makes for edge detection, milliseconds. */
  decodeMs: number;
}

export type VelocityFn = (
  tokens: Float32Array,
  ids: Float32Array,
  sigma: number,
) => Promise<Float32Array>;

/** The WebGPU EP's device-resident step: the latent stays in a GPU buffer between steps. */
export interface DeviceStepper {
  gpu: GpuOps;
  /** Guided velocity for the latent in `x`; a pooled buffer the caller releases. */
  velocity: (x: GPUBuffer, ids: Float32Array, sigma: number) => Promise<GPUBuffer>;
  /** Model-space latent `[C, h, w]` on the device → image `[3, f h, f w]`, a pooled buffer. */
  decode: (latent: GPUBuffer, h: number, w: number) => Promise<GPUBuffer>;
}

export interface SamplerContext {
  shape: LatentShape;
  seed: number;
  steps: number;
  baseShift: number;
  velocity: VelocityFn;
  /** Decodes a model-space latent `[C, h, w]` to `[3, f h, f w]` in [-1, 1] (RALU edge step). */
  decode: (latent: Float32Array, h: number, w: number) => Promise<Float32Array>;
  /** Image pixels covered by one token (side length) at full resolution. */
  tokenFootprintPx: number;
  emit: (event: SamplerEvent) => void;
  signal: AbortSignal;
  evalsPerStep: number;
  /** Where RALU's kernels run; the CPU references when absent. */
  ops?: KernelOps;
  /** Present on the WebGPU EP: denoising loops keep the latent on the GPU. */
  device?: DeviceStepper;
  /** Steps between previews (0 = none): the device loop reads back only then. */
  previewEvery?: number;
}

export interface SamplerResult {
  /** Model-space latent `[C, H, W]` at full resolution. */
  latent: Float32Array;
  cost: Cost;
}

export type Sampler<Options> = (ctx: SamplerContext, options: Options) => Promise<SamplerResult>;

/**
 * Called once per step: lets the event loop run (the DiT computes on this thread, so
 * without a macrotask break no request — a DELETE, an SSE write — would be served until
 * the run ends), then throws the signal's reason if the job was cancelled meanwhile.
 */
export async function checkCancelled(signal: AbortSignal): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 0));
  if (signal.aborted) throw signal.reason ?? new DOMException("cancelled", "AbortError");
}
