/**
 * Wrapper of shaders/unpack.wgsl: tokens `[(h/2)(w/2), 4C]` → latent `[C, h, w]`, into a
 * new pooled buffer. CPU reference: pack_cpu.ts `unpack`.
 *
 * @example
 * ```ts ignore
 * const latent = (await Unpack.create(gpu)).run(tokens, 4, 32, 32);
 * ```
 */
import { defineKernel } from "../gpu/context.ts";
import { runLatentKernel } from "./pack.ts";

export const Unpack = defineKernel("unpack", (gpu, kernel) => ({
  run(tokens: GPUBuffer, c: number, h: number, w: number): GPUBuffer {
    const n = c * h * w;
    return runLatentKernel(gpu, kernel, tokens, n, n, [c, h, w], "unpacked");
  },
}));
