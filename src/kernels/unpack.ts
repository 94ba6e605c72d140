/**
 * Wrapper of shaders/unpack.wgsl: tokens `[(h/2)(w/2), 4C]` → latent `[C, h, w]`, into a
 * new pooled buffer. CPU reference: pack_cpu.ts `unpack`.
 *
 * @example
 * ```ts ignore
 * const latent = (await Unpack.create(gpu)).run(tokens, 4, 32, 32);
 * ```
 */
import type { GpuContext } from "../gpu/context.ts";
import type { Kernel } from "../gpu/kernel.ts";
import { runLatentKernel } from "./pack.ts";

export class Unpack {
  private constructor(private readonly gpu: GpuContext, private readonly kernel: Kernel) {}

  static async create(gpu: GpuContext): Promise<Unpack> {
    return new Unpack(gpu, await gpu.load("unpack"));
  }

  run(tokens: GPUBuffer, c: number, h: number, w: number): GPUBuffer {
    const n = c * h * w;
    return runLatentKernel(this.gpu, this.kernel, tokens, n, n, [c, h, w], "unpacked");
  }
}
