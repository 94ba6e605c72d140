/**
 * Wrapper of shaders/gray.wgsl: a decoded image `[3, H, W]` in [-1, 1] → gray levels
 * 0..255 (u32 per pixel), into a new pooled buffer. CPU reference: canny_cpu.ts
 * `grayFromDecoded` (the same levels).
 *
 * @example
 * ```ts ignore
 * const gray = (await Gray.create(gpu)).run(image, 64, 64, "ours");
 * ```
 */
import { defineKernel, groupsFor } from "../gpu/context.ts";
import type { GrayMode } from "./canny_cpu.ts";

export const Gray = defineKernel("gray", (gpu, kernel) => ({
  run(image: GPUBuffer, w: number, h: number, mode: GrayMode): GPUBuffer {
    const out = gpu.empty(w * h * 4, "gray");
    gpu.run(
      kernel,
      [out, image],
      [["u32", w], ["u32", h], ["u32", mode === "ours" ? 0 : 1]],
      groupsFor(w * h),
    );
    return out;
  },
}));
