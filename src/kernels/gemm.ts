/**
 * Wrapper of shaders/gemm.wgsl: `out = epilogue(A · W + bias)` for the DiT's linear layers,
 * A [M, K], W [K, N], row-major, fp32 accumulation; fp16 (`half`, packed two per u32, see
 * ../gpu/half.ts) or fp32 storage. The tile shape is a pipeline constant: {@link GemmTile}.
 * Not on the serving path: `bench/webgpu_ceiling.ts` measures it against ORT-web and PyTorch.
 *
 * @example
 * ```ts ignore
 * const g = await Gemm.create(gpu, { half: true });
 * const y = g.run(x, w, { M: 1536, K: 3072, N: 12288, bias, epilogue: "gelu" });
 * ```
 */
import { type GpuContext } from "../gpu/context.ts";
import { Kernel } from "../gpu/kernel.ts";
import type { Epilogue } from "./gemm_cpu.ts";

/** Invocations per workgroup (x along N, y along M) and each one's TM x TN block; K step TK. */
export interface GemmTile {
  wgX: number;
  wgY: number;
  tm: number;
  tn: number;
  tk: number;
}

export const DEFAULT_TILE: GemmTile = { wgX: 16, wgY: 16, tm: 4, tn: 4, tk: 16 };

const MODES: Record<Epilogue, number> = { none: 0, gelu: 1, residual: 2 };

export interface GemmCall {
  M: number;
  K: number;
  N: number;
  bias?: GPUBuffer | undefined;
  epilogue?: Epilogue | undefined;
  /** [gateOffset + N] fp32, for "residual". */
  gate?: GPUBuffer | undefined;
  /** Where the gate starts in `gate` (a chunk of a modulation vector); default 0. */
  gateOffset?: number | undefined;
  /** [M, N] in the kernel's storage type, for "residual". */
  res?: GPUBuffer | undefined;
}

/** Throws, naming the tensor, where one is larger than the device lets a shader bind. */
export function checkBindings(device: GPUDevice, bytes: Record<string, number>): void {
  const limit = device.limits.maxStorageBufferBindingSize;
  for (const [name, b] of Object.entries(bytes)) {
    if (b > limit) {
      throw new Error(`${name} is ${b} B, past this device's binding limit of ${limit} B`);
    }
  }
}

/** Why a tile cannot run (register block, pairing, workgroup limits), or undefined. */
export function tileProblem(t: GemmTile, limits: GPUSupportedLimits): string | undefined {
  if (t.tm < 1 || t.tm > 8 || t.tn < 2 || t.tn > 8 || t.tn % 2) return "tm 1..8, tn 2..8 even";
  if (t.tk < 2 || t.tk % 2) return "tk even";
  return workgroupProblem(t.wgX * t.wgY, 4 * t.tk * (t.wgY * t.tm + t.wgX * t.tn), limits);
}

/** Why a workgroup of `invocations` using `bytes` of workgroup memory cannot run, or undefined. */
export function workgroupProblem(
  invocations: number,
  bytes: number,
  limits: GPUSupportedLimits,
): string | undefined {
  if (invocations > limits.maxComputeInvocationsPerWorkgroup) return "too many invocations";
  if (bytes > limits.maxComputeWorkgroupStorageSize) return `${bytes} B of workgroup memory`;
  return undefined;
}

export class Gemm {
  private constructor(
    readonly gpu: GpuContext,
    readonly kernel: Kernel,
    readonly half: boolean,
    readonly tile: GemmTile,
    readonly dummy: GPUBuffer,
    /** The output is fp32 even with fp16 storage (a modulation vector). */
    readonly outF32: boolean,
  ) {}

  static async create(
    gpu: GpuContext,
    opts: { half?: boolean; tile?: GemmTile; outF32?: boolean } = {},
  ): Promise<Gemm> {
    const tile = opts.tile ?? DEFAULT_TILE;
    const problem = tileProblem(tile, gpu.device.limits);
    if (problem) throw new Error(`gemm tile ${JSON.stringify(tile)}: ${problem}`);
    const kernel = await Kernel.load(gpu.device, "gemm", {
      HALF: opts.half ? 1 : 0,
      OUT_F32: opts.outF32 ? 1 : 0,
      WG_X: tile.wgX,
      WG_Y: tile.wgY,
      TM: tile.tm,
      TN: tile.tn,
      TK: tile.tk,
    });
    return new Gemm(gpu, kernel, !!opts.half, tile, gpu.empty(16, "gemm unused"), !!opts.outF32);
  }

  /** Bytes of an [rows, cols] tensor in this kernel's storage type. */
  bytes(elements: number): number {
    return this.half ? Math.ceil(elements / 2) * 4 : elements * 4;
  }

  /** Records (or submits) one product into `out` (a new pooled buffer when not given). */
  run(a: GPUBuffer, w: GPUBuffer, c: GemmCall, encoder?: GPUCommandEncoder, out?: GPUBuffer) {
    const { M, K, N } = c;
    if (this.half && (K % 2 || N % 2)) throw new Error(`fp16 gemm needs even K and N (${K}, ${N})`);
    checkBindings(this.gpu.device, {
      A: this.bytes(M * K),
      W: this.bytes(K * N),
      out: this.outF32 ? M * N * 4 : this.bytes(M * N),
    });
    const epi = c.epilogue ?? "none";
    if (epi === "residual" && !(c.gate && c.res)) throw new Error("residual needs gate and res");
    const o = out ?? this.gpu.empty(this.outF32 ? M * N * 4 : this.bytes(M * N), "gemm out");
    const { wgX, wgY, tm, tn } = this.tile;
    const d = this.dummy;
    this.gpu.run(
      this.kernel,
      [o, a, w, c.bias ?? d, c.gate ?? d, c.res ?? d],
      [
        ["u32", M],
        ["u32", N],
        ["u32", K],
        ["u32", MODES[epi]],
        ["u32", c.bias ? 1 : 0],
        ["u32", c.gateOffset ?? 0],
      ],
      [Math.ceil(N / (wgX * tn)), Math.ceil(M / (wgY * tm))],
      encoder,
    );
    return o;
  }

  dispose(): void {
    this.gpu.release(this.dummy);
  }
}
