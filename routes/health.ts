/** `GET /health` (open even with an API key) and `GET /metrics` (Prometheus text format). */
import { Hono } from "hono";
import type { ServerState } from "../src/server_state.ts";
import { GpuOps } from "../src/kernels/gpu_ops.ts";
import { liveDeviceTensors } from "../src/onnx/ort.ts";

/** Queue depth and live workers across the cluster; `redis: "unavailable"` when it is away. */
async function clusterHealth(state: ServerState) {
  const queue = state.flags.queue.replace(/\/\/[^@/]*@/, "//"); // no password in the answer
  try {
    const workers = await state.cluster!.workers();
    return {
      redis: "ok",
      queue,
      depth: await state.cluster!.depth(),
      workers_alive: workers.length,
      workers,
    };
  } catch {
    return { redis: "unavailable", queue };
  }
}

async function clusterMetrics(state: ServerState): Promise<string[]> {
  const h = await clusterHealth(state);
  if (h.redis !== "ok") return ["ralu_cluster_redis_up 0"];
  const out = [
    "# HELP ralu_cluster_redis_up Whether this API process reaches the queue's Redis.",
    "ralu_cluster_redis_up 1",
    "# HELP ralu_cluster_queue_depth Jobs waiting across the cluster.",
    "# TYPE ralu_cluster_queue_depth gauge",
    `ralu_cluster_queue_depth ${h.depth}`,
    "# HELP ralu_cluster_workers_alive Workers whose heartbeat is fresh.",
    "# TYPE ralu_cluster_workers_alive gauge",
    `ralu_cluster_workers_alive ${h.workers_alive}`,
    "# HELP ralu_worker_jobs_total Jobs a worker ended, by outcome.",
    "# TYPE ralu_worker_jobs_total counter",
  ];
  for (const w of h.workers ?? []) {
    for (const outcome of ["completed", "failed", "cancelled"] as const) {
      out.push(`ralu_worker_jobs_total{worker="${w.id}",outcome="${outcome}"} ${w[outcome]}`);
    }
  }
  return out;
}

export function healthRoutes(state: ServerState): Hono {
  const app = new Hono();
  app.get("/health", async (c) => {
    const cluster = state.cluster ? await clusterHealth(state) : undefined;
    return c.json({
      status: "ok",
      adapter: state.adapter?.description ?? null,
      real_gpu: state.adapter?.isRealGpu ?? false,
      adapter_features: [...(state.adapter?.features ?? [])].sort(),
      ep: state.ep,
      model: state.registry.defaultId,
      loaded_models: state.registry.loadedIds(),
      // what each loaded model read, from where, and how big (weights included)
      models: (await state.registry.loaded()).map((m) => ({
        id: m.id,
        family: m.manifest.family,
        // the transformer graph's precision (fp16 where the adapter has shader-f16) and why
        precision: m.precision ?? null,
        components: m.components,
      })),
      queue_depth: cluster ? cluster.depth ?? null : state.queue.depth,
      running: cluster ? null : state.queue.running?.id ?? null,
      ...(cluster ? { cluster } : {}),
      uptime_s: Math.round((Date.now() - state.startedAt) / 1000),
    });
  });

  app.get("/metrics", async (c) => {
    const q = state.queue;
    // kernel devices are shared between models: count each pool once
    const pools = new Set(
      (await state.registry.loaded()).flatMap((
        m,
      ) => (m.kernels instanceof GpuOps ? [m.kernels.pool] : [])),
    );
    const lines = [
      "# HELP ralu_gpu_buffers_live Pooled GPU buffers handed out and not given back (0 when idle).",
      "# TYPE ralu_gpu_buffers_live gauge",
      `ralu_gpu_buffers_live ${[...pools].reduce((a, p) => a + p.live, 0)}`,
      "# HELP ralu_gpu_pool_bytes Bytes of GPU buffers the pools hold.",
      "# TYPE ralu_gpu_pool_bytes gauge",
      `ralu_gpu_pool_bytes ${[...pools].reduce((a, p) => a + p.bytes, 0)}`,
      "# HELP ralu_ort_device_tensors_live ORT device tensors not yet disposed (0 when idle).",
      "# TYPE ralu_ort_device_tensors_live gauge",
      `ralu_ort_device_tensors_live ${liveDeviceTensors.count}`,
      "# HELP ralu_queue_depth Jobs waiting.",
      "# TYPE ralu_queue_depth gauge",
      `ralu_queue_depth ${q.depth}`,
      "# HELP ralu_jobs_running Jobs running.",
      "# TYPE ralu_jobs_running gauge",
      `ralu_jobs_running ${q.running ? 1 : 0}`,
      "# HELP ralu_jobs_total Jobs ended, by outcome.",
      "# TYPE ralu_jobs_total counter",
      `ralu_jobs_total{outcome="completed"} ${q.completed}`,
      `ralu_jobs_total{outcome="failed"} ${q.failed}`,
      `ralu_jobs_total{outcome="cancelled"} ${q.cancelled}`,
      "# HELP ralu_images_generated_total Images produced.",
      "# TYPE ralu_images_generated_total counter",
      `ralu_images_generated_total ${state.counters.imagesGenerated}`,
      "# HELP ralu_generation_seconds_total Wall time spent generating.",
      "# TYPE ralu_generation_seconds_total counter",
      `ralu_generation_seconds_total ${state.counters.generationSeconds.toFixed(3)}`,
      "# HELP ralu_token_steps_total Image tokens processed by the DiT, summed over steps.",
      "# TYPE ralu_token_steps_total counter",
      `ralu_token_steps_total ${state.counters.tokenSteps}`,
      "# HELP ralu_http_requests_total HTTP requests, by status.",
      "# TYPE ralu_http_requests_total counter",
      ...[...state.counters.requests].map(([status, n]) =>
        `ralu_http_requests_total{status="${status}"} ${n}`
      ),
      ...(state.cluster ? await clusterMetrics(state) : []),
    ];
    return c.text(lines.join("\n") + "\n", 200, { "content-type": "text/plain; version=0.0.4" });
  });
  return app;
}
