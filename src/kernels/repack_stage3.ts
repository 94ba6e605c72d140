/**
 * Wrapper of shaders/repack_stage3.wgsl: RALU's stage-3 expansion of an `n`-token mixed
 * sequence to the full `cols x rows` grid in raster order (the leading `lowCount` tokens
 * become 4 copies each). Pooled buffers the caller releases. CPU reference: repack_cpu.ts
 * `expandStage3`.
 *
 * @example
 * ```ts ignore
 * const full = (await RepackStage3.create(gpu)).run(tokens, ids, 121, 45, 16, 16, 16);
 * ```
 */
import { type GpuContext, groupsFor } from "../gpu/context.ts";
import type { Kernel } from "../gpu/kernel.ts";
import type { DeviceRepacked } from "./repack_stage2.ts";

export class RepackStage3 {
  private constructor(private readonly gpu: GpuContext, private readonly kernel: Kernel) {}

  static async create(gpu: GpuContext): Promise<RepackStage3> {
    return new RepackStage3(gpu, await gpu.load("repack_stage3"));
  }

  run(
    tokens: GPUBuffer,
    ids: GPUBuffer,
    n: number,
    lowCount: number,
    dim: number,
    cols: number,
    rows: number,
  ): DeviceRepacked {
    const count = cols * rows;
    const out = {
      tokens: this.gpu.empty(count * dim * 4, "stage3 tokens"),
      ids: this.gpu.empty(count * 12, "stage3 ids"),
      groups: this.gpu.empty(count * 16, "stage3 groups"),
      count,
      lowCount: 0,
    };
    this.gpu.run(
      this.kernel,
      [out.tokens, out.ids, out.groups, tokens, ids],
      [["u32", n], ["u32", lowCount], ["u32", dim], ["u32", cols]],
      groupsFor(n),
    );
    return out;
  }
}
