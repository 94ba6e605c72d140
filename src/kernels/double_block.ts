/**
 * A FLUX double block built from our WGSL kernels (gemm, ln_modulate, qk_rope, attention), for
 * `bench/webgpu_ceiling.ts` to set against ORT-web's graph of the same block and PyTorch; not
 * on the serving path. Batch 1; text tokens first in the joint sequence, as FLUX orders them.
 *
 * Per stream (text, image): the modulation vector `linear(silu(temb))` (six chunks: shift,
 * scale, gate, shift2, scale2, gate2; fp32), the modulated norm, one fused q|k|v product, q/k
 * RMS norm + RoPE into the joint q, k, v; then one attention over both; per stream again the
 * output projection with the gated residual add, the second modulated norm, the MLP (GELU
 * fused into its first product) and its gated residual add. Twelve products, four norms, two
 * placements, one attention — every op of the block, each a kernel, no host round trip.
 *
 * @example
 * ```ts ignore
 * const block = await DoubleBlock.create(gpu, { half: true, dim: 3072, heads: 24 });
 * const { img, txt } = block.run(weights, { img: x, txt: c, siluTemb, cos, sin }, { Si: 1024, St: 512 });
 * ```
 */
import type { GpuContext } from "../gpu/context.ts";
import { Attention } from "./attention.ts";
import { Gemm } from "./gemm.ts";
import { LnModulate } from "./ln_modulate.ts";
import { QkRope } from "./qk_rope.ts";

/** One stream's weights as GPU buffers: matrices [in, out] in the storage type, the rest fp32. */
export interface StreamWeights {
  mod: GPUBuffer;
  modBias: GPUBuffer;
  /** [dim, 3 dim]: q | k | v. */
  qkv: GPUBuffer;
  qkvBias: GPUBuffer;
  normQ: GPUBuffer;
  normK: GPUBuffer;
  out: GPUBuffer;
  outBias: GPUBuffer;
  ff1: GPUBuffer;
  ff1Bias: GPUBuffer;
  ff2: GPUBuffer;
  ff2Bias: GPUBuffer;
}

export interface BlockInputs {
  /** [Si, dim] and [St, dim] in the storage type. */
  img: GPUBuffer;
  txt: GPUBuffer;
  /** [1, dim] in the storage type: silu(temb). */
  siluTemb: GPUBuffer;
  /** [St + Si, D] fp32 RoPE tables of the joint sequence. */
  cos: GPUBuffer;
  sin: GPUBuffer;
}

export class DoubleBlock {
  private constructor(
    readonly gpu: GpuContext,
    readonly half: boolean,
    readonly dim: number,
    readonly heads: number,
    private readonly gemm: Gemm,
    private readonly gemmMod: Gemm,
    private readonly ln: LnModulate,
    private readonly prep: QkRope,
    private readonly attention: Attention,
  ) {}

  static async create(
    gpu: GpuContext,
    o: { half?: boolean; dim: number; heads: number },
  ): Promise<DoubleBlock> {
    const half = !!o.half;
    return new DoubleBlock(
      gpu,
      half,
      o.dim,
      o.heads,
      await Gemm.create(gpu, { half }),
      await Gemm.create(gpu, { half, outF32: true }),
      await LnModulate.create(gpu, { half }),
      await QkRope.create(gpu, { half }),
      await Attention.create(gpu, { half, headDim: o.dim / o.heads }),
    );
  }

  /** Bytes of `elements` values in the storage type. */
  bytes(elements: number): number {
    return elements * (this.half ? 2 : 4);
  }

  /**
   * Records the block into `encoder` (submitted here when not given); returns the new image
   * and text tokens and every intermediate buffer to release once the work is done.
   */
  run(
    w: { img: StreamWeights; txt: StreamWeights },
    x: BlockInputs,
    n: { Si: number; St: number },
    encoder?: GPUCommandEncoder,
  ): { img: GPUBuffer; txt: GPUBuffer; scratch: GPUBuffer[] } {
    const g = this.gpu, dim = this.dim, H = this.heads, D = dim / H, S = n.Si + n.St;
    const enc = encoder ?? g.device.createCommandEncoder({ label: "double block" });
    const scratch: GPUBuffer[] = [];
    const keep = (b: GPUBuffer) => (scratch.push(b), b);
    const joint = () => keep(g.empty(this.bytes(S * dim), "joint"));
    const q = joint(), k = joint(), v = joint();
    const streams = [
      { sw: w.txt, x: x.txt, rows: n.St, off: 0 },
      { sw: w.img, x: x.img, rows: n.Si, off: n.St },
    ];
    const mods = streams.map((s) => {
      const m = keep(this.gemmMod.run(x.siluTemb, s.sw.mod, {
        M: 1,
        K: dim,
        N: 6 * dim,
        bias: s.sw.modBias,
      }, enc));
      const normed = keep(this.ln.run(s.x, m, {
        rows: s.rows,
        cols: dim,
        shiftOff: 0,
        scaleOff: dim,
      }, enc));
      const qkv = keep(this.gemm.run(normed, s.sw.qkv, {
        M: s.rows,
        K: dim,
        N: 3 * dim,
        bias: s.sw.qkvBias,
      }, enc));
      this.prep.run(qkv, s.sw.normQ, s.sw.normK, x.cos, x.sin, { q, k, v }, {
        S: s.rows,
        H,
        D,
        rowOff: s.off,
      }, enc);
      return m;
    });
    const o = keep(this.attention.run(q, k, v, { B: 1, S, H }, enc));
    const outs = streams.map((s, i) => {
      const m = mods[i]!;
      // this stream's rows of the attention output, as the output projection's A
      const part = keep(g.empty(this.bytes(s.rows * dim), "attention rows"));
      enc.copyBufferToBuffer(o, this.bytes(s.off * dim), part, 0, this.bytes(s.rows * dim));
      const mid = keep(this.gemm.run(part, s.sw.out, {
        M: s.rows,
        K: dim,
        N: dim,
        bias: s.sw.outBias,
        epilogue: "residual",
        gate: m,
        gateOffset: 2 * dim,
        res: s.x,
      }, enc));
      const normed = keep(this.ln.run(mid, m, {
        rows: s.rows,
        cols: dim,
        shiftOff: 3 * dim,
        scaleOff: 4 * dim,
      }, enc));
      const hidden = keep(this.gemm.run(normed, s.sw.ff1, {
        M: s.rows,
        K: dim,
        N: 4 * dim,
        bias: s.sw.ff1Bias,
        epilogue: "gelu",
      }, enc));
      return this.gemm.run(hidden, s.sw.ff2, {
        M: s.rows,
        K: 4 * dim,
        N: dim,
        bias: s.sw.ff2Bias,
        epilogue: "residual",
        gate: m,
        gateOffset: 5 * dim,
        res: mid,
      }, enc);
    });
    if (!encoder) g.device.queue.submit([enc.finish()]);
    return { txt: outs[0]!, img: outs[1]!, scratch };
  }

  dispose(): void {
    this.gemm.dispose();
    this.gemmMod.dispose();
  }
}
