/**
 * Wrapper of shaders/cfg_combine.wgsl: classifier-free guidance `v_u + g (v_c - v_u)` of a
 * batched `[2, count]` DiT output, into a new pooled buffer.
 *
 * @example
 * ```ts ignore
 * const v = (await CfgCombine.create(gpu)).run(batch, 3.5, count);
 * ```
 */
import { type GpuContext, groupsFor } from "../gpu/context.ts";
import type { Kernel } from "../gpu/kernel.ts";

export class CfgCombine {
  private constructor(private readonly gpu: GpuContext, private readonly kernel: Kernel) {}

  static async create(gpu: GpuContext): Promise<CfgCombine> {
    return new CfgCombine(gpu, await gpu.load("cfg_combine"));
  }

  run(batch: GPUBuffer, guidance: number, count: number): GPUBuffer {
    const out = this.gpu.empty(count * 4, "guided v");
    this.gpu.run(this.kernel, [out, batch], [["f32", guidance], ["u32", count]], groupsFor(count));
    return out;
  }
}
