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
import { defineKernel } from "../gpu/context.ts";
import { runLatentKernel } from "./pack.ts";

export const Upsample = defineKernel("upsample", (gpu, kernel) => ({
  run(latent: GPUBuffer, c: number, h: number, w: number): GPUBuffer {
    const n = c * h * w;
    return runLatentKernel(gpu, kernel, latent, n, 4 * n, [c, h, w], "upsampled");
  },
}));
