/**
 * Latent → RGB preview: a per-model 3 x (C + 1) linear map (the last column is a bias),
 * applied to the packed tokens; CPU reference of shaders/preview.wgsl. The result is one
 * RGBA pixel per latent pixel, so a preview costs no VAE decode.
 *
 * @example
 * ```ts
 * import { previewRgba } from "./preview_cpu.ts";
 * const w = [[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0]];
 * previewRgba(new Float32Array(16 * 4), w, 4, 4, 4); // 4x4 RGBA bytes
 * ```
 */
export function previewRgba(
  latent: Float32Array,
  weights: number[][],
  c: number,
  h: number,
  w: number,
): Uint8Array {
  const out = new Uint8Array(h * w * 4);
  for (let p = 0; p < h * w; p++) {
    for (let k = 0; k < 3; k++) {
      const row = weights[k]!;
      let v = row[c]!;
      for (let ch = 0; ch < c; ch++) v += row[ch]! * latent[ch * h * w + p]!;
      out[p * 4 + k] = Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)));
    }
    out[p * 4 + 3] = 255;
  }
  return out;
}
