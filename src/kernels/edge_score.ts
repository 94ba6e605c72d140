/**
 * Wrapper of shaders/edge_score.wgsl: edge pixels (cls 2) in each `fp` x `fp` token
 * footprint, into a new pooled buffer. CPU reference: canny_cpu.ts `edgeScores`.
 *
 * @example
 * ```ts ignore
 * const scores = (await EdgeScore.create(gpu)).run(cls, 64, 64, 8);
 * ```
 */
import { type GpuContext, groupsFor } from "../gpu/context.ts";
import type { Kernel } from "../gpu/kernel.ts";

export class EdgeScore {
  private constructor(private readonly gpu: GpuContext, private readonly kernel: Kernel) {}

  static async create(gpu: GpuContext): Promise<EdgeScore> {
    return new EdgeScore(gpu, await gpu.load("edge_score"));
  }

  run(cls: GPUBuffer, w: number, h: number, fp: number): GPUBuffer {
    const scores = this.gpu.empty((w / fp) * (h / fp) * 4, "scores");
    const enc = this.gpu.device.createCommandEncoder({ label: "edge scores" });
    enc.clearBuffer(scores);
    this.gpu.run(
      this.kernel,
      [scores, cls],
      [["u32", w], ["u32", h], ["u32", fp]],
      groupsFor(w * h),
      enc,
    );
    this.gpu.device.queue.submit([enc.finish()]);
    return scores;
  }
}
