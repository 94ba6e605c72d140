/**
 * Wrapper of shaders/canny_sobel.wgsl: 3x3 Sobel dx, dy (replicated border) and the L1
 * magnitude of gray levels, recorded into `encoder`. CPU reference: canny_cpu.ts `sobel`.
 *
 * @example
 * ```ts ignore
 * const { dx, dy, mag } = (await CannySobel.create(gpu)).record(encoder, gray, 64, 64);
 * ```
 */
import { type GpuContext, groupsFor } from "../gpu/context.ts";
import type { Kernel } from "../gpu/kernel.ts";

export class CannySobel {
  private constructor(private readonly gpu: GpuContext, private readonly kernel: Kernel) {}

  static async create(gpu: GpuContext): Promise<CannySobel> {
    return new CannySobel(gpu, await gpu.load("canny_sobel"));
  }

  record(encoder: GPUCommandEncoder, gray: GPUBuffer, w: number, h: number) {
    const n = w * h;
    const out = {
      dx: this.gpu.empty(n * 4, "dx"),
      dy: this.gpu.empty(n * 4, "dy"),
      mag: this.gpu.empty(n * 4, "mag"),
    };
    this.gpu.run(
      this.kernel,
      [out.dx, out.dy, out.mag, gray],
      [["u32", w], ["u32", h]],
      groupsFor(n),
      encoder,
    );
    return out;
  }
}
