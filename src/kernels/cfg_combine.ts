/**
 * Wrapper of shaders/cfg_combine.wgsl: classifier-free guidance `v_u + g (v_c - v_u)` of a
 * batched `[2, count]` DiT output, into a new pooled buffer.
 *
 * @example
 * ```ts ignore
 * const v = (await CfgCombine.create(gpu)).run(batch, 3.5, count);
 * ```
 */
import { defineKernel, groupsFor } from "../gpu/context.ts";

export const CfgCombine = defineKernel("cfg_combine", (gpu, kernel) => ({
  run(batch: GPUBuffer, guidance: number, count: number): GPUBuffer {
    const out = gpu.empty(count * 4, "guided v");
    gpu.run(kernel, [out, batch], [["f32", guidance], ["u32", count]], groupsFor(count));
    return out;
  },
}));
