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

/**
 * A job's state and event log: late subscribers replay it from the start. Shared by jobs run
 * in this process ({@link Job}) and jobs followed from a Redis queue (`RemoteJob`).
 */
export class JobRecord {
  status: JobStatus = "queued";
  result: unknown;
  error: HttpError | undefined;
  readonly events: JobEvent[] = [];
  readonly #listeners = new Set<(e: JobEvent) => void>();
  readonly #finished: Promise<void>;
  #resolve!: () => void;

  constructor(readonly id: string, readonly createdAt = Date.now()) {
    this.#finished = new Promise((r) => (this.#resolve = r));
  }

  /** Resolves once the job has ended (or, for a followed job, once following stops). */
  get finished(): Promise<void> {
    return this.#finished;
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

  protected settle(): void {
    this.#resolve();
  }
}

export class Job extends JobRecord {
  startedAt: number | undefined;
  endedAt: number | undefined;
  readonly controller = new AbortController();

  constructor(id: string, readonly work: JobWork) {
    super(id);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  finish(status: JobStatus): void {
    this.status = status;
    this.endedAt = Date.now();
    this.settle();
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
    if (this.#closed) throw shuttingDown();
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
      this.#end(job, "cancelled", cancelledError(reason, this.#closed));
    } else {
      job.controller.abort(new DOMException(reason, "AbortError"));
    }
    return true;
  }

  /**
   * Stops taking jobs and cancels the waiting ones (a retryable 503); the running one may
   * finish within `graceMs`, and is cancelled when that runs out.
   */
  async shutdown(graceMs = 0): Promise<void> {
    this.#closed = true;
    for (const job of [...this.#waiting]) this.cancel(job.id, "cancelled: server shutting down");
    const running = this.#running;
    if (running) {
      const grace = setTimeout(
        () => this.cancel(running.id, "cancelled: server shutting down"),
        graceMs,
      );
      await this.#idle;
      clearTimeout(grace);
    }
  }

  /**
   * Until the queue drains: the mean measured duration of recent jobs times the jobs
   * ahead; before any has finished, the running job's time so far stands in (a lower
   * bound, rather than a guess).
   */
  #estimatedWaitMs(): number {
    const done = [...this.#jobs.values()].filter((j) =>
      j.status === "completed" && j.startedAt && j.endedAt
    ).slice(-20);
    const running = this.#running?.startedAt ? Date.now() - this.#running.startedAt : 0;
    const per = done.length
      ? done.reduce((s, j) => s + (j.endedAt! - j.startedAt!), 0) / done.length
      : Math.max(running, 250);
    return Math.max(0, per - running) + per * this.#waiting.length;
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
          status === "failed"
            ? new HttpError(500, `job ${reason}`, null, "timeout")
            : cancelledError(reason, this.#closed),
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

/** A retryable refusal: the server is stopping; another instance (or this one, restarted) can take it. */
function shuttingDown(): HttpError {
  return new HttpError(503, "the server is shutting down; retry", null, "shutting_down", {
    "Retry-After": "5",
  });
}

/** A cancelled job: by its client (499, "cancelled") or by a shutdown (503, retryable). */
function cancelledError(reason: string, closed: boolean): HttpError {
  return closed ? shuttingDown() : new HttpError(499, `job ${reason}`, null, "cancelled");
}
