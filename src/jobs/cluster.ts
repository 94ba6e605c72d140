/**
 * The job queue on Redis (≥ 7), shared by any number of API and worker processes.
 *
 * Jobs are entries of the stream `ralu:jobs`, read by the consumer group `workers` (one job at
 * a time per worker); a worker that stops heart-beating leaves its entry pending, and another
 * takes it over with XAUTOCLAIM after the visibility timeout (at-least-once delivery). Each
 * job has a hash `ralu:job:<id>` (status, attempts, error) and an event stream
 * `ralu:job:<id>:events`, both with a TTL, so SSE from any API process replays the history
 * and follows live. The terminal event (completed or error) is written by one Lua script that
 * checks the status first, so a job taken over after a worker died is answered exactly once.
 * A counter bounds the jobs waiting across the cluster (429 beyond it); workers publish
 * heartbeats with their counters; cancellation is a flag plus a pub/sub message the running
 * worker acts on within a step.
 *
 * @example
 * ```ts ignore
 * import { RedisCluster } from "./cluster.ts";
 * const cluster = await RedisCluster.connect("redis://127.0.0.1:6379/0", { maxQueued: 16 });
 * const job = await cluster.submit({ prompt: "a red circle" }, 7);
 * await job.finished;
 * ```
 */
import { Redis } from "ioredis";
import { errorBody, HttpError } from "../http/errors.ts";
import { type JobEvent, JobRecord } from "./queue.ts";

export const KEYS = {
  jobs: "ralu:jobs",
  group: "workers",
  depth: "ralu:depth",
  stats: "ralu:stats",
  cancel: "ralu:cancel",
  job: (id: string) => `ralu:job:${id}`,
  events: (id: string) => `ralu:job:${id}:events`,
  worker: (id: string) => `ralu:worker:${id}`,
};

export interface ClusterOptions {
  maxQueued: number;
  /** Seconds job hashes, event streams and results stay in Redis. */
  jobTtlS?: number;
  /** Largest event (the completed one carries the images) in bytes. */
  maxEventBytes?: number;
}

/** Enqueue under the cluster-wide bound: -1 when full, else the new depth. */
const SUBMIT = `
local d = tonumber(redis.call('GET', KEYS[1]) or '0')
if d >= tonumber(ARGV[1]) then return -1 end
redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[3], 'status', 'queued', 'created', ARGV[4], 'attempts', '0')
redis.call('EXPIRE', KEYS[3], ARGV[3])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', '10000', '*', 'e', 'queued', 'd', ARGV[5])
redis.call('EXPIRE', KEYS[4], ARGV[3])
redis.call('XADD', KEYS[2], '*', 'id', ARGV[2], 'payload', ARGV[6])
return d + 1`;

/** Cancel: 1 = was queued (now cancelled), 2 = running (flag set, worker told), 0 = ended/unknown. */
const CANCEL = `
local s = redis.call('HGET', KEYS[1], 'status')
if s == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'error', ARGV[1])
  redis.call('DECR', KEYS[3])
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', '10000', '*', 'e', 'error', 'd', ARGV[1])
  return 1
end
if s == 'running' then
  redis.call('HSET', KEYS[1], 'cancel', '1')
  redis.call('PUBLISH', KEYS[4], ARGV[2])
  return 2
end
return 0`;

/** Write a terminal event once: 0 if the job had already ended. */
export const FINISH = `
local s = redis.call('HGET', KEYS[1], 'status')
if s == 'completed' or s == 'failed' or s == 'cancelled' or not s then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'error', ARGV[4])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', '10000', '*', 'e', ARGV[2], 'd', ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1`;

/** A worker takes a job: 'queued' → running (depth down), 'running' → taken over, else skip. */
export const START = `
local s = redis.call('HGET', KEYS[1], 'status')
if s == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'running', 'worker', ARGV[1])
  redis.call('HINCRBY', KEYS[1], 'attempts', 1)
  redis.call('DECR', KEYS[2])
  return 1
end
if s == 'running' then
  redis.call('HSET', KEYS[1], 'worker', ARGV[1])
  redis.call('HINCRBY', KEYS[1], 'attempts', 1)
  return 2
end
return 0`;

