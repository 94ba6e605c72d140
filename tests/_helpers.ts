/** Shared test set-up: a server state on the fixture model and the wasm EP. */
import assert from "node:assert/strict";
import { type ServeFlags, serveFlagsSchema } from "../src/config/server_flags.ts";
import { createApp } from "../src/app.ts";
import { createState } from "../src/server.ts";
import type { ServerState } from "../src/server_state.ts";
import type { Hono } from "hono";
import { type LoadedModel, loadModel } from "../src/pipeline/model.ts";
import { type GeneratedImage, generateImage } from "../src/pipeline/generate.ts";
import type { Acceleration } from "../src/config/image_request.ts";
import { decode } from "fast-png";

export async function fixtureApp(
  overrides: Partial<ServeFlags> = {},
): Promise<{ app: Hono; state: ServerState }> {
  const flags = serveFlagsSchema.parse({ model: "fixture", ep: "wasm", ...overrides });
  const state = await createState(flags);
  await state.registry.get();
  return { app: createApp(state), state };
}

/** Options for tests that hold ORT sessions or streams across the test boundary. */
export const ortTest = { sanitizeResources: false, sanitizeOps: false } as const;

export function post(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  };
}

/** Parses an SSE body into events. */
/** Posts a job with `acceleration` on the fixture's 32² and asserts its cached steps are marked. */
export async function assertJobMarksCachedSteps(app: Hono, acceleration: unknown): Promise<void> {
  const job = await (await app.request(
    "/v1/images/jobs",
    post({ prompt: "x", size: "32x32", seed: 2, acceleration }),
  )).json();
  const events = await readSse(await app.request(job.events_url));
  const steps = events.filter((e) => e.event === "step").map((e) => JSON.parse(e.data));
  assert.ok(steps.some((s) => s.cached) && steps.some((s) => !s.cached), "cached steps marked");
  assert.ok(events.some((e) => e.event === "completed"));
}

/**
 * The fixture model's 64² run of `acceleration` on the WebGPU EP with GPU kernels and on wasm
 * with CPU ones: both reports and the largest pixel difference of their images.
 */
export async function gpuAndCpuRuns(acceleration: Acceleration): Promise<{
  gpu: GeneratedImage;
  cpu: GeneratedImage;
  worst: number;
}> {
  const p = { prompt: "a small red circle", size: "64x64", seed: 4, acceleration };
  const signal = new AbortController().signal;
  const [g, c] = [
    await loadModel("fixture", "webgpu", "gpu"),
    await loadModel("fixture", "wasm", "cpu"),
  ];
  try {
    const gpu = await generateImage(g, p, { signal }), cpu = await generateImage(c, p, { signal });
    const pa = decode(gpu.bytes).data, pb = decode(cpu.bytes).data;
    let worst = 0;
    for (let i = 0; i < pa.length; i++) worst = Math.max(worst, Math.abs(pa[i]! - pb[i]!));
    return { gpu, cpu, worst };
  } finally {
    await g.release();
    await c.release();
  }
}

export async function readSse(res: Response): Promise<{ event: string; data: string }[]> {
  const text = await res.text();
  return text.split("\n\n").filter((b) => b.trim()).map((block) => {
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
    }
    return { event, data: data.join("\n") };
  });
}

/** Makes every DiT call of a loaded model take at least `ms` (for queue and timeout tests). */
/**
 * Routes every DiT evaluation of `model` through `around` (host or device path alike); the
 * returned function restores it.
 */
export function aroundVelocity(
  model: LoadedModel,
  around: <T>(call: () => Promise<T>) => Promise<T>,
): () => void {
  const dit = model.dit;
  const original = dit.run;
  dit.run = (...args: Parameters<typeof original>) => {
    const run = original.apply(dit, args);
    return {
      velocity: (...a) => around(() => run.velocity(...a)),
      velocityOnDevice: (...a) => around(() => run.velocityOnDevice(...a)),
    };
  };
  return () => (dit.run = original);
}

/** Delays each DiT evaluation by `ms` (a run slow enough to watch, cancel or shut down). */
export function slowDown(model: LoadedModel, ms: number): () => void {
  return aroundVelocity(model, async (call) => {
    await new Promise((r) => setTimeout(r, ms));
    return await call();
  });
}

export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * A child process whose stdout lines are kept (so its pipe never fills), with a wait for a
 * line matching a pattern that fails at once if the process exits first.
 */
export class Proc {
  lines: string[] = [];
  #closed = false;
  #waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void; reject: (e: Error) => void }[] =
    [];
  constructor(readonly child: Deno.ChildProcess) {
    (async () => {
      let buf = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        const parts = buf.split("\n");
        buf = parts.pop()!;
        for (const line of parts) {
          this.lines.push(line);
          for (const w of [...this.#waiters]) {
            const m = line.match(w.re);
            if (m) {
              this.#waiters.splice(this.#waiters.indexOf(w), 1);
              w.resolve(m);
            }
          }
        }
      }
      this.#closed = true;
      for (const w of this.#waiters.splice(0)) w.reject(this.#exited(w.re));
    })();
  }
  #exited(re: RegExp): Error {
    return new Error(`exited before printing ${re}: ${this.lines.slice(-5).join("\n")}`);
  }
  wait(re: RegExp, ms = 60_000): Promise<RegExpMatchArray> {
    const seen = this.lines.map((l) => l.match(re)).find(Boolean);
    if (seen) return Promise.resolve(seen);
    if (this.#closed) return Promise.reject(this.#exited(re));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${re}`)), ms);
      this.#waiters.push({
        re,
        resolve: (m) => (clearTimeout(t), resolve(m)),
        reject: (e) => (clearTimeout(t), reject(e)),
      });
    });
  }
  kill(signal: Deno.Signal = "SIGTERM") {
    try {
      this.child.kill(signal);
    } catch { /* gone */ }
  }
}

export function spawn(cmd: string, args: string[]): Proc {
  return new Proc(new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit" }).spawn());
}

/** The real server process on the fixture model (port 0), started as `deno task start` would. */
export async function spawnServer(
  ...extra: string[]
): Promise<{ url: string; proc: Deno.ChildProcess; stop: () => Promise<number> }> {
  const p = spawn(Deno.execPath(), [
    "run",
    "--unstable-no-legacy-abort",
    "-A",
    "main.ts",
    "serve",
    "--port",
    "0",
    "--model",
    "fixture",
    "--ep",
    "wasm",
    ...extra,
  ]);
  const url = (await p.wait(/listening on (http:\/\/\S+)/))[1]!;
  return {
    url,
    proc: p.child,
    stop: async () => {
      p.kill("SIGTERM");
      return (await p.child.status).code;
    },
  };
}
