/** `GET /health` (open even with an API key) and `GET /metrics` (Prometheus text format). */
import { Hono } from "hono";
import type { ServerState } from "../src/server_state.ts";

export function healthRoutes(state: ServerState): Hono {
  const app = new Hono();
  app.get("/health", (c) =>
    c.json({
      status: "ok",
      adapter: state.adapter?.description ?? null,
      real_gpu: state.adapter?.isRealGpu ?? false,
      ep: state.ep,
      model: state.registry.defaultId,
      loaded_models: state.registry.loadedIds(),
      queue_depth: state.queue.depth,
      running: state.queue.running?.id ?? null,
      uptime_s: Math.round((Date.now() - state.startedAt) / 1000),
    }));

  app.get("/metrics", (c) => {
    const q = state.queue;
    const lines = [
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
    ];
    return c.text(lines.join("\n") + "\n", 200, { "content-type": "text/plain; version=0.0.4" });
  });
  return app;
}
