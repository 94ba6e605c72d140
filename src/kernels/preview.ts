/**
 * Wrapper of shaders/preview.wgsl: latent `[C, H, W]` → RGBA8 (a u32 per pixel) through
 * the model's 3 x (C + 1) linear map, into a new pooled buffer. CPU reference:
 * preview_cpu.ts `previewRgba`.
 *
 * @example
 * ```ts ignore
 * const rgba = (await Preview.create(gpu)).run(latent, weights, 4, 32, 32);
 * ```
 */
import { type GpuContext, groupsFor } from "../gpu/context.ts";
import type { Kernel } from "../gpu/kernel.ts";

export class Preview {
  private constructor(private readonly gpu: GpuContext, private readonly kernel: Kernel) {}

  static async create(gpu: GpuContext): Promise<Preview> {
    return new Preview(gpu, await gpu.load("preview"));
  }

  run(latent: GPUBuffer, weights: GPUBuffer, c: number, h: number, w: number): GPUBuffer {
    const pixels = h * w;
    const out = this.gpu.empty(pixels * 4, "preview");
    this.gpu.run(
      this.kernel,
      [out, latent, weights],
      [["u32", c], ["u32", pixels]],
      groupsFor(pixels),
    );
    return out;
  }
}
