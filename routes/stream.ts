/**
 * Jobs: `POST /v1/images/jobs` queues a generation and returns its id at once;
 * `GET /v1/images/jobs/:id` is its state; `GET /v1/images/jobs/:id/events` streams its
 * events as SSE (queued, started, stage, step, preview, edge_mask, completed, error);
 * `DELETE /v1/images/jobs/:id` cancels it, also while it runs.
 */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { HttpError } from "../src/http/errors.ts";
import type { Job } from "../src/jobs/queue.ts";
import { readJson, submitGeneration } from "../src/jobs/submit.ts";
import type { ServerState } from "../src/server_state.ts";

function describe(state: ServerState, job: Job) {
  return {
    id: job.id,
    object: "image.job",
    status: job.status,
    position: job.status === "queued" ? state.queue.position(job) : 0,
    created_at: Math.floor(job.createdAt / 1000),
    events_url: `/v1/images/jobs/${job.id}/events`,
    error: job.error ? { message: job.error.message, code: job.error.code } : null,
  };
}

export function streamRoutes(state: ServerState): Hono {
  const app = new Hono();
  const find = (id: string): Job => {
    const job = state.queue.get(id);
    if (!job) throw new HttpError(404, `job ${id} does not exist`, "id");
    return job;
  };

  app.post("/v1/images/jobs", async (c) => {
    const { job } = await submitGeneration(
      state,
      await readJson(c.req.raw, {
        bytes: state.flags["body-limit"],
        timeoutMs: state.flags["body-timeout"] * 1000,
      }),
    );
    return c.json(describe(state, job), 202);
  });

  app.get("/v1/images/jobs/:id", (c) => c.json(describe(state, find(c.req.param("id")))));

  app.delete("/v1/images/jobs/:id", (c) => {
    const job = find(c.req.param("id"));
    const cancelled = state.queue.cancel(job.id);
    return c.json({ ...describe(state, job), cancelled });
  });

  app.get("/v1/images/jobs/:id/events", (c) => {
    const job = find(c.req.param("id"));
    return streamSSE(c, async (stream) => {
      let id = 0;
      let written: Promise<void> = Promise.resolve();
      await new Promise<void>((resolve) => {
        const unsubscribe = job.subscribe((e) => {
          const msg = { event: e.event, data: JSON.stringify(e.data), id: String(id++) };
          written = written.then(() => stream.writeSSE(msg));
        });
        stream.onAbort(() => {
          unsubscribe();
          resolve();
        });
        job.finished.then(() => {
          unsubscribe();
          resolve();
        });
      });
      await written;
    });
  });

  return app;
}
