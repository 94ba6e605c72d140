import assert from "node:assert/strict";
import { baseSigmas, inverseShift, shift, shiftedSigmas } from "../../src/schedule/flow_match.ts";
import {
  boundary,
  lastStageStart,
  MIN_STAGE3_START,
  stagePlan,
} from "../../src/schedule/stages.ts";
import {
  AUTHORS_START,
  ntMatchingFor,
  ntObjective,
  PUBLISHED,
  solveFrom,
  solveNtMatching,
} from "../../src/schedule/nt_matching.ts";

const near = (a: number, b: number, rel: number, what: string) =>
  assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${what}: ${a} vs ${b}`);

Deno.test("shift and inverse shift are inverse; base sigmas run 1 → 0", () => {
  for (const s of [0.1, 0.5, 0.9, 1]) near(inverseShift(shift(s, 3), 3), s, 1e-12, `s=${s}`);
  assert.equal(inverseShift(shift(0, 3), 3), 0);
  assert.equal(shift(0.5, 3), 0.75);
  const sig = baseSigmas(50, 3);
  assert.equal(sig.length, 51);
  assert.equal(sig[0], 1);
  assert.equal(sig[50], 0);
  for (let i = 1; i < sig.length; i++) assert.ok(sig[i]! < sig[i - 1]!);
});

Deno.test("boundary values: s = e / D, alpha = 1 - s, beta = 1 / D", () => {
  const b = boundary(0.3, 6.317);
  const D = 6.317 * 0.7 + 0.3;
  near(b.s, 0.3 / D, 1e-12, "s");
  near(b.alpha, 1 - b.s, 1e-12, "alpha");
  near(b.beta, 1 / D, 1e-12, "beta");
  assert.ok(b.s < 0.3);
});

Deno.test("stage sigmas span 1 - s_k → 1 - e_k with N_k steps", () => {
  const plan = stagePlan([5, 6, 7], [0.3, 0.45, 1], [5.019, 2.589, 2.226], 6.317);
  assert.deepEqual(plan.sigmas.map((s) => s.length), [6, 7, 8]);
  near(plan.sigmas[0]![0]!, 1, 1e-12, "start");
  near(plan.sigmas[0]!.at(-1)!, 0.7, 1e-12, "end 1");
  near(plan.sigmas[1]![0]!, 1 - plan.boundaries[0]!.s, 1e-12, "start 2");
  assert.equal(plan.sigmas[2]!.at(-1), 0);
});

// Rows of RALU.md §4 that the solver's path from the authors' start reproduces within 3%.
const PRESETS: [string, number[], number[], number[], number][] = [
  ["FLUX 4x", [5, 6, 7], [0.3, 0.45, 1], [5.019, 2.589, 2.226], 6.317],
  ["FLUX 5x", [4, 5, 6], [0.3, 0.45, 1], [5.12, 2.64, 2.25], 7.52],
  ["FLUX 7x", [2, 3, 5], [0.2, 0.3, 1], [8.141, 2.856, 2.193], 6.261],
  ["SD3 3x", [3, 3, 6], [0.25, 0.3, 1], [6.4, 2.6, 2.23], 6.26],
];

// SD3 2x (paper: h = 6.21, 2.23, 1.97, Z = 4.13) is the one row this solver misses:
// it stops at h = 6.52, 2.41, 2.00, Z = 3.64 (up to 12% off), where the JS distance is
// 0.0372 against 0.0367 at the paper's values: the valley is flat and the two solvers
// stop at different points of it.
Deno.test("SD3 2x: the solver's point is within 2% of the paper's JS distance", () => {
  const s = solveFrom([5, 6, 9], [0.2, 0.3, 1], 3, AUTHORS_START, false);
  const paper = ntObjective([5, 6, 9], [0.2, 0.3, 1], 3, [6.21, 2.23, 1.97], 4.13);
  assert.ok(s.distance <= paper * 1.02, `${s.distance} vs ${paper}`);
});

for (const [name, N, e, h, Z] of PRESETS) {
  Deno.test(`NT-matching reproduces the ${name} preset within 3%; all starts do no worse`, () => {
    const s = solveFrom(N, e, 3, AUTHORS_START, false);
    h.forEach((v, i) => near(s.h[i]!, v, 0.03, `${name} h${i + 1}`));
    near(s.Z, Z, 0.03, `${name} Z`);
    // the best usable optimum of all starts is at most the authors' point, and usable
    const best = solveNtMatching(N, e, 3);
    assert.ok(best.distance <= s.distance + 1e-12, `${best.distance} vs ${s.distance}`);
    assert.ok(lastStageStart(e, best.Z) >= MIN_STAGE3_START);
  });
}

Deno.test("exactly a published plan at h0 = 3 runs with its published h and Z; others are solved", () => {
  for (const p of PUBLISHED) {
    const used = ntMatchingFor(p.N, p.e, 3);
    assert.deepEqual([used.h, used.Z], [p.h, p.Z]);
    near(used.distance, ntObjective(p.N, p.e, 3, p.h, p.Z), 1e-12, "its distance");
    // at another shift, or with other stage ends, the same steps are solved, not copied
    assert.notDeepEqual(ntMatchingFor(p.N, p.e, 2.5).h, p.h);
    assert.notDeepEqual(ntMatchingFor(p.N, [p.e[0]! + 0.01, p.e[1]!, 1], 3).h, p.h);
  }
});

Deno.test("the distilled preset solves to a valid plan (Z ≥ 2, h in bounds)", () => {
  const s = solveNtMatching([1, 1, 2], [0.3, 0.45, 1], 3);
  assert.ok(s.Z >= 2 && s.Z <= 100);
  for (const h of s.h) assert.ok(h >= 0.5 && h <= 10);
  assert.ok(s.distance < 0.05);
});

Deno.test("shiftedSigmas with h = 1 is linear", () => {
  assert.deepEqual([...shiftedSigmas(1, 0.5, 2, 1)], [1, 0.75, 0.5]);
});
