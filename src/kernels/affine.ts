/**
 * Wrapper of shaders/affine.wgsl: `x * a + b` into a new pooled buffer (the model's latent
 * → the VAE's; a re-noise's first half). CPU reference: euler_cpu.ts `affine`.
 *
 * @example
 * ```ts ignore
 * const raw = (await Affine.create(gpu)).run(latent, 1 / scaling, shift, count);
 * ```
 */
import { type GpuContext, groupsFor } from "../gpu/context.ts";
import type { Kernel } from "../gpu/kernel.ts";

export class Affine {
  private constructor(private readonly gpu: GpuContext, private readonly kernel: Kernel) {}

  static async create(gpu: GpuContext): Promise<Affine> {
    return new Affine(gpu, await gpu.load("affine"));
  }

  run(x: GPUBuffer, a: number, b: number, count: number): GPUBuffer {
    const out = this.gpu.empty(count * 4, "affine");
    this.gpu.run(this.kernel, [out, x], [["f32", a], ["f32", b], ["u32", count]], groupsFor(count));
    return out;
  }
}
