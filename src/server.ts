/**
 * Starts the HTTP server: picks the execution provider, loads the default model, serves,
 * and shuts down on SIGTERM/SIGINT within a bound (queued jobs get a retryable 503, the
 * running one may finish within `--shutdown-grace`, open connections are drained).
 *
 * @example
 * ```ts ignore
 * import { startServer } from "./server.ts";
 * const s = await startServer(parseServeFlags(["--port", "0"]));
 * await s.shutdown();
 * ```
 */
import type { ServeFlags } from "./config/server_flags.ts";
import { createApp } from "./app.ts";
import { JobQueue } from "./jobs/queue.ts";
import { chooseEp, probeAdapter } from "./onnx/ort.ts";
import { ModelRegistry } from "./pipeline/registry.ts";
import { newCounters, type ServerState } from "./server_state.ts";
import { RedisCluster } from "./jobs/cluster.ts";
import { type RunningWorker, runWorker } from "./jobs/worker.ts";

export interface RunningServer {
  state: ServerState;
  port: number;
  shutdown: () => Promise<void>;
}

export async function createState(flags: ServeFlags): Promise<ServerState> {
  const ep = await chooseEp(flags.ep);
  const adapter = await probeAdapter();
  const registry = new ModelRegistry(
    flags.model,
    ep,
    flags.kernels,
    flags["models-dir"],
    flags.precision,
  );
  const cluster = flags.queue !== "memory" && flags.role !== "worker"
    ? await RedisCluster.connect(flags.queue, {
      maxQueued: flags["queue-size"],
      jobTtlS: flags["job-ttl"],
      maxEventBytes: flags["result-max-bytes"],
    })
    : undefined;
  return {
    cluster,
    flags,
    registry,
    queue: new JobQueue({ maxQueued: flags["queue-size"], timeoutMs: flags["job-timeout"] * 1000 }),
    ep,
    adapter,
    counters: newCounters(),
    startedAt: Date.now(),
  };
}

export async function startServer(flags: ServeFlags): Promise<RunningServer> {
  const state = await createState(flags);
  let worker: RunningWorker | undefined;
  if (flags.role !== "api") {
    // load the default model now: fail fast, answer the first request fast
    const model = await state.registry.get();
    for (const c of model.components) {
      console.log(
        `loaded ${model.id}/${c.component}: ${c.file} (${
          (c.bytes / 2 ** 20).toFixed(1)
        } MiB, ${c.data_files} data file(s)${c.fp16 ? ", fp16" : ""})`,
      );
      for (const w of c.warnings) console.warn(`warning: ${w}`);
    }
    if (model.precision) {
      console.log(
        `${model.id}: transformer in ${model.precision.precision} (${model.precision.reason})`,
      );
    }
    const warmed = await model.warmUp();
    if (warmed) console.log(`prepared ${warmed} DiT session(s) for ${model.manifest.default_size}`);
  }
  if (flags.queue !== "memory" && flags.role !== "api") {
    worker = await runWorker({
      url: flags.queue,
      model: () => state.registry.get(),
      modelId: flags.model,
      timeoutMs: flags["job-timeout"] * 1000,
      previewEvery: flags["preview-every"],
      visibilityMs: flags["visibility-timeout"] * 1000,
      jobTtlS: flags["job-ttl"],
      maxEventBytes: flags["result-max-bytes"],
    });
  }
  if (flags.role === "worker") {
    let stopping: Promise<void> | undefined;
    const shutdown = () =>
      stopping ??= worker!.stop(flags["shutdown-grace"] * 1000).then(() =>
        state.registry.releaseAll()
      );
    return { state, port: 0, shutdown };
  }
  const app = createApp(state);
  const server = Deno.serve(
    { hostname: flags.host, port: flags.port, onListen: () => {} },
    app.fetch,
  );
  const port = server.addr.port;
  console.log(
    `listening on http://${flags.host}:${port} (model ${flags.model}, ep ${state.ep}, adapter ${
      state.adapter?.description ?? "none"
    }${flags.queue === "memory" ? "" : `, queue ${flags.queue}, role ${flags.role}`})`,
  );
  let stopping: Promise<void> | undefined;
  // Bounded: queued jobs get a retryable 503 now, the running job has the grace to finish,
  // and connections still open after grace + 1 s (a client trickling its body) are left
  // to the process exit rather than waited for.
  const shutdown = () => {
    stopping ??= (async () => {
      const graceMs = flags["shutdown-grace"] * 1000;
      const deadline = performance.now() + graceMs + 1000 - 100;
      await state.queue.shutdown(graceMs);
      await worker?.stop(graceMs);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        server.shutdown(),
        new Promise<void>((
          r,
        ) => (timer = setTimeout(r, Math.max(0, deadline - performance.now())))),
      ]);
      clearTimeout(timer);
    })();
    return stopping;
  };
  return { state, port, shutdown };
}
