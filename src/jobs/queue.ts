/**
 * FIFO job queue: a bound on waiting jobs (429 + Retry-After beyond it), one job running
 * at a time per device, cancellation at any point, a per-job timeout, and an event log
 * per job that late subscribers replay from the start.
 *
 * @example
 * ```ts
 * import { JobQueue } from "./queue.ts";
 * const q = new JobQueue({ maxQueued: 8, timeoutMs: 60_000 });
 * const job = q.submit(async (job) => { job.emit("step", { step: 1 }); return "done"; });
 * await job.finished;
 * ```
 */
import { errorBody, HttpError, toHttpError } from "../http/errors.ts";

export type JobStatus = "queued" | "running" | "completed" | "failed" | "cancelled";

export interface JobEvent {
  event: string;
  data: unknown;
}

export type JobWork = (job: Job) => Promise<unknown>;

export class Job {
  status: JobStatus = "queued";
  result: unknown;
  error: HttpError | undefined;
  readonly events: JobEvent[] = [];
  readonly createdAt = Date.now();
  startedAt: number | undefined;
  endedAt: number | undefined;
  readonly controller = new AbortController();
  readonly #listeners = new Set<(e: JobEvent) => void>();
  readonly finished: Promise<void>;
  #resolve!: () => void;

  constructor(readonly id: string, readonly work: JobWork) {
    this.finished = new Promise((r) => (this.#resolve = r));
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get ended(): boolean {
    return this.status === "completed" || this.status === "failed" || this.status === "cancelled";
  }

  emit(event: string, data: unknown): void {
    const e = { event, data };
    this.events.push(e);
    for (const l of this.#listeners) l(e);
  }

  /** Replays past events, then forwards new ones until unsubscribed. */
  subscribe(listener: (e: JobEvent) => void): () => void {
    for (const e of this.events) listener(e);
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  finish(status: JobStatus): void {
    this.status = status;
    this.endedAt = Date.now();
    this.#resolve();
  }
}

export interface QueueOptions {
  maxQueued: number;
  timeoutMs: number;
  /** Finished jobs kept for late readers. */
  keepFinished?: number;
}

export class JobQueue {
  readonly #waiting: Job[] = [];
  readonly #jobs = new Map<string, Job>();
  #running: Job | undefined;
  #closed = false;
  #idle: Promise<void> = Promise.resolve();
  completed = 0;
  failed = 0;
  cancelled = 0;

  constructor(private readonly options: QueueOptions) {}

  get depth(): number {
    return this.#waiting.length;
  }

  get running(): Job | undefined {
    return this.#running;
  }

  submit(work: JobWork): Job {
    if (this.#closed) throw new HttpError(503, "the server is shutting down");
    if (this.#waiting.length >= this.options.maxQueued) {
      const retry = Math.max(1, Math.ceil(this.#estimatedWaitMs() / 1000));
      throw new HttpError(
        429,
        `the queue is full (${this.options.maxQueued} waiting); retry later`,
        null,
        "queue_full",
        {
          "Retry-After": String(retry),
        },
      );
    }
    const job = new Job(crypto.randomUUID(), work);
    this.#jobs.set(job.id, job);
    this.#waiting.push(job);
    job.emit("queued", { id: job.id, position: this.#waiting.length });
    this.#prune();
    queueMicrotask(() => this.#pump());
    return job;
  }

  get(id: string): Job | undefined {
    return this.#jobs.get(id);
  }

  position(job: Job): number {
    return this.#waiting.indexOf(job) + 1;
  }

  /** Cancels a waiting or running job; returns false if it had already ended. */
  cancel(id: string, reason = "cancelled"): boolean {
    const job = this.#jobs.get(id);
    if (!job || job.ended) return false;
    const i = this.#waiting.indexOf(job);
    if (i >= 0) {
      this.#waiting.splice(i, 1);
      job.controller.abort(new DOMException(reason, "AbortError"));
      this.#end(job, "cancelled", new HttpError(400, `job ${reason}`, null, "cancelled"));
    } else {
      job.controller.abort(new DOMException(reason, "AbortError"));
    }
    return true;
  }

  /** Stops taking jobs, cancels the waiting ones and aborts the running one. */
  async shutdown(): Promise<void> {
    this.#closed = true;
    for (const job of [...this.#waiting]) this.cancel(job.id, "cancelled: server shutting down");
    if (this.#running) this.cancel(this.#running.id, "cancelled: server shutting down");
    await this.#idle;
  }

  #estimatedWaitMs(): number {
    const done = [...this.#jobs.values()].filter((j) =>
      j.status === "completed" && j.startedAt && j.endedAt
    );
    const avg = done.length
      ? done.reduce((s, j) => s + (j.endedAt! - j.startedAt!), 0) / done.length
      : 5000;
    return avg * (this.#waiting.length + 1);
  }

  #pump(): void {
    if (this.#running) return;
    const job = this.#waiting.shift();
    if (!job) return;
    this.#running = job;
    for (const [i, w] of this.#waiting.entries()) w.emit("queued", { id: w.id, position: i + 1 });
    this.#idle = this.#run(job).finally(() => {
      this.#running = undefined;
      this.#pump();
    });
  }

  async #run(job: Job): Promise<void> {
    job.status = "running";
    job.startedAt = Date.now();
    job.emit("started", { id: job.id });
    const timer = setTimeout(
      () =>
        job.controller.abort(
          new DOMException(`timed out after ${this.options.timeoutMs} ms`, "TimeoutError"),
        ),
      this.options.timeoutMs,
    );
    try {
      job.result = await job.work(job);
      this.#end(job, "completed");
    } catch (err) {
      if (job.signal.aborted) {
        const reason = job.signal.reason instanceof DOMException
          ? job.signal.reason.message
          : "cancelled";
        const status =
          job.signal.reason instanceof DOMException && job.signal.reason.name === "TimeoutError"
            ? "failed"
            : "cancelled";
        this.#end(
          job,
          status,
          new HttpError(
            status === "failed" ? 500 : 400,
            `job ${reason}`,
            null,
            status === "failed" ? "timeout" : "cancelled",
          ),
        );
      } else {
        this.#end(job, "failed", toHttpError(err));
      }
    } finally {
      clearTimeout(timer);
    }
  }

  #end(job: Job, status: JobStatus, error?: HttpError): void {
    job.error = error;
    if (error) job.emit("error", errorBody(error));
    if (status === "completed") this.completed++;
    else if (status === "cancelled") this.cancelled++;
    else this.failed++;
    job.finish(status);
  }

  #prune(): void {
    const keep = this.options.keepFinished ?? 100;
    const ended = [...this.#jobs.values()].filter((j) => j.ended);
    for (const j of ended.slice(0, Math.max(0, ended.length - keep))) this.#jobs.delete(j.id);
  }
}
