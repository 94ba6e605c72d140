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
import { defineKernel, groupsFor } from "../gpu/context.ts";
import type { DeviceRepacked } from "./repack_stage2.ts";

export const RepackStage3 = defineKernel("repack_stage3", (gpu, kernel) => ({
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
      tokens: gpu.empty(count * dim * 4, "stage3 tokens"),
      ids: gpu.empty(count * 12, "stage3 ids"),
      groups: gpu.empty(count * 16, "stage3 groups"),
      count,
      lowCount: 0,
    };
    gpu.run(
      kernel,
      [out.tokens, out.ids, out.groups, tokens, ids],
      [["u32", n], ["u32", lowCount], ["u32", dim], ["u32", cols]],
      groupsFor(n),
    );
    return out;
  },
}));
