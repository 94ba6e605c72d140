/**
 * A FLUX double block built from our WGSL kernels (gemm, ln_modulate, qk_rope, attention), for
 * `bench/webgpu_ceiling.ts` to set against ORT-web's graph of the same block and PyTorch; not
 * on the serving path. Batch 1; text tokens first in the joint sequence, as FLUX orders them.
 *
 * Per stream (text, image): the modulation vector `linear(silu(temb))` (six chunks: shift,
 * scale, gate, shift2, scale2, gate2; fp32), the modulated norm, one fused q|k|v product, q/k
 * RMS norm + RoPE into the joint q, k, v; then one attention over both; per stream again the
 * output projection with the gated residual add, the second modulated norm, the MLP (GELU
 * fused into its first product) and its gated residual add. Ten products, four norms, two
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
import { Gemm, type GemmTile } from "./gemm.ts";
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

/** The modulation products' tile: M = 1. */
const ROW_TILE: GemmTile = { wgX: 64, wgY: 1, tm: 1, tn: 4, tk: 8 };

/** One kernel of the block (or a copy), recordable alone. */
export interface BlockStep {
  name: string;
  record(enc: GPUCommandEncoder): void;
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
      // one row (silu(temb)): a tile one row tall, not 64 rows of which 63 are padding
      await Gemm.create(gpu, { half, outF32: true, tile: ROW_TILE }),
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
   * The block as steps over buffers made here: each step records its kernel(s) into an
   * encoder, in order. `img` and `txt` are the new tokens; `scratch` every other buffer made
   * (release both once the work is done). A step can be recorded alone (the benchmark times
   * each kernel that way).
   */
  plan(
    w: { img: StreamWeights; txt: StreamWeights },
    x: BlockInputs,
    n: { Si: number; St: number },
  ): { steps: BlockStep[]; img: GPUBuffer; txt: GPUBuffer; scratch: GPUBuffer[] } {
    const g = this.gpu, dim = this.dim, H = this.heads, D = dim / H, S = n.Si + n.St;
    const scratch: GPUBuffer[] = [];
    const make = (elements: number, label: string, f32 = false) => {
      const b = g.empty(f32 ? elements * 4 : this.bytes(elements), label);
      scratch.push(b);
      return b;
    };
    const steps: BlockStep[] = [];
    const step = (name: string, record: (enc: GPUCommandEncoder) => void) =>
      steps.push({ name, record });
    const [q, k, v] = [make(S * dim, "q"), make(S * dim, "k"), make(S * dim, "v")];
    const o = make(S * dim, "attention out");
    const streams = [
      { name: "text", sw: w.txt, x: x.txt, rows: n.St, off: 0 },
      { name: "image", sw: w.img, x: x.img, rows: n.Si, off: n.St },
    ].map((s) => ({
      ...s,
      mods: make(6 * dim, "modulation", true),
      normed: make(s.rows * dim, "normed"),
      qkv: make(s.rows * 3 * dim, "qkv"),
      part: make(s.rows * dim, "attention rows"),
      mid: make(s.rows * dim, "mid"),
      normed2: make(s.rows * dim, "normed 2"),
      hidden: make(s.rows * 4 * dim, "mlp hidden"),
      out: make(s.rows * dim, "out"),
    }));
    for (const s of streams) {
      const sw = s.sw, rows = s.rows;
      step(
        `${s.name}: modulation (gemm 1 x ${dim} x ${6 * dim})`,
        (enc) =>
          this.gemmMod.run(
            x.siluTemb,
            sw.mod,
            { M: 1, K: dim, N: 6 * dim, bias: sw.modBias },
            enc,
            s.mods,
          ),
      );
      step(
        `${s.name}: ln_modulate`,
        (enc) =>
          this.ln.run(s.x, s.mods, { rows, cols: dim, shiftOff: 0, scaleOff: dim }, enc, s.normed),
      );
      step(
        `${s.name}: qkv (gemm ${rows} x ${dim} x ${3 * dim})`,
        (enc) =>
          this.gemm.run(
            s.normed,
            sw.qkv,
            { M: rows, K: dim, N: 3 * dim, bias: sw.qkvBias },
            enc,
            s.qkv,
          ),
      );
      step(
        `${s.name}: qk_rope`,
        (enc) =>
          this.prep.run(s.qkv, sw.normQ, sw.normK, x.cos, x.sin, { q, k, v }, {
            S: rows,
            H,
            D,
            rowOff: s.off,
          }, enc),
      );
    }
    step(
      `attention (${S} tokens, ${H} x ${D})`,
      (enc) => this.attention.run(q, k, v, { B: 1, S, H }, enc, o),
    );
    for (const s of streams) {
      const sw = s.sw, rows = s.rows;
      step(
        `${s.name}: attention rows (copy)`,
        (enc) =>
          enc.copyBufferToBuffer(o, this.bytes(s.off * dim), s.part, 0, this.bytes(rows * dim)),
      );
      step(
        `${s.name}: output projection + gated residual (gemm ${rows} x ${dim} x ${dim})`,
        (enc) =>
          this.gemm.run(
            s.part,
            sw.out,
            {
              M: rows,
              K: dim,
              N: dim,
              bias: sw.outBias,
              epilogue: "residual",
              gate: s.mods,
              gateOffset: 2 * dim,
              res: s.x,
            },
            enc,
            s.mid,
          ),
      );
      step(
        `${s.name}: ln_modulate 2`,
        (enc) =>
          this.ln.run(
            s.mid,
            s.mods,
            { rows, cols: dim, shiftOff: 3 * dim, scaleOff: 4 * dim },
            enc,
            s.normed2,
          ),
      );
      step(
        `${s.name}: mlp in + GELU (gemm ${rows} x ${dim} x ${4 * dim})`,
        (enc) =>
          this.gemm.run(
            s.normed2,
            sw.ff1,
            {
              M: rows,
              K: dim,
              N: 4 * dim,
              bias: sw.ff1Bias,
              epilogue: "gelu",
            },
            enc,
            s.hidden,
          ),
      );
      step(
        `${s.name}: mlp out + gated residual (gemm ${rows} x ${4 * dim} x ${dim})`,
        (enc) =>
          this.gemm.run(
            s.hidden,
            sw.ff2,
            {
              M: rows,
              K: 4 * dim,
              N: dim,
              bias: sw.ff2Bias,
              epilogue: "residual",
              gate: s.mods,
              gateOffset: 5 * dim,
              res: s.mid,
            },
            enc,
            s.out,
          ),
      );
    }
    const [txt, img] = streams.map((s) => s.out) as [GPUBuffer, GPUBuffer];
    return { steps, txt, img, scratch: scratch.filter((b) => b !== txt && b !== img) };
  }

  /** Records the whole block into `encoder` (submitted here when not given). */
  run(
    w: { img: StreamWeights; txt: StreamWeights },
    x: BlockInputs,
    n: { Si: number; St: number },
    encoder?: GPUCommandEncoder,
  ): { img: GPUBuffer; txt: GPUBuffer; scratch: GPUBuffer[] } {
    const enc = encoder ?? this.gpu.device.createCommandEncoder({ label: "double block" });
    const p = this.plan(w, x, n);
    for (const s of p.steps) s.record(enc);
    if (!encoder) this.gpu.device.queue.submit([enc.finish()]);
    return { img: p.img, txt: p.txt, scratch: p.scratch };
  }

  dispose(): void {
    this.gemm.dispose();
    this.gemmMod.dispose();
  }
}
