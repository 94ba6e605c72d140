/**
 * Wrapper of shaders/canny_hysteresis.wgsl: sweeps that promote weak pixels touching
 * strong ones, repeated until a check finds nothing changed (a fixed point; the update is
 * monotone). In place on the cls buffer (2 = edge). CPU reference: canny_cpu.ts
 * `hysteresis`.
 *
 * @example
 * ```ts ignore
 * await (await CannyHysteresis.create(gpu)).toFixedPoint(cls, 64, 64);
 * ```
 */
import { defineKernel, groupsFor } from "../gpu/context.ts";

/** Sweeps recorded between reads of the `changed` flag (each read is a round trip). */
const SWEEPS_PER_CHECK = 8;

export const CannyHysteresis = defineKernel("canny_hysteresis", (gpu, kernel) => ({
  async toFixedPoint(cls: GPUBuffer, w: number, h: number): Promise<void> {
    const changed = gpu.empty(4, "changed");
    try {
      for (;;) {
        const enc = gpu.device.createCommandEncoder({ label: "hysteresis" });
        enc.clearBuffer(changed);
        for (let i = 0; i < SWEEPS_PER_CHECK; i++) {
          gpu.run(
            kernel,
            [cls, changed],
            [["u32", w], ["u32", h]],
            groupsFor(w * h),
            enc,
          );
        }
        gpu.device.queue.submit([enc.finish()]);
        if ((await gpu.read(changed, 4, Uint32Array))[0] === 0) return;
      }
    } finally {
      gpu.release(changed);
    }
  },
}));
