/**
 * The one surface every sampler is written against: opaque latent/token handles and the
 * kernel ops of the paper's algorithm boxes. Two implementations: CPU arrays
 * (`cpu_backend.ts`, the TypeScript references) and GPU buffers on the kernel device
 * (`gpu_backend.ts`). A backend is made per run and owns every handle it hands out; the
 * run's `release()` gives them all back — at the end, on cancellation and on error — so no
 * sampler does buffer bookkeeping.
 *
 * @example
 * ```ts ignore
 * const be = cpuBackend(velocity, decode);
 * try {
 *   const x = be.upload(noise, "latent");
 *   const v = await be.velocity(x, ids, 1, 1);
 *   be.euler(x, v, -0.1);
 * } finally {
 *   be.release();
 * }
 * ```
 */
import type { GrayMode } from "../kernels/canny_cpu.ts";
import type { NoiseParams } from "../kernels/noise_cpu.ts";

/** A backend's array: numbers on the host or in a device buffer. Only its length is public. */
export interface Handle {
  readonly length: number;
}

/** A repacked token sequence (RALU's stage changes). Ids are host-side: the DiT feeds them. */
export interface Repacked {
  tokens: Handle;
  /** For each token copied at this change, the indices of its 4 copies, else -1. */
  groups: Handle;
  ids: Float32Array;
  count: number;
  /** Tokens still at low resolution (they lead the sequence after stage 2). */
  lowCount: number;
}

export interface Backend {
  readonly name: "cpu" | "webgpu";
  upload(data: Float32Array, label: string): Handle;
  read(x: Handle): Promise<Float32Array>;
  /** Gives a handle back before the run ends (the denoising loop's old velocities). */
  free(x: Handle | undefined): void;
  /** Gives back everything this run made. */
  release(): void;

  /**
   * The DiT (with guidance): velocity of tokens `x` with ids `ids` at noise level sigma;
   * `unit`: full-resolution tokens one id step spans (2 on RALU's low-resolution grid).
   */
  velocity(x: Handle, ids: Float32Array, sigma: number, unit: number): Promise<Handle>;
  /** In place: x += dt v. */
  euler(x: Handle, v: Handle, dt: number): void;
  /** x0 = x - sigma v. */
  cleanEstimate(x: Handle, v: Handle, sigma: number): Handle;
  /** Σ w_i x_i into a new handle (x_0 scaled first, then each added: the shaders' order). */
  combine(xs: Handle[], weights: number[]): Handle;
  /** (1 - sigma) x0 + sigma n: a clean estimate put back at noise level sigma. */
  renoise(x0: Handle, noise: Handle, sigma: number): Handle;

  /** [C, h, w] → [(h/2)(w/2), 4C]. */
  pack(latent: Handle, c: number, h: number, w: number): Handle;
  /** [(h/2)(w/2), 4C] → [C, h, w]. */
  unpack(tokens: Handle, c: number, h: number, w: number): Handle;
  /** [C, h, w] → [C, h/2, w/2], mean of each 2x2 block. */
  meanPool2x(latent: Handle, c: number, h: number, w: number): Handle;
  /** [C, h, w] → [C, 2h, 2w], each pixel repeated 2x2. */
  upsample2x(latent: Handle, c: number, h: number, w: number): Handle;

  /** VAE: model-space latent [C, h, w] → image [3, f h, f w] in [-1, 1]. */
  decode(latent: Handle, h: number, w: number): Promise<Handle>;
  /** Gray levels + Canny (100 / 200) of a decoded image: an edge map handle. */
  canny(image: Handle, w: number, h: number, gray: GrayMode): Promise<Handle>;
  /** The edge map as 0/1 bytes. */
  readEdges(edges: Handle, pixels: number): Promise<Uint8Array>;
  /** Edge pixels in each `fp` x `fp` token footprint. */
  edgeScores(edges: Handle, w: number, h: number, fp: number): Handle;
  /** Mask of the `k` highest of `n` scores (ties: lower index). */
  topk(scores: Handle, n: number, k: number): Handle;
  /** Stage 2: unselected tokens in order, then each of the `k` selected as 4 copies. */
  repackStage2(
    tokens: Handle,
    ids: Float32Array,
    mask: Handle,
    k: number,
    dim: number,
  ): Promise<Repacked>;
  /** Stage 3: every low-resolution token to 4 copies, ids x2, raster order. */
  expandStage3(
    tokens: Handle,
    ids: Float32Array,
    lowCount: number,
    dim: number,
    cols: number,
    rows: number,
  ): Promise<Repacked>;
  /** In place: x ← beta x + alpha n with correlated noise over `groups` (RALU.md §3). */
  injectNoise(
    x: Handle,
    r: Pick<Repacked, "groups" | "count">,
    dim: number,
    p: NoiseParams,
    anchor?: { values: Handle; of: Int32Array },
  ): void;
}
