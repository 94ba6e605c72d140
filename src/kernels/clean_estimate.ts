/**
 * Wrapper of shaders/clean_estimate.wgsl: `x0 = x - sigma v` into a new pooled buffer.
 * CPU reference: euler_cpu.ts `cleanEstimate`.
 *
 * @example
 * ```ts ignore
 * const x0 = (await CleanEstimate.create(gpu)).run(x, v, 0.7, count);
 * ```
 */
import { defineKernel, groupsFor } from "../gpu/context.ts";

export const CleanEstimate = defineKernel("clean_estimate", (gpu, kernel) => ({
  run(x: GPUBuffer, v: GPUBuffer, sigma: number, count: number): GPUBuffer {
    const out = gpu.empty(count * 4, "x0");
    gpu.run(kernel, [out, x, v], [["f32", sigma], ["u32", count]], groupsFor(count));
    return out;
  },
}));
