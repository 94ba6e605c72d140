import assert from "node:assert/strict";
import { ntObjective, solveNtMatching } from "../../src/schedule/nt_matching.ts";
import { lastStageStart, MIN_STAGE3_START } from "../../src/schedule/stages.ts";

/** An independent minimiser: plain Nelder–Mead on the clamped parameters (not the solver's L-BFGS). */
function nelderMead(
  f: (x: number[]) => number,
  x0: number[],
  iters = 700,
): { x: number[]; d: number } {
  const n = x0.length;
  let pts = [x0, ...x0.map((_, i) => x0.map((v, j) => (i === j ? v * 1.3 + 0.2 : v)))];
  let fs = pts.map(f);
  for (let it = 0; it < iters; it++) {
    const order = fs.map((_, i) => i).sort((a, b) => fs[a]! - fs[b]!);
    pts = order.map((i) => pts[i]!);
    fs = order.map((i) => fs[i]!);
    const c = x0.map((_, j) => pts.slice(0, n).reduce((a, p) => a + p[j]!, 0) / n);
    const worst = pts[n]!;
    const along = (t: number) => c.map((v, j) => v + t * (v - worst[j]!));
    const xr = along(1), fr = f(xr);
    if (fr < fs[0]!) {
      const xe = along(2), fe = f(xe);
      [pts[n], fs[n]] = fe < fr ? [xe, fe] : [xr, fr];
    } else if (fr < fs[n - 1]!) {
      [pts[n], fs[n]] = [xr, fr];
    } else {
      const xc = along(-0.5), fc = f(xc);
      if (fc < fs[n]!) [pts[n], fs[n]] = [xc, fc];
      else {
        pts = pts.map((p) => p.map((v, j) => pts[0]![j]! + 0.5 * (v - pts[0]![j]!)));
        fs = pts.map(f);
      }
    }
  }
  const i = fs.indexOf(Math.min(...fs));
  return { x: pts[i]!, d: fs[i]! };
}

const clamp = (x: number[], zHi = 100) =>
  x.map((v, i) => (i < 3 ? Math.min(10, Math.max(0.5, v)) : Math.min(zHi, Math.max(2, v))));

const PAIRS: [number[], [number, number]][] = [
  [[5, 6, 7], [0.1, 0.2]],
  [[5, 6, 7], [0.15, 0.2]],
  [[5, 6, 7], [0.1, 0.15]],
  [[5, 6, 7], [0.05, 0.1]],
  [[5, 6, 7], [0.2, 0.35]],
  [[5, 6, 7], [0.3, 0.45]],
  [[4, 5, 6], [0.3, 0.45]],
  [[2, 3, 5], [0.2, 0.3]],
  [[2, 3, 5], [0.25, 0.4]],
  [[2, 3, 5], [0.35, 0.55]],
  [[2, 3, 5], [0.3, 0.5]],
  [[5, 6, 9], [0.2, 0.3]],
  [[3, 3, 6], [0.25, 0.3]],
  [[3, 4, 6], [0.15, 0.25]],
];

Deno.test(
  "NT-matching's optimum is within 2% of an independent Nelder–Mead's on 14 stage-end pairs, and usable",
  () => {
    const rows: string[] = [];
    for (const [N, [e1, e2]] of PAIRS) {
      const e = [e1, e2, 1];
      // the same problem, written separately: Z limited so that the last stage starts at
      // t >= MIN_STAGE3_START, i.e. e2 / (Z (1 - e2) + e2) >= m
      const zHi = Math.max(2, (e2 / MIN_STAGE3_START - e2) / (1 - e2));
      const f = (x: number[]) => {
        const c = clamp(x, zHi);
        return ntObjective(N, e, 3, c.slice(0, 3), c[3]!);
      };
      const starts = [[3, 3, 3, 2], [3, 3, 3, 10], [6, 3, 2, 6], [2, 2, 2, 40], [5, 2, 2, 4]];
      const ref = Math.min(...starts.map((s) => nelderMead(f, s).d));
      const got = solveNtMatching(N, e, 3);
      const ratio = got.distance / ref;
      rows.push(
        `${N} e=${e1},${e2}: ${got.distance.toFixed(4)} (Z ${got.Z.toFixed(2)}${
          got.limited ? ", limited" : ""
        }) vs ${ref.toFixed(4)} (${ratio.toFixed(3)})`,
      );
      assert.ok(ratio <= 1.02, rows.join("\n"));
      assert.ok(lastStageStart(e, got.Z) >= MIN_STAGE3_START * (1 - 1e-9), rows.at(-1));
    }
    console.log(rows.join("\n"));
  },
);
