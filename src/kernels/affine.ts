/**
 * Wrapper of shaders/affine.wgsl: `x * a + b` into a new pooled buffer (the model's latent
 * → the VAE's; a re-noise's first half). CPU reference: euler_cpu.ts `affine`.
 *
 * @example
 * ```ts ignore
 * const raw = (await Affine.create(gpu)).run(latent, 1 / scaling, shift, count);
 * ```
 */
import { defineKernel, groupsFor } from "../gpu/context.ts";

export const Affine = defineKernel("affine", (gpu, kernel) => ({
  run(x: GPUBuffer, a: number, b: number, count: number): GPUBuffer {
    const out = gpu.empty(count * 4, "affine");
    gpu.run(kernel, [out, x], [["f32", a], ["f32", b], ["u32", count]], groupsFor(count));
    return out;
  },
}));
