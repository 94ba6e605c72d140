/**
 * A GPU worker of the Redis-backed cluster: holds one model on one device and takes one job
 * at a time from the consumer group. While a job runs it heart-beats (its own key with a TTL,
 * and an XCLAIM that keeps its stream entry from looking idle); between jobs it takes over
 * entries idle longer than the visibility timeout (their worker died). Events go to the job's
 * stream as they happen; the terminal one goes through the FINISH script, so a job that was
 * taken over is still answered once. A cancel message (or the job's cancel flag, checked on
 * every heartbeat) stops the running job within a step.
 *
 * @example
 * ```ts ignore
 * import { runWorker } from "./worker.ts";
 * const stop = await runWorker({ url: "redis://127.0.0.1:6379/0", model, ... });
 * ```
 */
import { Redis } from "ioredis";
import { HttpError, toHttpError } from "../http/errors.ts";
import type { ImageRequest } from "../config/image_request.ts";
import type { LoadedModel } from "../pipeline/model.ts";
import { generationWork } from "./generation_job.ts";
import { JobQueue } from "./queue.ts";
import { entryFields, errorEvent, FINISH, KEYS, START, type WorkerInfo } from "./cluster.ts";

export interface WorkerOptions {
  url: string;
  /** The loaded model, fetched per job (the registry rebuilds it after a lost device). */
  model: () => Promise<LoadedModel>;
  modelId: string;
  timeoutMs: number;
  previewEvery: number;
  visibilityMs: number;
  jobTtlS: number;
  maxEventBytes: number;
  id?: string;
  log?: (line: string) => void;
}

export interface RunningWorker {
  id: string;
  /** Stops taking jobs; the running one may finish within `graceMs`, else is left to others. */
  stop: (graceMs: number) => Promise<void>;
}

type Entry = [string, string[]];

