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
import { defineKernel, groupsFor } from "../gpu/context.ts";

export const Euler = defineKernel("euler", (gpu, kernel) => ({
  run(x: GPUBuffer, v: GPUBuffer, dt: number, count: number): void {
    gpu.run(kernel, [x, v], [["f32", dt], ["u32", count]], groupsFor(count));
  },
}));
