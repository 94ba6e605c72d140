/**
 * Token repacking at RALU's resolution changes, CPU reference of shaders/repack_stage2.wgsl
 * and shaders/repack_stage3.wgsl. Besides tokens and ids, each writes `groups`: for a
 * token copied at this boundary, the 4 indices of its copies (for correlated noise),
 * else -1.
 *
 * @example
 * ```ts
 * import { repackStage2 } from "./repack_cpu.ts";
 * import { gridIds } from "./pack_cpu.ts";
 * const r = repackStage2(new Float32Array(4 * 16), gridIds(2, 2), Uint32Array.of(0, 1, 0, 0), 16);
 * r.count; // 3 kept + 4 copies = 7 tokens
 * ```
 */

export interface Repacked {
  tokens: Float32Array;
  ids: Float32Array;
  groups: Int32Array;
  count: number;
  /** Tokens still at low resolution (they lead the sequence after stage 2). */
  lowCount: number;
}

/** Copy q of a token at (i, j) sits at (i + a/2, j + b/2), (a, b) = (q >> 1, q & 1). */
const OFFSETS: [number, number][] = [[0, 0], [0, 1], [1, 0], [1, 1]];

/**
 * Stage 2: unselected tokens keep their order, then every selected token (ascending)
 * becomes 4 copies with fractional ids.
 */
export function repackStage2(
  tokens: Float32Array,
  ids: Float32Array,
  mask: Uint32Array,
  dim: number,
): Repacked {
  const n = mask.length;
  let selected = 0;
  for (let i = 0; i < n; i++) selected += mask[i]!;
  const lowCount = n - selected;
  const count = lowCount + 4 * selected;
  const out = new Float32Array(count * dim);
  const outIds = new Float32Array(count * 3);
  const groups = new Int32Array(count * 4).fill(-1);
  let u = 0, s = 0;
  for (let i = 0; i < n; i++) {
    const src = tokens.subarray(i * dim, (i + 1) * dim);
    if (!mask[i]) {
      out.set(src, u * dim);
      outIds.set(ids.subarray(i * 3, i * 3 + 3), u * 3);
      u++;
      continue;
    }
    const base = lowCount + 4 * s++;
    for (let q = 0; q < 4; q++) {
      const t = base + q;
      out.set(src, t * dim);
      outIds[t * 3] = ids[i * 3]!;
      outIds[t * 3 + 1] = ids[i * 3 + 1]! + OFFSETS[q]![0] / 2;
      outIds[t * 3 + 2] = ids[i * 3 + 2]! + OFFSETS[q]![1] / 2;
      for (let m = 0; m < 4; m++) groups[t * 4 + m] = base + m;
    }
  }
  return { tokens: out, ids: outIds, groups, count, lowCount };
}

/**
 * Stage 3: the `lowCount` leading low-resolution tokens become 2x2 blocks, the stage-2
 * copies stay; ids double to integers on the full grid and every token lands at its
 * raster position (a scatter: positions are unique, so no sort is needed).
 */
export function expandStage3(
  tokens: Float32Array,
  ids: Float32Array,
  lowCount: number,
  dim: number,
  fullCols: number,
  fullRows: number,
): Repacked {
  const count = fullCols * fullRows;
  const out = new Float32Array(count * dim);
  const outIds = new Float32Array(count * 3);
  const groups = new Int32Array(count * 4).fill(-1);
  const n = ids.length / 3;
  for (let t = 0; t < n; t++) {
    const r2 = Math.round(ids[t * 3 + 1]! * 2), c2 = Math.round(ids[t * 3 + 2]! * 2);
    const src = tokens.subarray(t * dim, (t + 1) * dim);
    const targets = t < lowCount
      ? OFFSETS.map(([a, b]) => (r2 + a) * fullCols + c2 + b)
      : [r2 * fullCols + c2];
    for (const d of targets) {
      out.set(src, d * dim);
      outIds[d * 3] = ids[t * 3]!;
      outIds[d * 3 + 1] = Math.floor(d / fullCols);
      outIds[d * 3 + 2] = d % fullCols;
      if (targets.length === 4) { for (let m = 0; m < 4; m++) groups[d * 4 + m] = targets[m]!; }
    }
  }
  return { tokens: out, ids: outIds, groups, count, lowCount: 0 };
}
