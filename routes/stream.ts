/**
 * Jobs: `POST /v1/images/jobs` queues a generation and returns its id at once;
 * `GET /v1/images/jobs/:id` is its state; `GET /v1/images/jobs/:id/events` streams its
 * events as SSE (queued, started, stage, step, preview, edge_mask, completed, error);
 * `DELETE /v1/images/jobs/:id` cancels it, also while it runs: the answer is the job's state
 * after the request (`cancelling` while its run stops, within a step; then `cancelled`), and a
 * repeated DELETE changes nothing and says `already_cancelled`.
 */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { HttpError } from "../src/http/errors.ts";
import type { Job } from "../src/jobs/queue.ts";
import type { RemoteJob } from "../src/jobs/cluster.ts";
import { readJson, submitGeneration } from "../src/jobs/submit.ts";
import { cancelJob, type ServerState } from "../src/server_state.ts";

async function describe(state: ServerState, job: Job | RemoteJob) {
  // on a cluster the job hash is the truth (this process may have just started following it)
  const stored = state.cluster ? await state.cluster.status(job.id) : undefined;
  // a running job told to stop is "cancelling" until its run notices (within a step)
  const stopping = job.status === "running" && "signal" in job && job.signal.aborted;
  const status = stored?.status ?? (stopping ? "cancelling" : job.status);
  return {
    id: job.id,
    object: "image.job",
    status,
    position: status !== "queued" ? 0 : state.cluster ? null : state.queue.position(job as Job),
    created_at: Math.floor(job.createdAt / 1000),
    events_url: `/v1/images/jobs/${job.id}/events`,
    ...(stored ? { attempts: stored.attempts } : {}),
    error: job.error ? { message: job.error.message, code: job.error.code } : null,
  };
}

export function streamRoutes(state: ServerState): Hono {
  const app = new Hono();
  const find = async (id: string): Promise<Job | RemoteJob> => {
    const job = state.cluster ? await state.cluster.get(id) : state.queue.get(id);
    if (!job) throw new HttpError(404, `job ${id} does not exist`, "id");
    return job;
  };
  /** A cluster job's follower ends with the request that made it. */
  const done = (job: Job | RemoteJob) => {
    if ("stop" in job) job.stop();
  };

  app.post("/v1/images/jobs", async (c) => {
    const { job } = await submitGeneration(
      state,
      await readJson(c.req.raw, {
        bytes: state.flags["body-limit"],
        timeoutMs: state.flags["body-timeout"] * 1000,
      }),
    );
    const body = await describe(state, job);
    done(job);
    return c.json(body, 202);
  });

  app.get("/v1/images/jobs/:id", async (c) => {
    const job = await find(c.req.param("id"));
    const body = await describe(state, job);
    done(job);
    return c.json(body);
  });

  // idempotent: a job already cancelled (or cancelling) is answered as such, not cancelled again
  app.delete("/v1/images/jobs/:id", async (c) => {
    const job = await find(c.req.param("id"));
    const before = (await describe(state, job)).status;
    const already = before === "cancelling" || before === "cancelled";
    const cancelled = already || await cancelJob(state, job.id);
    const body = {
      ...(await describe(state, job)),
      cancelled,
      ...(already ? { already_cancelled: true } : {}),
    };
    done(job);
    return c.json(body);
  });

  app.get("/v1/images/jobs/:id/events", async (c) => {
    const job = await find(c.req.param("id"));
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
          done(job);
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
