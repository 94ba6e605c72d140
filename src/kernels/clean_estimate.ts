/**
 * Wrapper of shaders/clean_estimate.wgsl: `x0 = x - sigma v` into a new pooled buffer.
 * CPU reference: euler_cpu.ts `cleanEstimate`.
 *
 * @example
 * ```ts ignore
 * const x0 = (await CleanEstimate.create(gpu)).run(x, v, 0.7, count);
 * ```
 */
import { type GpuContext, groupsFor } from "../gpu/context.ts";
import type { Kernel } from "../gpu/kernel.ts";

export class CleanEstimate {
  private constructor(private readonly gpu: GpuContext, private readonly kernel: Kernel) {}

  static async create(gpu: GpuContext): Promise<CleanEstimate> {
    return new CleanEstimate(gpu, await gpu.load("clean_estimate"));
  }

  run(x: GPUBuffer, v: GPUBuffer, sigma: number, count: number): GPUBuffer {
    const out = this.gpu.empty(count * 4, "x0");
    this.gpu.run(this.kernel, [out, x, v], [["f32", sigma], ["u32", count]], groupsFor(count));
    return out;
  }
}
