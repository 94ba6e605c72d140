/**
 * CPU reference of shaders/ln_modulate.wgsl: each row of x [rows, cols] layer-normed (no
 * affine weights) and modulated, `LN(x) (1 + mods[scaleOff + c]) + mods[shiftOff + c]`, in fp64.
 *
 * @example
 * ```ts
 * import { lnModulateCpu } from "./ln_modulate_cpu.ts";
 * lnModulateCpu(Float32Array.of(1, 3), 1, 2, new Float32Array(4), 0, 2); // ≈ [-1, 1]
 * ```
 */
export function lnModulateCpu(
  x: Float32Array,
  rows: number,
  cols: number,
  mods: Float32Array,
  shiftOff: number,
  scaleOff: number,
  eps = 1e-6,
): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * cols, (r + 1) * cols);
    let mean = 0;
    for (const v of row) mean += v;
    mean /= cols;
    let variance = 0;
    for (const v of row) variance += (v - mean) ** 2;
    const rstd = 1 / Math.sqrt(variance / cols + eps);
    for (let c = 0; c < cols; c++) {
      const n = (row[c]! - mean) * rstd;
      out[r * cols + c] = n * (1 + mods[scaleOff + c]!) + mods[shiftOff + c]!;
    }
  }
  return out;
}
