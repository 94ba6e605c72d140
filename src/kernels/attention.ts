/**
 * Wrapper of shaders/attention.wgsl: tiled attention with an online softmax over
 * [B, S, H, D] tensors (joint text + image tokens are one sequence), fp16 or fp32 storage,
 * fp32 statistics. The tiling is a pipeline constant: {@link AttentionTile}. Not on the
 * serving path: `bench/webgpu_ceiling.ts` measures it against ORT-web and PyTorch.
 *
 * @example
 * ```ts ignore
 * const att = await Attention.create(gpu, { half: true, headDim: 128 });
 * const o = att.run(q, k, v, { B: 1, S: 4608, H: 24 });
 * ```
 */
import { type GpuContext } from "../gpu/context.ts";
import { Kernel } from "../gpu/kernel.ts";
import { checkBindings, workgroupProblem } from "./gemm.ts";

/** Query rows per workgroup, invocations per row (each owns D / tpr dimensions), keys per tile. */
export interface AttentionTile {
  bq: number;
  tpr: number;
  bk: number;
}

export const DEFAULT_ATTENTION_TILE: AttentionTile = { bq: 16, tpr: 4, bk: 8 };

/** Why a tiling cannot run for head dimension `D`, or undefined. */
export function attentionTileProblem(
  t: AttentionTile,
  D: number,
  limits: GPUSupportedLimits,
): string | undefined {
  const dt = D / t.tpr;
  if (!Number.isInteger(dt) || dt % 2 || dt > 64) return `D / tpr must be even and <= 64 (${dt})`;
  if (t.bk < 1 || t.bk > 64) return "bk 1..64";
  return workgroupProblem(t.bq * t.tpr, 4 * (2 * t.bk * D + t.bq * t.tpr * t.bk), limits);
}

export class Attention {
  private constructor(
    readonly gpu: GpuContext,
    readonly kernel: Kernel,
    readonly half: boolean,
    readonly headDim: number,
    readonly tile: AttentionTile,
  ) {}

  static async create(
    gpu: GpuContext,
    opts: { half?: boolean; headDim: number; tile?: AttentionTile },
  ): Promise<Attention> {
    const tile = opts.tile ?? DEFAULT_ATTENTION_TILE;
    const problem = attentionTileProblem(tile, opts.headDim, gpu.device.limits);
    if (problem) throw new Error(`attention tile ${JSON.stringify(tile)}: ${problem}`);
    const kernel = await Kernel.load(gpu.device, "attention", {
      HALF: opts.half ? 1 : 0,
      D: opts.headDim,
      TPR: tile.tpr,
      BQ: tile.bq,
      BK: tile.bk,
    });
    return new Attention(gpu, kernel, !!opts.half, opts.headDim, tile);
  }

  /** Bytes of a [B, S, H, D] tensor in this kernel's storage type. */
  bytes(B: number, S: number, H: number): number {
    return B * S * H * this.headDim * (this.half ? 2 : 4);
  }

  /** Records (or submits) one attention into `out` (a new pooled buffer when not given). */
  run(
    q: GPUBuffer,
    k: GPUBuffer,
    v: GPUBuffer,
    s: { B: number; S: number; H: number; scale?: number },
    encoder?: GPUCommandEncoder,
    out?: GPUBuffer,
  ): GPUBuffer {
    const bytes = this.bytes(s.B, s.S, s.H);
    checkBindings(this.gpu.device, { "q, k, v and out": bytes });
    const o = out ?? this.gpu.empty(bytes, "attention out");
    const scale = s.scale ?? 1 / Math.sqrt(this.headDim);
    this.gpu.run(
      this.kernel,
      [o, q, k, v],
      [["u32", s.S], ["u32", s.H], ["f32", scale]],
      [Math.ceil(s.S / this.tile.bq), s.H, s.B],
      encoder,
    );
    return o;
  }
}
