/**
 * Wrapper of shaders/ln_modulate.wgsl: a DiT's adaLN-modulated LayerNorm of x [rows, cols]
 * with shift and scale read from an fp32 modulation vector at given offsets; fp16 (`half`,
 * packed) or fp32 storage. CPU reference: ln_modulate_cpu.ts. Not on the serving path: a part
 * of the FLUX double block built from our kernels (double_block.ts) that
 * `bench/webgpu_ceiling.ts` measures.
 *
 * @example
 * ```ts ignore
 * const ln = await LnModulate.create(gpu, { half: true });
 * const n = ln.run(x, mods, { rows: 1024, cols: 3072, shiftOff: 0, scaleOff: 3072 });
 * ```
 */
import type { GpuContext } from "../gpu/context.ts";
import { Kernel } from "../gpu/kernel.ts";
import { checkBindings } from "./gemm.ts";

export class LnModulate {
  private constructor(
    readonly gpu: GpuContext,
    readonly kernel: Kernel,
    readonly half: boolean,
  ) {}

  static async create(gpu: GpuContext, opts: { half?: boolean } = {}): Promise<LnModulate> {
    const kernel = await Kernel.load(gpu.device, "ln_modulate", { HALF: opts.half ? 1 : 0 });
    return new LnModulate(gpu, kernel, !!opts.half);
  }

  /** Records (or submits) the norm of x into `out` (a new pooled buffer when not given). */
  run(
    x: GPUBuffer,
    mods: GPUBuffer,
    s: { rows: number; cols: number; shiftOff: number; scaleOff: number; eps?: number },
    encoder?: GPUCommandEncoder,
    out?: GPUBuffer,
  ): GPUBuffer {
    if (s.cols % 2) throw new Error(`ln_modulate needs an even row width (${s.cols})`);
    const bytes = s.rows * s.cols * (this.half ? 2 : 4);
    checkBindings(this.gpu.device, { x: bytes });
    const o = out ?? this.gpu.empty(bytes, "ln_modulate out");
    this.gpu.run(
      this.kernel,
      [o, x, mods],
      [["u32", s.rows], ["u32", s.cols], ["u32", s.shiftOff], ["u32", s.scaleOff], [
        "f32",
        s.eps ?? 1e-6,
      ]],
      s.rows,
      encoder,
    );
    return o;
  }
}
