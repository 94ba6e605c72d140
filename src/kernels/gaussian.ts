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
import { defineKernel, groupsFor } from "../gpu/context.ts";
import { seedKey } from "./philox_cpu.ts";

export const Gaussian = defineKernel("gaussian", (gpu, kernel) => ({
  run(seed: number, stream: number, start: number, count: number): GPUBuffer {
    const [lo, hi] = seedKey(seed);
    const out = gpu.empty(count * 4, "gaussian out");
    gpu.run(kernel, [out], [
      ["u32", lo],
      ["u32", hi],
      ["u32", stream],
      ["u32", start],
      ["u32", count],
    ], groupsFor(count));
    return out;
  },
}));
