/**
 * `deno run -A bench/memory.ts [--rounds 8] [--requests 40] [--model fixture]`: process
 * memory over repeated rounds of mixed requests through the HTTP app (in process), to show
 * whether it grows. A benchmark, not a test: it prints a table and asserts nothing.
 */
import { parseArgs } from "node:util";
import { serveFlagsSchema } from "../src/config/server_flags.ts";
import { createState } from "../src/server.ts";
import { createApp } from "../src/app.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "8" },
    requests: { type: "string", default: "40" },
    model: { type: "string", default: "fixture" },
    kernels: { type: "string", default: "gpu" },
  },
});
const state = await createState(
  serveFlagsSchema.parse({
    model: flags.model,
    ep: "wasm",
    kernels: flags.kernels,
    "queue-size": 1000,
  }),
);
await state.registry.get();
const app = createApp(state);
const methods = [
  undefined,
  { method: "ralu", preset: "4x" },
  { method: "ralu", preset: "7x" },
  { method: "naive", preset: "4x" },
  { method: "bottleneck", preset: "4x" },
];
const mib = () => (Deno.memoryUsage().rss / 2 ** 20).toFixed(1);
console.log(
  `| round | requests | RSS MiB | heap used MiB |\n| --- | --- | --- | --- |\n| 0 | 0 | ${mib()} | - |`,
);
let sent = 0;
for (let round = 1; round <= Number(flags.rounds); round++) {
  for (let i = 0; i < Number(flags.requests); i++) {
    const res = await app.request("/v1/images/generations", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        prompt: "a red circle",
        size: "64x64",
        seed: sent,
        stream: i % 4 === 0,
        acceleration: methods[i % methods.length],
      }),
    });
    await res.text();
    sent++;
  }
  const heap = (Deno.memoryUsage().heapUsed / 2 ** 20).toFixed(1);
  console.log(`| ${round} | ${sent} | ${mib()} | ${heap} |`);
}
await state.registry.releaseAll();
