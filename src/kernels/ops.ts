/**
 * The RALU kernels behind one interface, so a sampler runs the same code on the GPU
 * (`src/kernels/gpu_ops.ts`) or on the CPU references (`cpuOps`, here).
 */
import { canny, edgeScores, grayFromDecoded, type GrayMode } from "./canny_cpu.ts";
import { topkMask } from "./topk_cpu.ts";
import { expandStage3, type Repacked, repackStage2 } from "./repack_cpu.ts";
import { type Anchor, injectNoise, type NoiseParams } from "./noise_cpu.ts";

export interface KernelOps {
  readonly name: string;
  /** Decoded `[3, H, W]` in [-1, 1] → Canny map (1 = edge), thresholds 100/200. */
  canny(image: Float32Array, w: number, h: number, gray: GrayMode): Promise<Uint8Array>;
  edgeScores(edges: Uint8Array, w: number, h: number, footprint: number): Promise<Uint32Array>;
  topk(scores: Uint32Array, k: number): Promise<Uint32Array>;
  repackStage2(
    tokens: Float32Array,
    ids: Float32Array,
    mask: Uint32Array,
    dim: number,
  ): Promise<Repacked>;
  expandStage3(
    tokens: Float32Array,
    ids: Float32Array,
    lowCount: number,
    dim: number,
    cols: number,
    rows: number,
  ): Promise<Repacked>;
  /** In place on `x`; with `anchor`, anchored tokens draw `g` from it (noise_cpu.ts). */
  injectNoise(
    x: Float32Array,
    groups: Int32Array,
    dim: number,
    p: NoiseParams,
    anchor?: Anchor,
  ): Promise<void>;
}

export const cpuOps: KernelOps = {
  name: "cpu",
  canny: (image, w, h, gray) =>
    Promise.resolve(canny(grayFromDecoded(image, w, h, gray), w, h, 100, 200)),
  edgeScores: (edges, w, h, fp) => Promise.resolve(edgeScores(edges, w, h, fp)),
  topk: (scores, k) => Promise.resolve(topkMask(scores, k)),
  repackStage2: (t, ids, mask, dim) => Promise.resolve(repackStage2(t, ids, mask, dim)),
  expandStage3: (t, ids, low, dim, cols, rows) =>
    Promise.resolve(expandStage3(t, ids, low, dim, cols, rows)),
  injectNoise: (x, groups, dim, p, anchor) => {
    injectNoise(x, groups, dim, p, anchor);
    return Promise.resolve();
  },
};
