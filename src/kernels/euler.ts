/**
 * Wrapper of shaders/euler.wgsl: the Euler step `x += dt v`, in place. CPU reference:
 * euler_cpu.ts `eulerStep`.
 *
 * @example
 * ```ts ignore
 * const euler = await Euler.create(gpu);
 * euler.run(x, v, -0.02, count);
 * ```
 */
import { type GpuContext, groupsFor } from "../gpu/context.ts";
import type { Kernel } from "../gpu/kernel.ts";

export class Euler {
  private constructor(private readonly gpu: GpuContext, private readonly kernel: Kernel) {}

  static async create(gpu: GpuContext): Promise<Euler> {
    return new Euler(gpu, await gpu.load("euler"));
  }

  run(x: GPUBuffer, v: GPUBuffer, dt: number, count: number): void {
    this.gpu.run(this.kernel, [x, v], [["f32", dt], ["u32", count]], groupsFor(count));
  }
}
