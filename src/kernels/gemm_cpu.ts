/**
 * CPU reference of shaders/gemm.wgsl: out[M, N] = epilogue(A[M, K] · W[K, N] + bias), summed
 * in fp64. Epilogues: "none", "gelu" (tanh form), "residual" (res + gate[n] y).
 *
 * @example
 * ```ts
 * import { gemmCpu } from "./gemm_cpu.ts";
 * const y = gemmCpu(Float32Array.of(1, 2), Float32Array.of(3, 4), 1, 2, 1); // [11]
 * ```
 */

export type Epilogue = "none" | "gelu" | "residual";

export interface GemmExtras {
  bias?: Float32Array;
  epilogue?: Epilogue;
  /** [N], for "residual". */
  gate?: Float32Array;
  /** [M, N], for "residual". */
  res?: Float32Array;
}

export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

export function gemmCpu(
  a: Float32Array,
  w: Float32Array,
  M: number,
  K: number,
  N: number,
  x: GemmExtras = {},
): Float32Array {
  const out = new Float32Array(M * N);
  const row = new Float64Array(N);
  for (let m = 0; m < M; m++) {
    row.fill(0);
    for (let k = 0; k < K; k++) {
      const av = a[m * K + k]!;
      if (av === 0) continue;
      for (let n = 0; n < N; n++) row[n]! += av * w[k * N + n]!;
    }
    for (let n = 0; n < N; n++) {
      let y = row[n]! + (x.bias?.[n] ?? 0);
      if (x.epilogue === "gelu") y = geluTanh(y);
      else if (x.epilogue === "residual") y = x.res![m * N + n]! + x.gate![n]! * y;
      out[m * N + n] = y;
    }
  }
  return out;
}