export function unavailable(err: unknown): HttpError {
  return new HttpError(
    503,
    `the job queue (Redis) is unavailable: ${
      err instanceof Error ? err.message : String(err)
    }; retry`,
    null,
    "queue_unavailable",
    { "Retry-After": "2" },
  );
}

/** An HttpError from a stored error event (`{status, error: {message, param, code}}`). */
export function storedError(
  d: { status?: number; error?: Record<string, string | null> },
): HttpError {
  const e = d.error ?? {};
  return new HttpError(
    (d.status ?? 500) as HttpError["status"],
    e.message ?? "job failed",
    e.param ?? null,
    e.code ?? null,
  );
}

export function errorEvent(err: HttpError): string {
  return JSON.stringify({ ...errorBody(err), status: err.status });
}

/** Field list of a stream entry (`[k1, v1, k2, v2, …]`) as a record. */
export function entryFields(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < list.length; i += 2) out[list[i]!] = list[i + 1]!;
  return out;
}

/**
 * A job seen from an API process: its state follows the job's event stream, from the first
 * subscriber or the first wait on `finished` until the job ends or {@link stop} is called.
 */
export class RemoteJob extends JobRecord {
  #following = false;
  #stopped = false;

  constructor(id: string, createdAt: number, private readonly conn: () => Redis) {
    super(id, createdAt);
  }

  override get finished(): Promise<void> {
    this.#start();
    return super.finished;
  }

  override subscribe(listener: (e: JobEvent) => void): () => void {
    this.#start();
    return super.subscribe(listener);
  }

  #start(): void {
    if (this.#following) return;
    this.#following = true;
    this.#follow(this.conn());
  }

  async #follow(conn: Redis): Promise<void> {
    let last = "0-0";
    const key = KEYS.events(this.id);
    try {
      while (!this.ended && !this.#stopped) {
        let res: [string, [string, string[]][]][] | null;
        try {
          res = await conn.xread("COUNT", 100, "BLOCK", 1000, "STREAMS", key, last) as
            | [string, [string, string[]][]][]
            | null;
        } catch {
          await new Promise((r) => setTimeout(r, 500)); // Redis away: keep trying until it returns
          continue;
        }
        if (!res) {
          if (!(await conn.exists(KEYS.job(this.id)).catch(() => 1))) {
            this.#apply({ event: "error", data: JSON.parse(errorEvent(expired())) });
          }
          continue;
        }
        for (const [, entries] of res) {
          for (const [id, fields] of entries) {
            last = id;
            const f = entryFields(fields);
            this.#apply({ event: f.e!, data: JSON.parse(f.d!) });
          }
        }
      }
    } finally {
      conn.disconnect();
      this.settle();
    }
  }

  #apply(e: JobEvent): void {
    if (this.ended) return;
    if (e.event === "started") this.status = "running";
    const data = e.data as { status?: number; error?: Record<string, string | null> };
    // an error event is shown in the API's shape; the worker's extra fields (steps_run,
    // cancel_at_step after a cancel) stay beside it
    const { status: _s, ...rest } = data as Record<string, unknown>;
    this.emit(e.event, e.event === "error" ? rest : e.data);
    if (e.event === "completed") {
      this.result = e.data;
      this.status = "completed";
    } else if (e.event === "error") {
      this.error = storedError(data);
      this.status = this.error.status === 499 ? "cancelled" : "failed";
    }
  }

  stop(): void {
    this.#stopped = true;
  }
}

function expired(): HttpError {
  return new HttpError(500, "the job expired from the queue before it ended", null, "job_expired");
}

export interface WorkerInfo {
  id: string;
  model: string;
  running: string | null;
  completed: number;
  failed: number;
  cancelled: number;
  started_at: number;
  seen_at: number;
}

export class RedisCluster {
  private constructor(
    readonly url: string,
    private readonly redis: Redis,
    readonly options: Required<ClusterOptions>,
  ) {}

