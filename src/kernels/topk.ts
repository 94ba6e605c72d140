/**
 * Wrapper of shaders/topk.wgsl: the mask of the `k` highest of `n` scores (ties: lower
 * index), one workgroup, into a new pooled buffer. CPU reference: topk_cpu.ts `topkMask`.
 *
 * @example
 * ```ts ignore
 * const mask = (await Topk.create(gpu)).run(scores, 64, 19);
 * ```
 */
import { defineKernel } from "../gpu/context.ts";

/** The most scores the shader ranks in its one workgroup. */
export const MAX_TOPK = 16384;

/** Throws before any buffer is taken when `n` is over {@link MAX_TOPK}. */
export function checkTopkSize(n: number): void {
  if (n > MAX_TOPK) throw new RangeError(`top-k handles up to ${MAX_TOPK} scores, got ${n}`);
}

export const Topk = defineKernel("topk", (gpu, kernel) => ({
  run(scores: GPUBuffer, n: number, k: number): GPUBuffer {
    checkTopkSize(n);
    const mask = gpu.empty(n * 4, "mask");
    gpu.run(kernel, [mask, scores], [["u32", n], ["u32", k]], 1);
    return mask;
  },
}));
