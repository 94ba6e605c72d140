/**
 * Wrapper of shaders/downsample.wgsl: latent `[C, h, w]` → `[C, h/2, w/2]`, into a new
 * pooled buffer. "nearest": even rows and columns (RALU's stage-1 noise); "box": sums / 2
 * over RALU's token copies (anchored noise); "mean": 2x2 means (Bottleneck Sampling's way
 * down). CPU references: pack_cpu.ts `downsample2x` and `avgPool2x`.
 *
 * @example
 * ```ts ignore
 * const low = (await Downsample.create(gpu)).run(latent, 4, 32, 32, "mean");
 * ```
 */
import { defineKernel } from "../gpu/context.ts";
import type { DownsampleMode } from "./pack_cpu.ts";
import { runLatentKernel } from "./pack.ts";

const MODE: Record<DownsampleMode | "mean", number> = { nearest: 0, box: 1, mean: 2 };

export const Downsample = defineKernel("downsample", (gpu, kernel) => ({
  run(
    latent: GPUBuffer,
    c: number,
    h: number,
    w: number,
    mode: DownsampleMode | "mean",
  ): GPUBuffer {
    const n = c * h * w;
    return runLatentKernel(
      gpu,
      kernel,
      latent,
      n,
      n / 4,
      [c, h, w],
      "downsampled",
      MODE[mode],
    );
  },
}));
