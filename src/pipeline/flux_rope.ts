/**
 * FLUX's rotary position tables, computed on the host once per stage (the step graph takes them
 * as inputs): for ids `[S, 3]` (text tokens first, then image tokens), `cos` and `sin`
 * `[S, sum(axes)]`, axis i's `axes[i]` columns holding each of its frequencies
 * `theta^(-2k / axes[i])` twice, side by side (the pairs RoPE rotates). Computed in float64,
 * stored as float32.
 *
 * @example
 * ```ts
 * import { fluxRope } from "./flux_rope.ts";
 * const { cos } = fluxRope(Float32Array.of(0, 1, 2), [2, 2, 2]); // one token at (0, 1, 2)
 * cos; // Float32Array [1, 1, cos(1), cos(1), cos(2), cos(2)]
 * ```
 */
export function fluxRope(
  ids: Float32Array,
  axes: number[],
  theta = 10000,
): { cos: Float32Array; sin: Float32Array } {
  const S = ids.length / 3, D = axes.reduce((a, d) => a + d, 0);
  const cos = new Float32Array(S * D), sin = new Float32Array(S * D);
  for (let t = 0; t < S; t++) {
    let col = t * D;
    axes.forEach((d, i) => {
      for (let k = 0; k < d / 2; k++) {
        const angle = ids[t * 3 + i]! * theta ** (-(2 * k) / d);
        cos[col] = cos[col + 1] = Math.cos(angle);
        sin[col] = sin[col + 1] = Math.sin(angle);
        col += 2;
      }
    });
  }
  return { cos, sin };
}
