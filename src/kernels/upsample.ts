/**
 * Wrapper of shaders/upsample.wgsl: latent `[C, h, w]` → `[C, 2h, 2w]`, each pixel
 * repeated 2x2 (Bottleneck Sampling's way up), into a new pooled buffer. CPU reference:
 * pack_cpu.ts `upsample2x`.
 *
 * @example
 * ```ts ignore
 * const full = (await Upsample.create(gpu)).run(low, 4, 16, 16);
 * ```
 */
import type { GpuContext } from "../gpu/context.ts";
import type { Kernel } from "../gpu/kernel.ts";
import { runLatentKernel } from "./pack.ts";

export class Upsample {
  private constructor(private readonly gpu: GpuContext, private readonly kernel: Kernel) {}

  static async create(gpu: GpuContext): Promise<Upsample> {
    return new Upsample(gpu, await gpu.load("upsample"));
  }

  run(latent: GPUBuffer, c: number, h: number, w: number): GPUBuffer {
    const n = c * h * w;
    return runLatentKernel(this.gpu, this.kernel, latent, n, 4 * n, [c, h, w], "upsampled");
  }
}
