/**
 * Wrapper of shaders/topk.wgsl: the mask of the `k` highest of `n` scores (ties: lower
 * index), one workgroup, into a new pooled buffer. CPU reference: topk_cpu.ts `topkMask`.
 *
 * @example
 * ```ts ignore
 * const mask = (await Topk.create(gpu)).run(scores, 64, 19);
 * ```
 */
import type { GpuContext } from "../gpu/context.ts";
import type { Kernel } from "../gpu/kernel.ts";

/** The most scores the shader ranks in its one workgroup. */
export const MAX_TOPK = 16384;

export class Topk {
  private constructor(private readonly gpu: GpuContext, private readonly kernel: Kernel) {}

  static async create(gpu: GpuContext): Promise<Topk> {
    return new Topk(gpu, await gpu.load("topk"));
  }

  /** Throws before taking any buffer when `n` is over {@link MAX_TOPK}. */
  static check(n: number): void {
    if (n > MAX_TOPK) throw new RangeError(`top-k handles up to ${MAX_TOPK} scores, got ${n}`);
  }

  run(scores: GPUBuffer, n: number, k: number): GPUBuffer {
    Topk.check(n);
    const mask = this.gpu.empty(n * 4, "mask");
    this.gpu.run(this.kernel, [mask, scores], [["u32", n], ["u32", k]], 1);
    return mask;
  }
}
