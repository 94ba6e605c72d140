/**
 * fp16 tensors as the kernels store them: two IEEE halves per u32, element 2i in the low
 * 16 bits (what WGSL's `pack2x16float` / `unpack2x16float` use, so no `shader-f16` needed).
 *
 * @example
 * ```ts
 * import { fromHalf, toHalf } from "./half.ts";
 * const back = fromHalf(toHalf(Float32Array.of(1, 0.5, 3)), 3); // [1, 0.5, 3]
 * ```
 */

/** Rounds to fp16 (nearest even) and packs pairs; an odd length is padded with 0. */
export function toHalf(x: Float32Array): Uint32Array {
  const h = new Float16Array(x.length + (x.length & 1));
  h.set(x);
  return new Uint32Array(h.buffer);
}

/** The first `n` values of packed halves, as fp32. */
export function fromHalf(packed: Uint32Array, n: number): Float32Array {
  return Float32Array.from(
    new Float16Array(packed.buffer, packed.byteOffset, packed.length * 2).subarray(0, n),
  );
}

/** Each value rounded to fp16 and back: what a half tensor holds. */
export function roundHalf(x: Float32Array): Float32Array {
  return fromHalf(toHalf(x), x.length);
}
