/**
 * The shader wrappers of one device, created together: one `src/kernels/<shader>.ts` per
 * `shaders/<shader>.wgsl`, on a shared {@link GpuContext} (pool, uniforms, readbacks).
 * Adds the one composite the samplers use whole: gray + Canny (Sobel, NMS, hysteresis).
 *
 * @example
 * ```ts ignore
 * const gpu = await GpuOps.create(device);
 * gpu.k.euler.run(x, v, -0.02, count);
 * gpu.dispose();
 * ```
 */
import { GpuContext } from "../gpu/context.ts";
import { Affine } from "./affine.ts";
import { CannyHysteresis } from "./canny_hysteresis.ts";
import { CannyNms } from "./canny_nms.ts";
import { CannySobel } from "./canny_sobel.ts";
import type { GrayMode } from "./canny_cpu.ts";
import { CfgCombine } from "./cfg_combine.ts";
import { CleanEstimate } from "./clean_estimate.ts";
import { Downsample } from "./downsample.ts";
import { EdgeScore } from "./edge_score.ts";
import { Euler } from "./euler.ts";
import { Gaussian } from "./gaussian.ts";
import { Gray } from "./gray.ts";
import { Noise } from "./noise.ts";
import { Pack } from "./pack.ts";
import { Preview } from "./preview.ts";
import { ReorderLanes } from "./reorder_lanes.ts";
import { RepackStage2 } from "./repack_stage2.ts";
import { RepackStage3 } from "./repack_stage3.ts";
import { Topk } from "./topk.ts";
import { Unpack } from "./unpack.ts";
import { Upsample } from "./upsample.ts";

async function createKernels(gpu: GpuContext) {
  return {
    affine: await Affine.create(gpu),
    cannyHysteresis: await CannyHysteresis.create(gpu),
    cannyNms: await CannyNms.create(gpu),
    cannySobel: await CannySobel.create(gpu),
    cfgCombine: await CfgCombine.create(gpu),
    cleanEstimate: await CleanEstimate.create(gpu),
    downsample: await Downsample.create(gpu),
    edgeScore: await EdgeScore.create(gpu),
    euler: await Euler.create(gpu),
    gaussian: await Gaussian.create(gpu),
    gray: await Gray.create(gpu),
    noise: await Noise.create(gpu),
    pack: await Pack.create(gpu),
    preview: await Preview.create(gpu),
    reorderLanes: await ReorderLanes.create(gpu),
    repackStage2: await RepackStage2.create(gpu),
    repackStage3: await RepackStage3.create(gpu),
    topk: await Topk.create(gpu),
    unpack: await Unpack.create(gpu),
    upsample: await Upsample.create(gpu),
  };
}

export type ShaderKernels = Awaited<ReturnType<typeof createKernels>>;

export class GpuOps {
  readonly name = "webgpu";
  /** Set when the device is lost: the owner rebuilds (pipeline/registry.ts). */
  lost = false;

  private constructor(readonly ctx: GpuContext, readonly k: ShaderKernels) {}

  static async create(device: GPUDevice): Promise<GpuOps> {
    const ctx = new GpuContext(device);
    const ops = new GpuOps(ctx, await createKernels(ctx));
    device.lost.then(() => (ops.lost = true));
    return ops;
  }

  get device(): GPUDevice {
    return this.ctx.device;
  }

  get pool() {
    return this.ctx.pool;
  }

  /** Labels of the buffers read back to the host, in order. */
  get readbacks(): string[] {
    return this.ctx.readbacks;
  }

  /** Canny (thresholds 100 / 200) of gray levels on the device: the cls buffer (2 = edge). */
  async cannyOfGray(gray: GPUBuffer, w: number, h: number): Promise<GPUBuffer> {
    const enc = this.device.createCommandEncoder({ label: "canny" });
    const sobel = this.k.cannySobel.record(enc, gray, w, h);
    const cls = this.k.cannyNms.record(enc, sobel, w, h, 100, 200);
    this.device.queue.submit([enc.finish()]);
    this.ctx.release(sobel.dx, sobel.dy, sobel.mag);
    await this.k.cannyHysteresis.toFixedPoint(cls, w, h);
    return cls;
  }

  /** Decoded `[3, H, W]` in [-1, 1] → gray levels → Canny classes (2 = edge). */
  async canny(image: GPUBuffer, w: number, h: number, mode: GrayMode): Promise<GPUBuffer> {
    const gray = this.k.gray.run(image, w, h, mode);
    try {
      return await this.cannyOfGray(gray, w, h);
    } finally {
      this.ctx.release(gray);
    }
  }

  /** The edge map (1 = edge) of a cls buffer, read back. */
  async readEdges(cls: GPUBuffer, pixels: number): Promise<Uint8Array> {
    const r = await this.ctx.read(cls, pixels * 4, Uint32Array);
    return Uint8Array.from(r, (v) => (v === 2 ? 1 : 0));
  }

  /** Canny of host gray levels (the `edges` tool). */
  async cannyHostGray(gray: Uint8Array, w: number, h: number): Promise<Uint8Array> {
    const g = this.ctx.upload(Uint32Array.from(gray), "gray");
    const cls = await this.cannyOfGray(g, w, h);
    const edges = await this.readEdges(cls, w * h);
    this.ctx.release(g, cls);
    return edges;
  }

  dispose(): void {
    this.ctx.dispose();
  }
}
