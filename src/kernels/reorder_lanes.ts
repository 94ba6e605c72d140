/**
 * Wrapper of shaders/reorder_lanes.wgsl: tokens `[n, 4C]` from our lane order (c, dy, dx) to
 * SD3's (dy, dx, c), or back with `inverse`, into `out` (a new pooled buffer when not given).
 * CPU reference: ../pipeline/sd3.ts `reorderLanes`.
 *
 * @example
 * ```ts ignore
 * const theirs = (await ReorderLanes.create(gpu)).run(tokens, 16, n * 64);
 * ```
 */
import { defineKernel, groupsFor } from "../gpu/context.ts";

export const ReorderLanes = defineKernel("reorder_lanes", (gpu, kernel) => ({
  run(x: GPUBuffer, channels: number, count: number, inverse = false, out?: GPUBuffer): GPUBuffer {
    const o = out ?? gpu.empty(count * 4, "reordered");
    gpu.run(
      kernel,
      [o, x],
      [["u32", count], ["u32", channels], ["u32", inverse ? 1 : 0]],
      groupsFor(count),
    );
    return o;
  },
}));
