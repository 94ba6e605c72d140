import assert from "node:assert/strict";
import { bootstrapMeanDiff, nearestByCost, verdict } from "../../bench/frontier.ts";

Deno.test("nearest base-k by token-step cost", () => {
  const rows = [2, 5, 6, 7, 10, 12].map((k) => ({ name: `base-${k}`, cost: 256 * k }));
  assert.equal(nearestByCost(2838, rows).name, "base-12"); // 234 away, base-10 278
  assert.equal(nearestByCost(1654, rows).name, "base-6");
  assert.equal(nearestByCost(100, rows).name, "base-2");
});

Deno.test("bootstrap interval of a paired mean difference covers the truth and shrinks with n", () => {
  // a second, independent computation: the normal approximation mean ± 1.96 sd / sqrt(n)
  let s = 12345;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const n = 400;
  const a = Array.from({ length: n }, () => 0.3 + rnd());
  const b = Array.from({ length: n }, () => rnd());
  const d = a.map((v, i) => v - b[i]!);
  const m = d.reduce((x, y) => x + y, 0) / n;
  const sd = Math.sqrt(d.reduce((x, y) => x + (y - m) ** 2, 0) / (n - 1));
  const ci = bootstrapMeanDiff(a, b);
  assert.ok(Math.abs(ci.mean - m) < 1e-12);
  assert.ok(Math.abs(ci.lo - (m - 1.96 * sd / Math.sqrt(n))) < 0.01, `lo ${ci.lo}`);
  assert.ok(Math.abs(ci.hi - (m + 1.96 * sd / Math.sqrt(n))) < 0.01, `hi ${ci.hi}`);
  assert.equal(verdict(ci), "above");
  const small = bootstrapMeanDiff(a.slice(0, 25), b.slice(0, 25));
  assert.ok(small.hi - small.lo > ci.hi - ci.lo);
  // identical samples: no difference, "level"; non-finite pairs are left out
  const z = bootstrapMeanDiff([1, 0, Infinity], [1, 0, 5]);
  assert.deepEqual([z.mean, z.lo, z.hi], [0, 0, 0]);
  assert.equal(verdict(z), "level");
  assert.equal(verdict(bootstrapMeanDiff([0, 0, 0], [1, 1, 0.5])), "below");
});
