/**
 * Wrapper of shaders/canny_nms.wgsl: non-maximum suppression in four directions and the
 * double threshold, recorded into `encoder`; classes 0 none, 1 weak, 2 strong. CPU
 * reference: canny_cpu.ts `classify`.
 *
 * @example
 * ```ts ignore
 * const cls = (await CannyNms.create(gpu)).record(encoder, sobel, 64, 64, 100, 200);
 * ```
 */
import { defineKernel, groupsFor } from "../gpu/context.ts";

export const CannyNms = defineKernel("canny_nms", (gpu, kernel) => ({
  record(
    encoder: GPUCommandEncoder,
    s: { dx: GPUBuffer; dy: GPUBuffer; mag: GPUBuffer },
    w: number,
    h: number,
    low: number,
    high: number,
  ): GPUBuffer {
    const cls = gpu.empty(w * h * 4, "cls");
    gpu.run(
      kernel,
      [cls, s.dx, s.dy, s.mag],
      [["u32", w], ["u32", h], ["i32", low], ["i32", high]],
      groupsFor(w * h),
      encoder,
    );
    return cls;
  },
}));
