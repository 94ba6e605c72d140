/**
 * `POST /v1/images/generations` — the OpenAI images endpoint, with `stream: true`
 * answered as SSE (`image_generation.partial_image`, `image_generation.completed`).
 */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { HttpError } from "../src/http/errors.ts";
import type { GenerationResult } from "../src/jobs/generation_job.ts";
import { readJson, submitGeneration } from "../src/jobs/submit.ts";
import type { Job, JobEvent } from "../src/jobs/queue.ts";
import { cancelJob, type ServerState } from "../src/server_state.ts";

function imageData(r: GenerationResult, format: string, url: boolean) {
  return r.images.map((img) =>
    url
      ? { url: `data:image/${format};base64,${img.b64_json}`, revised_prompt: null }
      : { b64_json: img.b64_json }
  );
}

export function imagesRoutes(state: ServerState): Hono {
  const app = new Hono();

  app.post("/v1/images/generations", async (c) => {
    const { job, request, model } = await submitGeneration(
      state,
      await readJson(c.req.raw, {
        bytes: state.flags["body-limit"],
        timeoutMs: state.flags["body-timeout"] * 1000,
      }),
      false, // only a stream's events are read: a plain request makes no previews
    );
    const size = request.size ?? model.manifest.default_size;
    const format = request.output_format;

    if (!request.stream) {
      // a client that goes away cancels its job
      const onAbort = () =>
        void cancelJob(state, job.id, "cancelled: client disconnected").catch(() => {});
      c.req.raw.signal.addEventListener("abort", onAbort);
      await job.finished;
      c.req.raw.signal.removeEventListener("abort", onAbort);
      if (job.status !== "completed") throw job.error ?? new HttpError(500, "generation failed");
      const r = job.result as GenerationResult;
      return c.json({
        created: r.created,
        data: imageData(r, format, request.response_format === "url"),
        output_format: format,
        size,
        usage: { input_tokens: 0, output_tokens: 0, total_tokens: 0 },
        ralu: {
          seeds: r.images.map((i) => i.seed),
          timings: r.timings,
          cost: r.cost,
          job_id: job.id,
          warnings: r.warnings,
        },
      });
    }

    return streamSSE(c, async (stream) => {
      stream.onAbort(() => {
        void cancelJob(state, job.id, "cancelled: client disconnected").catch(() => {});
      });
      let partial = 0;
      // writes are chained so the last event is flushed before the stream closes
      let written: Promise<void> = Promise.resolve();
      const write = (
        msg: { event: string; data: string },
      ) => (written = written.then(() => stream.writeSSE(msg)));
      await new Promise<void>((resolve) => {
        const send = (e: JobEvent) => {
          const created = Math.floor(Date.now() / 1000);
          if (e.event === "preview" && partial < request.partial_images) {
            const d = e.data as { b64_png: string };
            const payload = {
              type: "image_generation.partial_image",
              b64_json: d.b64_png,
              partial_image_index: partial++,
              created_at: created,
              size,
              output_format: "png",
              background: "opaque",
              quality: request.quality ?? "auto",
            };
            write({ event: payload.type, data: JSON.stringify(payload) });
          } else if (e.event === "completed") {
            const r = e.data as GenerationResult;
            for (const img of r.images) {
              const payload = {
                type: "image_generation.completed",
                b64_json: img.b64_json,
                created_at: created,
                size,
                output_format: format,
                background: "opaque",
                quality: request.quality ?? "auto",
                usage: { input_tokens: 0, output_tokens: 0, total_tokens: 0 },
                ...(r.warnings.length ? { warnings: r.warnings } : {}),
              };
              write({ event: payload.type, data: JSON.stringify(payload) });
            }
            resolve();
          } else if (e.event === "error") {
            write({
              event: "error",
              data: JSON.stringify({ type: "error", ...(e.data as object) }),
            });
            resolve();
          }
        };
        const unsubscribe = (job as Job).subscribe(send);
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
