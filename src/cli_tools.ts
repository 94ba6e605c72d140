/** Extra commands for people tuning RALU: `schedule` and `edges`. */
import { parseArgs } from "node:util";
import { solveNtMatching } from "./schedule/nt_matching.ts";
import { stagePlan } from "./schedule/stages.ts";

function numbers(s: string | undefined, name: string): number[] {
  if (!s) throw new TypeError(`missing argument --${name}`);
  const v = s.split(",").map(Number);
  if (v.some((x) => !Number.isFinite(x))) throw new TypeError(`bad argument --${name}: ${s}`);
  return v;
}

async function schedule(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { N: { type: "string" }, e: { type: "string" }, h0: { type: "string" }, json: { type: "boolean" } },
  });
  const N = numbers(values.N, "N");
  const e = numbers(values.e, "e");
  const h0 = values.h0 ? Number(values.h0) : 3;
  const sol = solveNtMatching(N, e, h0);
  const plan = stagePlan(N, e, sol.h, sol.Z);
  const out = {
    h: sol.h,
    Z: sol.Z,
    c: 1 / (sol.Z * sol.Z),
    js_distance: sol.distance,
    boundaries: plan.boundaries,
    sigmas: plan.sigmas.map((s) => [...s]),
  };
  if (values.json) {
    console.log(JSON.stringify(out));
  } else {
    console.log(`h = ${sol.h.map((v) => v.toFixed(4)).join(", ")}   Z = ${sol.Z.toFixed(4)}   (c = ${out.c.toFixed(5)}, JS distance ${sol.distance.toExponential(3)})`);
    plan.boundaries.forEach((b, k) =>
      console.log(`boundary ${k + 1}: e = ${b.e}  s = ${b.s.toFixed(5)}  alpha = ${b.alpha.toFixed(5)}  beta = ${b.beta.toFixed(5)}`)
    );
  }
}

export const tools: Record<string, (args: string[]) => Promise<void>> = { schedule };
