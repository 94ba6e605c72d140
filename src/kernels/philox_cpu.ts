/**
 * Counter-based Gaussian noise, CPU reference of shaders/noise.wgsl. Philox 4x32-10
 * keyed by the seed; the counter is (element, stream, 0, 0), where the stream names who
 * draws (0 = the initial latent noise, k = noise injected at RALU boundary k). Four
 * uniforms give four normals by Box–Muller, so element i uses lane i % 4 of counter i / 4.
 * The GPU computes the same 32-bit words; normals agree to float32 rounding.
 *
 * @example
 * ```ts
 * import { gaussian } from "./philox_cpu.ts";
 * const n = gaussian(42, 0, 0, 16); // 16 N(0, 1) samples
 * ```
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

function mulhilo(a: number, b: number): [number, number] {
  const lo = Math.imul(a, b) >>> 0;
  // exact high word via 16-bit halves (no 64-bit integers needed, as in WGSL)
  const aH = a >>> 16, aL = a & 0xffff, bH = b >>> 16, bL = b & 0xffff;
  const mid1 = aH * bL, mid2 = aL * bH;
  const low = aL * bL;
  const carry = ((low >>> 16) + (mid1 & 0xffff) + (mid2 & 0xffff)) >>> 16;
  const hi = (aH * bH + (mid1 >>> 16) + (mid2 >>> 16) + carry) >>> 0;
  return [hi, lo];
}

/** Philox 4x32-10: four 32-bit words for one counter. */
export function philox(c: [number, number, number, number], key: [number, number]): Uint32Array {
  let [c0, c1, c2, c3] = c;
  let [k0, k1] = key;
  for (let r = 0; r < 10; r++) {
    const [hi0, lo0] = mulhilo(M0, c0);
    const [hi1, lo1] = mulhilo(M1, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return Uint32Array.of(c0, c1, c2, c3);
}

/** The seed as Philox's two key words (seeds up to 2^53). */
export function seedKey(seed: number): [number, number] {
  return [seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0];
}

/** (0, 1] uniform from a word: never 0, so log() is finite. */
function uniform(word: number): number {
  // as the shader computes it: f32(word) * 2^-32 + 2^-32
  return Math.fround(Math.fround(word) * 2.3283064365386963e-10 + 2.3283064365386963e-10);
}

/** Standard normals for elements `start .. start + count` of a stream. */
export function gaussian(seed: number, stream: number, start: number, count: number): Float32Array {
  const key = seedKey(seed);
  const out = new Float32Array(count);
  let block = -1;
  let z: Float32Array = new Float32Array(4);
  for (let i = 0; i < count; i++) {
    const e = start + i;
    const b = Math.floor(e / 4);
    if (b !== block) {
      block = b;
      const w = philox([b >>> 0, stream >>> 0, 0, 0], key);
      z = boxMuller(w);
    }
    out[i] = z[e % 4]!;
  }
  return out;
}

function boxMuller(w: Uint32Array): Float32Array {
  const z = new Float32Array(4);
  for (let p = 0; p < 2; p++) {
    const r = Math.fround(Math.sqrt(Math.fround(-2 * Math.fround(Math.log(uniform(w[2 * p]!))))));
    const th = Math.fround(6.283185307179586 * uniform(w[2 * p + 1]!));
    z[2 * p] = r * Math.cos(th);
    z[2 * p + 1] = r * Math.sin(th);
  }
  return z;
}
