/**
 * What every sampler takes and returns. Samplers see a velocity function and shapes, never
 * the model files; the pipeline wires them up.
 */
import type { Backend, Handle } from "./backend.ts";
import type { CacheSettings } from "../config/image_request.ts";
import type { TeaIndicator } from "./tea_cache.ts";

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
  /** The velocity came from the cache: no network evaluation this step. */
  cached?: boolean;
  /** Clean-estimate latent `[C, h, w]`, on the steps `previewEvery` asks for. */
  preview?: { latent: Float32Array; height: number; width: number };
};

export type SamplerEvent =
  | { type: "stage"; stage: number; tokens: number; resolution: string }
  | {
    type: "edge_mask";
    width: number;
    height: number;
    mask: Uint8Array;
    selected: number;
    /** The selected low-resolution tokens (raster index on the `cols` x `rows` grid). */
    tokens: number[];
    cols: number;
    rows: number;
  }
  | ({ type: "step" } & StepEvent);

/** Turns a stage's clean estimate into a `[C, h, w]` latent for a preview. */
export type PreviewGrid = (
  x0: Float32Array,
) => { latent: Float32Array; height: number; width: number };

export interface Cost {
  /** Denoising steps run, computed or cached. */
  steps: number;
  /** Steps whose velocity came from the cache (no network evaluation). */
  cachedSteps: number;
  /** Image tokens of each step that ran the network, in order. */
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

export interface SamplerContext {
  shape: LatentShape;
  seed: number;
  steps: number;
  baseShift: number;
  /** Where the run's arrays live and its ops (DiT, VAE, kernels) run. */
  backend: Backend;
  /** Image pixels covered by one token (side length) at full resolution. */
  tokenFootprintPx: number;
  emit: (event: SamplerEvent) => void;
  signal: AbortSignal;
  evalsPerStep: number;
  /** Steps of the whole run between previews (0 = none): the latent is read back only then. */
  previewEvery?: number;
  /** Steps the whole run makes: no preview at the last one (the final image follows). */
  totalSteps?: number;
  /** Temporal caching inside each stage (absent: every step runs the network). */
  cache?: CacheSettings | undefined;
  /** The model's TeaCache indicator (needed by `cache.method` "teacache"). */
  indicator?: TeaIndicator | undefined;
  /**
   * Whether anyone can read previews and edge maps (absent: yes). Without a reader the run
   * makes neither: no readback, no PNG.
   */
  observed?: boolean;
}

export interface SamplerResult {
  /** Model-space latent `[C, H, W]` at full resolution, a handle of the run's backend. */
  latent: Handle;
  cost: Cost;
}

export type Sampler<Options> = (ctx: SamplerContext, options: Options) => Promise<SamplerResult>;

/** The longest the event loop waits for a run (ms): requests and SSE writes go out at least this often. */
export const YIELD_EVERY_MS = 8;
let lastYield = 0;

/**
 * Called once per step: lets the event loop run when it has not for {@link YIELD_EVERY_MS}
 * (the DiT computes on this thread, so without a macrotask break no request — a DELETE, an
 * SSE write — would be served until the run ends; a break costs ~2 ms, more than a small
 * model's step on a GPU), then throws the signal's reason if the job was cancelled.
 */
export async function checkCancelled(signal: AbortSignal): Promise<void> {
  if (performance.now() - lastYield >= YIELD_EVERY_MS) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    lastYield = performance.now();
  }
  if (signal.aborted) throw signal.reason ?? new DOMException("cancelled", "AbortError");
}
