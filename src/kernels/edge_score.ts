/**
 * Wrapper of shaders/edge_score.wgsl: edge pixels (cls 2) in each `fp` x `fp` token
 * footprint, into a new pooled buffer. CPU reference: canny_cpu.ts `edgeScores`.
 *
 * @example
 * ```ts ignore
 * const scores = (await EdgeScore.create(gpu)).run(cls, 64, 64, 8);
 * ```
 */
import { defineKernel, groupsFor } from "../gpu/context.ts";

export const EdgeScore = defineKernel("edge_score", (gpu, kernel) => ({
  run(cls: GPUBuffer, w: number, h: number, fp: number): GPUBuffer {
    const scores = gpu.empty((w / fp) * (h / fp) * 4, "scores");
    const enc = gpu.device.createCommandEncoder({ label: "edge scores" });
    enc.clearBuffer(scores);
    gpu.run(
      kernel,
      [scores, cls],
      [["u32", w], ["u32", h], ["u32", fp]],
      groupsFor(w * h),
      enc,
    );
    gpu.device.queue.submit([enc.finish()]);
    return scores;
  },
}));
