/** Shared test set-up: a server state on the fixture model and the wasm EP. */
import { type ServeFlags, serveFlagsSchema } from "../src/config/server_flags.ts";
import { createApp } from "../src/app.ts";
import { createState } from "../src/server.ts";
import type { ServerState } from "../src/server_state.ts";
import type { Hono } from "hono";

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
export function slowDown(
  model: { velocity: (...a: never[]) => Promise<Float32Array[]> },
  ms: number,
): () => void {
  const original = model.velocity;
  model.velocity = (async (...args: never[]) => {
    await new Promise((r) => setTimeout(r, ms));
    return await original.apply(model, args);
  }) as typeof model.velocity;
  return () => (model.velocity = original);
}

/** The real server process on the fixture model (port 0), started as `deno task start` would. */
export async function spawnServer(
  ...extra: string[]
): Promise<{ url: string; proc: Deno.ChildProcess; stop: () => Promise<number> }> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: [
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
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/listening on (http:\/\/\S+)/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited before listening: ${text}`);
    text += value;
  }
  const url = text.match(/listening on (http:\/\/\S+)/)![1]!;
  // keep draining stdout so the child never blocks on a full pipe
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  return {
    url,
    proc,
    stop: async () => {
      proc.kill("SIGTERM");
      return (await proc.status).code;
    },
  };
}
