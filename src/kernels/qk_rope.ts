/**
 * Wrapper of shaders/qk_rope.wgsl: one stream's q, k, v of a joint-attention block from its
 * fused projection, q and k RMS-normed per head and rotated by RoPE tables, written at its rows
 * of the joint sequence; fp16 (`half`, packed) or fp32 storage. CPU reference: qk_rope_cpu.ts.
 * Not on the serving path: a part of the FLUX double block built from our kernels
 * (double_block.ts) that `bench/webgpu_ceiling.ts` measures.
 *
 * @example
 * ```ts ignore
 * const prep = await QkRope.create(gpu, { half: true });
 * prep.run(qkv, wq, wk, cos, sin, { q, k, v }, { S: 1024, H: 24, D: 128, rowOff: 512 });
 * ```
 */
import type { GpuContext } from "../gpu/context.ts";
import { Kernel } from "../gpu/kernel.ts";
import { checkBindings } from "./gemm.ts";

const WG = 64;

export class QkRope {
  private constructor(
    readonly gpu: GpuContext,
    readonly kernel: Kernel,
    readonly half: boolean,
  ) {}

  static async create(gpu: GpuContext, opts: { half?: boolean } = {}): Promise<QkRope> {
    const kernel = await Kernel.load(gpu.device, "qk_rope", { HALF: opts.half ? 1 : 0, WG });
    return new QkRope(gpu, kernel, !!opts.half);
  }

  /** Records (or submits) the stream's rows rowOff..rowOff + S of q, k and v. */
  run(
    qkv: GPUBuffer,
    wq: GPUBuffer,
    wk: GPUBuffer,
    cos: GPUBuffer,
    sin: GPUBuffer,
    out: { q: GPUBuffer; k: GPUBuffer; v: GPUBuffer },
    s: { S: number; H: number; D: number; rowOff: number; eps?: number },
    encoder?: GPUCommandEncoder,
  ): void {
    if (s.D % 2) throw new Error(`qk_rope needs an even head dimension (${s.D})`);
    checkBindings(this.gpu.device, { qkv: s.S * 3 * s.H * s.D * (this.half ? 2 : 4) });
    this.gpu.run(
      this.kernel,
      [out.q, out.k, out.v, qkv, wq, wk, cos, sin],
      [["u32", s.S], ["u32", s.H], ["u32", s.D], ["u32", s.rowOff], ["f32", s.eps ?? 1e-6]],
      Math.ceil((s.S * s.H) / WG),
      encoder,
    );
  }
}
