/**
 * Image fidelity and aliasing measures for the benchmark: PSNR, SSIM (ssim.js) and the
 * Canny edge count (our CPU Canny, the one RALU selects with).
 *
 * @example
 * ```ts ignore
 * import { psnr } from "./metrics.ts";
 * psnr(a, b); // dB, RGB channels
 * ```
 */
import { ssim as ssimJs } from "ssim.js";
import { canny, grayLevel } from "../src/kernels/canny_cpu.ts";

/** PSNR over RGB of two RGBA8 images (Infinity when identical). */
export function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0, n = 0;
  for (let i = 0; i < a.length; i++) {
    if (i % 4 === 3) continue;
    se += (a[i]! - b[i]!) ** 2;
    n++;
  }
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255) / (se / n));
}

export function ssim(a: Uint8Array, b: Uint8Array, width: number, height: number): number {
  const img = (d: Uint8Array) => ({
    data: new Uint8ClampedArray(d.buffer, d.byteOffset, d.byteLength),
    width,
    height,
  });
  return ssimJs(img(a), img(b)).mssim;
}

/** Gray levels (BT.601, Q14) of RGBA8. */
export function grayOf(rgba: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgba.length / 4);
  for (let p = 0; p < out.length; p++) {
    out[p] = grayLevel(rgba[p * 4]!, rgba[p * 4 + 1]!, rgba[p * 4 + 2]!);
  }
  return out;
}

/** Canny edge pixels (thresholds 100/200): a proxy for aliasing when compared with a reference. */
export function edgeCount(rgba: Uint8Array, width: number, height: number): number {
  return canny(grayOf(rgba), width, height).reduce((a, b) => a + b, 0);
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
}