  /** An API-side client: commands fail at once while Redis is away (503s), and it reconnects. */
  static async connect(url: string, options: ClusterOptions): Promise<RedisCluster> {
    const redis = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      lazyConnect: true,
      retryStrategy: () => 500,
    });
    redis.on("error", () => {}); // reconnects by itself; requests meanwhile get 503
    // Redis may be away at start too: requests get 503s until it answers
    await redis.connect().catch(() => {});
    return new RedisCluster(url, redis, {
      maxQueued: options.maxQueued,
      jobTtlS: options.jobTtlS ?? 3600,
      maxEventBytes: options.maxEventBytes ?? 64 * 2 ** 20,
    });
  }

  #call<T>(fn: (r: Redis) => Promise<T>): Promise<T> {
    return fn(this.redis).catch((err) => {
      throw err instanceof HttpError ? err : unavailable(err);
    });
  }

  /** Enqueues a validated request for any worker. */
  async submit(payload: unknown, seed: number): Promise<RemoteJob> {
    const id = crypto.randomUUID();
    const created = Date.now();
    const depth = await this.#call((r) =>
      r.eval(
        SUBMIT,
        4,
        KEYS.depth,
        KEYS.jobs,
        KEYS.job(id),
        KEYS.events(id),
        String(this.options.maxQueued),
        id,
        String(this.options.jobTtlS),
        String(created),
        JSON.stringify({ id, position: 0 }),
        JSON.stringify({ request: payload, seed }),
      ) as Promise<number>
    );
    if (depth < 0) {
      throw new HttpError(
        429,
        `the queue is full (${this.options.maxQueued} waiting across the cluster); retry later`,
        null,
        "queue_full",
        { "Retry-After": String(await this.#retryAfter()) },
      );
    }
    return new RemoteJob(id, created, () => this.#follower());
  }

  #follower(): Redis {
    const conn = this.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    conn.on("error", () => {});
    return conn;
  }

  /** Seconds until a slot frees: mean measured job time x waiting jobs / live workers. */
  async #retryAfter(): Promise<number> {
    const [stats, workers] = await Promise.all([
      this.redis.hgetall(KEYS.stats).catch(() => ({} as Record<string, string>)),
      this.workers().catch(() => []),
    ]);
    const mean = Number(stats.ms ?? 0) / Math.max(1, Number(stats.jobs ?? 0)) || 1000;
    return Math.max(
      1,
      Math.ceil((mean * this.options.maxQueued) / Math.max(1, workers.length) / 1000),
    );
  }

  async get(id: string): Promise<RemoteJob | undefined> {
    const h = await this.#call((r) => r.hgetall(KEYS.job(id)));
    if (!h.status) return undefined;
    return new RemoteJob(id, Number(h.created), () => this.#follower());
  }

  /** Cancels a queued job at once, or tells its worker; false if it had ended. */
  async cancel(id: string, reason = "cancelled"): Promise<boolean> {
    const err = new HttpError(499, `job ${reason}`, null, "cancelled");
    const r = await this.#call((c) =>
      c.eval(
        CANCEL,
        4,
        KEYS.job(id),
        KEYS.events(id),
        KEYS.depth,
        KEYS.cancel,
        errorEvent(err),
        id,
      ) as Promise<number>
    );
    return r > 0;
  }

  async depth(): Promise<number> {
    return Number(await this.#call((r) => r.get(KEYS.depth)) ?? 0);
  }

  async workers(): Promise<WorkerInfo[]> {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, found] = await this.#call((r) =>
        r.scan(cursor, "MATCH", KEYS.worker("*"), "COUNT", 100)
      );
      cursor = next;
      keys.push(...found);
    } while (cursor !== "0");
    if (!keys.length) return [];
    const values = await this.#call((r) => r.mget(...keys));
    return values.flatMap((v) => (v ? [JSON.parse(v) as WorkerInfo] : [])).sort((a, b) =>
      a.id.localeCompare(b.id)
    );
  }

  async status(id: string): Promise<{ status: string; attempts: number } | undefined> {
    const h = await this.#call((r) => r.hgetall(KEYS.job(id)));
    return h.status ? { status: h.status, attempts: Number(h.attempts ?? 0) } : undefined;
  }

  close(): void {
    this.redis.disconnect();
  }
}