export async function runWorker(o: WorkerOptions): Promise<RunningWorker> {
  const id = o.id ?? `w-${crypto.randomUUID().slice(0, 8)}`;
  const log = o.log ?? ((l: string) => console.log(l));
  const redis = new Redis(o.url, { maxRetriesPerRequest: null, retryStrategy: () => 500 });
  const sub = redis.duplicate();
  for (const r of [redis, sub]) r.on("error", () => {});
  await redis.xgroup("CREATE", KEYS.jobs, KEYS.group, "0", "MKSTREAM").catch((e: Error) => {
    if (!/BUSYGROUP/.test(e.message)) throw e;
  });
  const info: WorkerInfo = {
    id,
    model: o.modelId,
    running: null,
    completed: 0,
    failed: 0,
    cancelled: 0,
    started_at: Date.now(),
    seen_at: Date.now(),
  };
  const local = new JobQueue({ maxQueued: 1, timeoutMs: o.timeoutMs });
  let current:
    | { jobId: string; entry: string; localId: string; steps: number; cancelAt?: number }
    | undefined;
  const cancelCurrent = () => {
    if (!current) return;
    current.cancelAt ??= current.steps;
    local.cancel(current.localId);
  };
  let stopping = false;

  const beat = async () => {
    info.seen_at = Date.now();
    info.running = current?.jobId ?? null;
    await redis.set(KEYS.worker(id), JSON.stringify(info), "PX", 3000);
    if (current) {
      // keep our entry from looking idle, and notice a cancel whose message we missed
      await redis.xclaim(KEYS.jobs, KEYS.group, id, 0, current.entry, "JUSTID");
      if (await redis.hget(KEYS.job(current.jobId), "cancel")) cancelCurrent();
    }
  };
  const heartbeat = setInterval(() => beat().catch(() => {}), 1000);
  await beat();

  await sub.subscribe(KEYS.cancel);
  sub.on("message", (_channel: string, jobId: string) => {
    if (current?.jobId === jobId) cancelCurrent();
  });

  /** Done with an entry: acknowledged and deleted, so the stream holds only open work. */
  const ack = (entry: string) =>
    redis.multi().xack(KEYS.jobs, KEYS.group, entry).xdel(KEYS.jobs, entry).exec();

  async function handle([entry, raw]: Entry): Promise<void> {
    const { id: jobId, payload } = entryFields(raw);
    if (!jobId || !payload) return void (await ack(entry));
    const started = await redis.eval(START, 2, KEYS.job(jobId), KEYS.depth, id) as number;
    if (started === 0) return void (await ack(entry)); // ended (cancelled) or expired
    const { request, seed } = JSON.parse(payload) as { request: ImageRequest; seed: number };
    const evKey = KEYS.events(jobId);
    const add = (e: string, d: unknown) =>
      redis.xadd(evKey, "MAXLEN", "~", "10000", "*", "e", e, "d", JSON.stringify(d));
    if (started === 2) {
      await add("requeued", { worker: id, reason: "the previous worker stopped heart-beating" });
    }
    const t0 = performance.now();
    const model = await o.model();
    const job = local.submit(generationWork(model, request, seed, o.previewEvery));
    const run: NonNullable<typeof current> = { jobId, entry, localId: job.id, steps: 0 };
    current = run;
    await beat().catch(() => {}); // /health shows the job at once
    // forward progress events as they happen; the terminal one is written below, once
    let chain: Promise<unknown> = Promise.resolve();
    const unsubscribe = job.subscribe((e) => {
      if (e.event === "queued" || e.event === "completed" || e.event === "error") return;
      if (e.event === "step") run.steps++;
      const data = e.event === "started"
        ? { id: jobId, worker: id }
        : { ...(e.data as object), worker: id };
      chain = chain.then(() => add(e.event, data)).catch(() => {});
    });
    await job.finished;
    unsubscribe();
    await chain;
    current = undefined;
    if (stopping && job.status === "cancelled" && !(await redis.hget(KEYS.job(jobId), "cancel"))) {
      return; // stopped by our shutdown: left pending for another worker to take over
    }
    let status = job.status as "completed" | "failed" | "cancelled";
    let event = "completed";
    let data = JSON.stringify(job.result ?? null);
    let error: HttpError | undefined = job.error;
    if (status === "completed" && data.length > o.maxEventBytes) {
      status = "failed";
      error = new HttpError(
        500,
        `the result (${data.length} bytes) is over the queue's result limit (${o.maxEventBytes})`,
        null,
        "result_too_large",
      );
    }
    if (status !== "completed") {
      event = "error";
      data = errorEvent(error ?? toHttpError(new Error("job failed")));
      if (run.cancelAt !== undefined) {
        // how promptly this worker acted: steps it ran after the cancel reached it
        data = JSON.stringify({
          ...JSON.parse(data),
          steps_run: run.steps,
          cancel_at_step: run.cancelAt,
        });
      }
    }
    const wrote = await redis.eval(
      FINISH,
      2,
      KEYS.job(jobId),
      evKey,
      status,
      event,
      data,
      event === "error" ? data : "",
      String(o.jobTtlS),
    ) as number;
    if (wrote) {
      info[status]++;
      if (status === "completed") {
        await redis.hincrby(KEYS.stats, "jobs", 1);
        await redis.hincrby(KEYS.stats, "ms", Math.round(performance.now() - t0));
      }
    }
    await ack(entry);
    await beat().catch(() => {});
    log(`worker ${id}: job ${jobId} ${status}${wrote ? "" : " (already answered; dropped)"}`);
  }

  const loop = (async () => {
    while (!stopping) {
      try {
        // a dead worker's job first, then new ones
        const claimed = await redis.xautoclaim(
          KEYS.jobs,
          KEYS.group,
          id,
          o.visibilityMs,
          "0-0",
          "COUNT",
          1,
        ) as [string, Entry[]];
        const stale = claimed[1]?.filter((e) => e && e[1]) ?? [];
        if (stale.length) {
          await handle(stale[0]!);
          continue;
        }
        const res = await redis.xreadgroup(
          "GROUP",
          KEYS.group,
          id,
          "COUNT",
          1,
          "BLOCK",
          1000,
          "STREAMS",
          KEYS.jobs,
          ">",
        ) as
          | [string, Entry[]][]
          | null;
        const entry = res?.[0]?.[1]?.[0];
        if (entry) await handle(entry);
      } catch (err) {
        if (stopping) break;
        log(`worker ${id}: ${err instanceof Error ? err.message : err}; retrying`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  })();

  log(`worker ${id} ready (model ${o.modelId})`);
  return {
    id,
    stop: async (graceMs: number) => {
      stopping = true;
      await local.shutdown(graceMs);
      await loop;
      clearInterval(heartbeat);
      await redis.del(KEYS.worker(id)).catch(() => {});
      sub.disconnect();
      redis.disconnect();
    },
  };
}
