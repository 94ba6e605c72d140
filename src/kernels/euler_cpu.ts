/**
 * Flow-matching updates, CPU references of shaders/euler.wgsl.
 *
 * @example
 * ```ts
 * import { eulerStep } from "./euler_cpu.ts";
 * const x = Float32Array.of(1, 2);
 * eulerStep(x, Float32Array.of(1, 1), -0.5); // x is now [0.5, 1.5]
 * ```
 */

/** In place: `x += dt * v` (dt = sigma_next - sigma, negative while denoising). */
export function eulerStep(x: Float32Array, v: Float32Array, dt: number): Float32Array {
  const d = Math.fround(dt);
  for (let i = 0; i < x.length; i++) x[i] = Math.fround(x[i]! + Math.fround(d * v[i]!));
  return x;
}

/** Clean estimate `x0 = x - sigma * v`. */
export function cleanEstimate(x: Float32Array, v: Float32Array, sigma: number): Float32Array {
  const s = Math.fround(sigma);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.fround(x[i]! - Math.fround(s * v[i]!));
  return out;
}

/** `x * a + b` elementwise into a new array (model-space latent → the VAE's latent). */
export function affine(x: Float32Array, a: number, b: number): Float32Array {
  const fa = Math.fround(a), fb = Math.fround(b);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.fround(Math.fround(x[i]! * fa) + fb);
  return out;
}
