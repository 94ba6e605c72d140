/**
 * Wrapper of shaders/canny_sobel.wgsl: 3x3 Sobel dx, dy (replicated border) and the L1
 * magnitude of gray levels, recorded into `encoder`. CPU reference: canny_cpu.ts `sobel`.
 *
 * @example
 * ```ts ignore
 * const { dx, dy, mag } = (await CannySobel.create(gpu)).record(encoder, gray, 64, 64);
 * ```
 */
import { defineKernel, groupsFor } from "../gpu/context.ts";

export const CannySobel = defineKernel("canny_sobel", (gpu, kernel) => ({
  record(encoder: GPUCommandEncoder, gray: GPUBuffer, w: number, h: number) {
    const n = w * h;
    const out = {
      dx: gpu.empty(n * 4, "dx"),
      dy: gpu.empty(n * 4, "dy"),
      mag: gpu.empty(n * 4, "mag"),
    };
    gpu.run(
      kernel,
      [out.dx, out.dy, out.mag, gray],
      [["u32", w], ["u32", h]],
      groupsFor(n),
      encoder,
    );
    return out;
  },
}));
