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
import { defineKernel } from "../gpu/context.ts";

/** A repacked sequence left on the device. */
export interface DeviceRepacked {
  tokens: GPUBuffer;
  ids: GPUBuffer;
  groups: GPUBuffer;
  count: number;
  lowCount: number;
}

export const RepackStage2 = defineKernel("repack_stage2", (gpu, kernel) => ({
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
      tokens: gpu.empty(count * dim * 4, "stage2 tokens"),
      ids: gpu.empty(count * 12, "stage2 ids"),
      groups: gpu.empty(count * 16, "stage2 groups"),
      count,
      lowCount: n - selected,
    };
    const info = gpu.empty(8, "stage2 info");
    gpu.run(
      kernel,
      [out.tokens, out.ids, out.groups, info, tokens, ids, mask],
      [["u32", n], ["u32", dim]],
      1,
    );
    gpu.release(info);
    return out;
  },
}));
