/**
 * Wrapper of shaders/repack_stage2.wgsl: RALU's stage-2 sequence — unselected tokens in
 * order, then each of the `selected` marked tokens as 4 copies with fractional ids, and
 * the copy groups for correlated noise. Pooled buffers the caller releases. CPU
 * reference: repack_cpu.ts `repackStage2`.
 *
 * @example
 * ```ts ignore
 * const r = (await RepackStage2.create(gpu)).run(tokens, ids, mask, 64, 19, 16);
 * ```
 */
import type { GpuContext } from "../gpu/context.ts";
import type { Kernel } from "../gpu/kernel.ts";

/** A repacked sequence left on the device. */
export interface DeviceRepacked {
  tokens: GPUBuffer;
  ids: GPUBuffer;
  groups: GPUBuffer;
  count: number;
  lowCount: number;
}

export class RepackStage2 {
  private constructor(private readonly gpu: GpuContext, private readonly kernel: Kernel) {}

  static async create(gpu: GpuContext): Promise<RepackStage2> {
    return new RepackStage2(gpu, await gpu.load("repack_stage2"));
  }

  run(
    tokens: GPUBuffer,
    ids: GPUBuffer,
    mask: GPUBuffer,
    n: number,
    selected: number,
    dim: number,
  ): DeviceRepacked {
    const count = n + 3 * selected;
    const out = {
      tokens: this.gpu.empty(count * dim * 4, "stage2 tokens"),
      ids: this.gpu.empty(count * 12, "stage2 ids"),
      groups: this.gpu.empty(count * 16, "stage2 groups"),
      count,
      lowCount: n - selected,
    };
    const info = this.gpu.empty(8, "stage2 info");
    this.gpu.run(
      this.kernel,
      [out.tokens, out.ids, out.groups, info, tokens, ids, mask],
      [["u32", n], ["u32", dim]],
      1,
    );
    this.gpu.release(info);
    return out;
  }
}
