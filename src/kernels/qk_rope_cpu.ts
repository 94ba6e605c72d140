/**
 * CPU reference of shaders/qk_rope.wgsl: from one stream's fused projection qkv [S, 3 H D],
 * q and k RMS-normed per head (weights wq, wk [D]) and rotated by RoPE (pairs (2i, 2i + 1),
 * tables cos / sin [rows, D] of the joint sequence), v copied, into rows rowOff.. of q, k, v
 * [rows, H D] (written in place), in fp64.
 *
 * @example
 * ```ts ignore
 * qkRopeCpu(qkv, { S: 4, H: 2, D: 8, rowOff: 3 }, wq, wk, cos, sin, { q, k, v });
 * ```
 */
export function qkRopeCpu(
  qkv: Float32Array,
  s: { S: number; H: number; D: number; rowOff: number; eps?: number },
  wq: Float32Array,
  wk: Float32Array,
  cos: Float32Array,
  sin: Float32Array,
  out: { q: Float32Array; k: Float32Array; v: Float32Array },
): void {
  const { S, H, D, rowOff } = s;
  const eps = s.eps ?? 1e-6, HD = H * D;
  const prep = (src: number, w: Float32Array, dst: Float32Array, at: number, t: number) => {
    let ss = 0;
    for (let i = 0; i < D; i++) ss += qkv[src + i]! ** 2;
    const r = 1 / Math.sqrt(ss / D + eps);
    for (let i = 0; i < D; i += 2) {
      const x0 = qkv[src + i]! * r * w[i]!, x1 = qkv[src + i + 1]! * r * w[i + 1]!;
      dst[at + i] = x0 * cos[t * D + i]! - x1 * sin[t * D + i]!;
      dst[at + i + 1] = x1 * cos[t * D + i + 1]! + x0 * sin[t * D + i + 1]!;
    }
  };
  for (let tok = 0; tok < S; tok++) {
    const t = rowOff + tok;
    for (let h = 0; h < H; h++) {
      const src = tok * 3 * HD + h * D, at = t * HD + h * D;
      prep(src, wq, out.q, at, t);
      prep(src + HD, wk, out.k, at, t);
      out.v.set(qkv.subarray(src + 2 * HD, src + 2 * HD + D), at);
    }
  }
}
