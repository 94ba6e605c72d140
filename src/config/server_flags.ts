/**
 * Command-line flags of `serve` and `generate`, parsed with node:util and validated by zod.
 *
 * @example
 * ```ts
 * import { parseServeFlags } from "./server_flags.ts";
 * parseServeFlags(["--port", "9000"]).port; // 9000
 * ```
 */
import { parseArgs } from "node:util";
import { z } from "zod";

export const serveFlagsSchema = z.object({
  host: z.string().min(1).default("127.0.0.1"),
  port: z.coerce.number().int().min(0).max(65535).default(8787),
  model: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/).default("default"),
  ep: z.enum(["auto", "webgpu", "wasm"]).default("auto"),
  "api-key": z.string().min(8).optional(),
  "cors-origin": z.array(z.string().url().or(z.literal("*"))).default([]),
  "queue-size": z.coerce.number().int().min(1).max(10_000).default(16),
  "job-timeout": z.coerce.number().int().min(1).default(600),
  "body-limit": z.coerce.number().int().min(1024).default(64 * 1024),
  "preview-every": z.coerce.number().int().min(0).default(5),
  "body-timeout": z.coerce.number().min(0.1).default(10),
  "shutdown-grace": z.coerce.number().min(0).default(10),
  kernels: z.enum(["auto", "gpu", "cpu"]).default("auto"),
  precision: z.enum(["auto", "fp32", "fp16"]).default("auto"),
  "models-dir": z.string().min(1).optional(),
  queue: z.string().regex(/^(memory|rediss?:\/\/\S+)$/, "memory or redis://host:port/db")
    .default("memory"),
  role: z.enum(["both", "api", "worker"]).default("both"),
  "visibility-timeout": z.coerce.number().min(1).default(30),
  "job-ttl": z.coerce.number().int().min(10).default(3600),
  "result-max-bytes": z.coerce.number().int().min(1024).default(64 * 2 ** 20),
}).refine((f) => f.queue !== "memory" || f.role === "both", {
  message: "--role api|worker needs --queue redis://… (the memory queue lives in one process)",
  path: ["role"],
});

export type ServeFlags = z.infer<typeof serveFlagsSchema>;

export const SERVE_HELP = `ralu-server serve [flags]
  --host HOST            bind address (default 127.0.0.1)
  --port PORT            (default 8787; 0 picks a free port)
  --model ID             model directory under models/ (default "default")
  --models-dir DIR       a folder of model folders, searched before models/ (FLUX.1 exports)
  --queue memory|redis://HOST:PORT/DB   the job queue (default memory: this process only)
  --role both|api|worker with a Redis queue: serve HTTP (api), run jobs (worker), or both
  --visibility-timeout S a worker silent this long loses its job to another (default 30)
  --job-ttl S            job state, events and results kept in Redis (default 3600)
  --result-max-bytes N   largest result stored in Redis (default 67108864)
  --ep auto|webgpu|wasm  execution provider for the DiT (auto: WebGPU on a real GPU)
  --api-key KEY          require "Authorization: Bearer KEY" on every route but /health and GET /
  --cors-origin ORIGIN   allow a browser origin (repeatable; off by default)
  --queue-size N         jobs allowed to wait (default 16; more get 429)
  --job-timeout SECONDS  per-job limit (default 600)
  --body-limit BYTES     request body limit (default 65536; larger gets 413)
  --preview-every K      job SSE preview interval in steps (default 5; 0 = none)
  --body-timeout SECONDS time to receive a request body (default 10; slower gets 408)
  --shutdown-grace SECONDS on SIGTERM, time the running job may finish in (default 10); queued
                         jobs get a retryable 503 at once; the process exits by grace + 1 s
  --kernels auto|gpu|cpu where RALU's kernels run (auto: the GPU adapter if any)
  --precision auto|fp32|fp16 the transformer graph (auto: model_fp16.onnx where the adapter
                         has shader-f16 and the model has it, else model.onnx)

ralu-server generate --prompt TEXT --out FILE.png [--model ID] [--ep E] [--seed N]
  [--steps N] [--size WxH] [--guidance G] [--method base|ralu|naive|bottleneck] [--preset 4x|7x]
  [--precision auto|fp32|fp16]

ralu-server schedule --N 5,6,7 --e 0.3,0.45,1.0 [--h0 3] [--json]
ralu-server edges --in image.png --out edges.png [--ratio r --patches overlay.png]`;

export function parseServeFlags(args: string[]): ServeFlags {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: "string" },
      port: { type: "string" },
      model: { type: "string" },
      ep: { type: "string" },
      "api-key": { type: "string" },
      "cors-origin": { type: "string", multiple: true },
      "queue-size": { type: "string" },
      "job-timeout": { type: "string" },
      "body-limit": { type: "string" },
      "preview-every": { type: "string" },
      "body-timeout": { type: "string" },
      "shutdown-grace": { type: "string" },
      kernels: { type: "string" },
      precision: { type: "string" },
      "models-dir": { type: "string" },
      queue: { type: "string" },
      role: { type: "string" },
      "visibility-timeout": { type: "string" },
      "job-ttl": { type: "string" },
      "result-max-bytes": { type: "string" },
    },
    strict: true,
  });
  return serveFlagsSchema.parse(values);
}

export const generateFlagsSchema = z.object({
  prompt: z.string().min(1),
  out: z.string().min(1),
  model: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/).default("default"),
  ep: z.enum(["auto", "webgpu", "wasm"]).default("auto"),
  seed: z.coerce.number().int().min(0).default(0),
  steps: z.coerce.number().int().min(1).optional(),
  size: z.string().optional(),
  guidance: z.coerce.number().min(0).optional(),
  method: z.enum(["base", "ralu", "naive", "bottleneck"]).default("base"),
  preset: z.string().optional(),
  kernels: z.enum(["auto", "gpu", "cpu"]).default("auto"),
  precision: z.enum(["auto", "fp32", "fp16"]).default("auto"),
  "models-dir": z.string().min(1).optional(),
});

export function parseGenerateFlags(args: string[]): z.infer<typeof generateFlagsSchema> {
  const { values } = parseArgs({
    args,
    options: Object.fromEntries(
      [
        "prompt",
        "out",
        "model",
        "ep",
        "seed",
        "steps",
        "size",
        "guidance",
        "method",
        "preset",
        "kernels",
        "precision",
        "models-dir",
      ].map((k) => [k, { type: "string" as const }]),
    ),
    strict: true,
  });
  return generateFlagsSchema.parse(values);
}
