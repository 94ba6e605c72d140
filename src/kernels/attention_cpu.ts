/**
 * CPU reference of shaders/attention.wgsl: softmax(q kᵀ · scale) v for each batch and head,
 * the scores materialised and summed in fp64. Tensors are [B, S, H, D].
 *
 * @example
 * ```ts
 * import { attentionCpu } from "./attention_cpu.ts";
 * const q = Float32Array.of(1, 0), k = Float32Array.of(1, 0), v = Float32Array.of(2, 3);
 * attentionCpu(q, k, v, { B: 1, S: 1, H: 1, D: 2 }); // [2, 3]: one key takes all the weight
 * ```
 */

export interface AttentionShape {
  B: number;
  S: number;
  H: number;
  D: number;
}

export function attentionCpu(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  { B, S, H, D }: AttentionShape,
  scale = 1 / Math.sqrt(D),
): Float32Array {
  const out = new Float32Array(B * S * H * D);
  const at = (b: number, s: number, h: number) => ((b * S + s) * H + h) * D;
  const w = new Float64Array(S);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < S; i++) {
        const qi = at(b, i, h);
        let max = -Infinity;
        for (let j = 0; j < S; j++) {
          const kj = at(b, j, h);
          let s = 0;
          for (let d = 0; d < D; d++) s += q[qi + d]! * k[kj + d]!;
          w[j] = s * scale;
          max = Math.max(max, w[j]!);
        }
        let sum = 0;
        for (let j = 0; j < S; j++) sum += w[j] = Math.exp(w[j]! - max);
        for (let d = 0; d < D; d++) {
          let o = 0;
          for (let j = 0; j < S; j++) o += w[j]! * v[at(b, j, h) + d]!;
          out[qi + d] = o / sum;
        }
      }
    }
  }
  return out;
}
