/**
 * `deno run -A bench/cluster_throughput.ts [--jobs 16] [--steps 20] [--model default]`:
 * jobs per minute through one API process with 1, then 2 worker processes on one Redis, on
 * this machine (each worker runs the DiT on the wasm EP, one thread). All jobs are submitted
 * at once through the jobs API (the queue bound raised to hold them); the clock runs from the
 * first submission to the last completed event. Prints a table and the ratio.
 */
import { parseArgs } from "node:util";
import { Cluster, type Proc } from "./cluster_processes.ts";
import { post, readSse } from "../tests/_helpers.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    jobs: { type: "string", default: "16" },
    steps: { type: "string", default: "20" },
    model: { type: "string", default: "default" },
  },
});
const jobs = Number(flags.jobs), steps = Number(flags.steps);
const rows: { workers: number; seconds: number; perMinute: number }[] = [];
for (const n of [1, 2]) {
  const cluster = await Cluster.start([
    "--model",
    flags.model!,
    "--ep",
    "wasm",
    "--kernels",
    "cpu",
    "--queue-size",
    String(jobs),
  ]);
  const api = await cluster.api();
  const procs: Proc[] = [api.p];
  for (let i = 0; i < n; i++) procs.push((await cluster.worker()).p);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: jobs }, async (_, i) => {
    const res = await fetch(
      `${api.url}/v1/images/jobs`,
      post({ prompt: "a red circle", steps, seed: i }),
    );
    if (res.status !== 202) throw new Error(`submit: ${res.status} ${await res.text()}`);
    const { id } = await res.json();
    const evs = await readSse(await fetch(`${api.url}/v1/images/jobs/${id}/events`));
    if (evs.at(-1)?.event !== "completed") {
      throw new Error(`job ${id} ended with ${evs.at(-1)?.event}`);
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  rows.push({ workers: n, seconds, perMinute: (jobs / seconds) * 60 });
  await cluster.stop(procs);
}
console.log(
  `${jobs} jobs, model ${flags.model}, ${steps} steps each, ${navigator.hardwareConcurrency} CPU threads`,
);
console.log("| workers | wall s | jobs / min |\n|---|---|---|");
for (const r of rows) {
  console.log(`| ${r.workers} | ${r.seconds.toFixed(1)} | ${r.perMinute.toFixed(1)} |`);
}
console.log(`2 workers / 1 worker: ${(rows[1]!.perMinute / rows[0]!.perMinute).toFixed(2)}x`);
