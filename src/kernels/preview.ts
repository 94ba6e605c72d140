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
import { defineKernel, groupsFor } from "../gpu/context.ts";

export const Preview = defineKernel("preview", (gpu, kernel) => ({
  run(latent: GPUBuffer, weights: GPUBuffer, c: number, h: number, w: number): GPUBuffer {
    const pixels = h * w;
    const out = gpu.empty(pixels * 4, "preview");
    gpu.run(
      kernel,
      [out, latent, weights],
      [["u32", c], ["u32", pixels]],
      groupsFor(pixels),
    );
    return out;
  },
}));
