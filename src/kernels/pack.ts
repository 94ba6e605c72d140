/**
 * Wrapper of shaders/pack.wgsl: latent `[C, h, w]` → tokens `[(h/2)(w/2), 4C]` (2x2
 * patches, FLUX order), into a new pooled buffer. CPU reference: pack_cpu.ts `pack`.
 * Also the dispatch every latent-layout kernel shares (Params c, h, w, mode).
 *
 * @example
 * ```ts ignore
 * const tokens = (await Pack.create(gpu)).run(latent, 4, 32, 32);
 * ```
 */
import { defineKernel, type GpuContext, groupsFor } from "../gpu/context.ts";
import type { Kernel } from "../gpu/kernel.ts";

/** One dispatch of a latent-layout kernel (pack, unpack, downsample, upsample). */
export function runLatentKernel(
  gpu: GpuContext,
  kernel: Kernel,
  input: GPUBuffer,
  inLen: number,
  outLen: number,
  [c, h, w]: [number, number, number],
  label: string,
  mode = 0,
): GPUBuffer {
  const out = gpu.empty(outLen * 4, label);
  gpu.run(
    kernel,
    [out, input],
    [["u32", c], ["u32", h], ["u32", w], ["u32", mode]],
    groupsFor(Math.max(outLen, inLen)),
  );
  return out;
}

export const Pack = defineKernel("pack", (gpu, kernel) => ({
  run(latent: GPUBuffer, c: number, h: number, w: number): GPUBuffer {
    const n = c * h * w;
    return runLatentKernel(gpu, kernel, latent, n, n, [c, h, w], "packed");
  },
}));
