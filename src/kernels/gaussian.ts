/**
 * Wrapper of shaders/gaussian.wgsl: N(0, 1) numbers from Philox 4x32 + Box-Muller, keyed
 * by (seed, stream, index), into a new pooled buffer. CPU reference: philox_cpu.ts
 * `gaussian` (the same numbers).
 *
 * @example
 * ```ts ignore
 * const noise = (await Gaussian.create(gpu)).run(1234, 0, 0, 4096);
 * ```
 */
import { type GpuContext, groupsFor } from "../gpu/context.ts";
import type { Kernel } from "../gpu/kernel.ts";
import { seedKey } from "./philox_cpu.ts";

export class Gaussian {
  private constructor(private readonly gpu: GpuContext, private readonly kernel: Kernel) {}

  static async create(gpu: GpuContext): Promise<Gaussian> {
    return new Gaussian(gpu, await gpu.load("gaussian"));
  }

  run(seed: number, stream: number, start: number, count: number): GPUBuffer {
    const [lo, hi] = seedKey(seed);
    const out = this.gpu.empty(count * 4, "gaussian out");
    this.gpu.run(this.kernel, [out], [
      ["u32", lo],
      ["u32", hi],
      ["u32", stream],
      ["u32", start],
      ["u32", count],
    ], groupsFor(count));
    return out;
  }
}
