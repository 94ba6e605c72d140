/**
 * Wrapper of shaders/noise.wgsl: correlated noise injection at a RALU boundary,
 * `x ← beta x + alpha n`, in place; with an anchor, `g` comes from the seed's noise.
 * CPU reference: noise_cpu.ts `injectNoise`.
 *
 * @example
 * ```ts ignore
 * (await Noise.create(gpu)).inject(x, groups, count, 16, params);
 * ```
 */
import { defineKernel, groupsFor } from "../gpu/context.ts";
import { type Anchor, groupCoefficient, type NoiseParams } from "./noise_cpu.ts";
import { seedKey } from "./philox_cpu.ts";

export const Noise = defineKernel("noise", (gpu, kernel) => ({
  inject(
    x: GPUBuffer,
    groups: GPUBuffer,
    count: number,
    dim: number,
    p: NoiseParams,
    anchor?: Anchor<GPUBuffer, GPUBuffer>,
  ): void {
    const [lo, hi] = seedKey(p.seed);
    const none = anchor ? undefined : gpu.empty(4, "no anchor");
    gpu.run(kernel, [x, groups, anchor?.values ?? none!, anchor?.of ?? none!], [
      ["u32", lo],
      ["u32", hi],
      ["u32", p.boundary],
      ["u32", dim],
      ["u32", count],
      ["f32", p.beta],
      ["f32", p.alpha],
      ["f32", groupCoefficient(p.c)],
      ["f32", p.exactScale],
      ["u32", anchor ? 1 : 0],
    ], groupsFor(count * dim));
    gpu.release(none);
  },
}));
