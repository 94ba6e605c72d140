/**
 * Top-k token selection, CPU reference of shaders/topk.wgsl: the k highest scores, ties
 * going to the lower index (deterministic, so a seed reproduces its image).
 *
 * @example
 * ```ts
 * import { topkMask } from "./topk_cpu.ts";
 * topkMask(Uint32Array.of(3, 5, 5, 1), 2); // Uint32Array [0, 1, 1, 0]
 * ```
 */
export function topkMask(scores: Uint32Array, k: number): Uint32Array {
  const order = [...scores.keys()].sort((a, b) => scores[b]! - scores[a]! || a - b);
  const mask = new Uint32Array(scores.length);
  for (const i of order.slice(0, k)) mask[i] = 1;
  return mask;
}
