// The Redis-backed cluster with real processes: a redis-server (AOF on) on a free loopback
// port with its own data directory, 2 API and 2 worker processes on the default model. Every
// accepted job is counted: it must end exactly once (one completed, or one error for those we
// cancel), through both APIs, across a cancel from the other API, a kill -9 of the worker
// running a job, a full cluster queue, and a Redis restart.
import assert from "node:assert/strict";
import { post, readSse } from "../_helpers.ts";

const REDIS = await new Deno.Command("redis-server", { args: ["--version"] }).output()
  .then((o) => o.success, () => false);
if (!REDIS) {
  console.warn("skipping the cluster tests: no redis-server (apt-get install redis-server)");
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A child process whose stdout lines are kept, with a wait for a line matching a pattern. */
class Proc {
  lines: string[] = [];
  #waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  constructor(readonly child: Deno.ChildProcess) {
    (async () => {
      let buf = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        const parts = buf.split("\n");
        buf = parts.pop()!;
        for (const line of parts) {
          this.lines.push(line);
          for (const w of [...this.#waiters]) {
            const m = line.match(w.re);
            if (m) {
              this.#waiters.splice(this.#waiters.indexOf(w), 1);
              w.resolve(m);
            }
          }
        }
      }
    })();
  }
  wait(re: RegExp, ms = 60_000): Promise<RegExpMatchArray> {
    const seen = this.lines.map((l) => l.match(re)).find(Boolean);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${re}`)), ms);
      this.#waiters.push({ re, resolve: (m) => (clearTimeout(t), resolve(m)) });
    });
  }
  kill(signal: Deno.Signal = "SIGTERM") {
    try {
      this.child.kill(signal);
    } catch { /* gone */ }
  }
}

function spawn(cmd: string, args: string[]): Proc {
  return new Proc(new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit" }).spawn());
}

const redisPort = freePort();
const redisDir = await Deno.makeTempDir({ prefix: "ralu-redis-" });
const QUEUE = `redis://127.0.0.1:${redisPort}/0`;

async function startRedis(): Promise<Proc> {
  const p = spawn("redis-server", [
    "--port",
    String(redisPort),
    "--bind",
    "127.0.0.1",
    "--dir",
    redisDir,
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--save",
    "",
    "--daemonize",
    "no",
    "--protected-mode",
    "no",
  ]);
  await p.wait(/Ready to accept connections/);
  return p;
}

const server = (role: "api" | "worker", extra: string[] = []) =>
  spawn(Deno.execPath(), [
    "run",
    "--unstable-no-legacy-abort",
    "-A",
    "main.ts",
    "serve",
    "--port",
    "0",
    "--model",
    "default",
    "--ep",
    "wasm",
    "--kernels",
    "cpu",
    "--queue",
    QUEUE,
    "--role",
    role,
    "--visibility-timeout",
    "3",
    "--queue-size",
    "3",
    "--shutdown-grace",
    "1",
    ...extra,
  ]);

async function startApi(): Promise<{ p: Proc; url: string }> {
  const p = server("api");
  const m = await p.wait(/listening on (http:\/\/\S+)/);
  return { p, url: m[1]! };
}
async function startWorker(): Promise<{ p: Proc; id: string }> {
  const p = server("worker");
  const m = await p.wait(/worker (w-[0-9a-f]+) ready/);
  return { p, id: m[1]! };
}

interface Ev {
  event: string;
  data: Record<string, unknown>;
}
/** All events of a job from an API's SSE route, until its stream ends. */
async function events(api: string, id: string): Promise<Ev[]> {
  const res = await fetch(`${api}/v1/images/jobs/${id}/events`);
  return (await readSse(res)).map((e) => ({ event: e.event, data: JSON.parse(e.data) }));
}
/** Reads a job's SSE until `until` matches an event; returns those events and cancels the read. */
async function eventsUntil(api: string, id: string, until: (e: Ev) => boolean): Promise<Ev[]> {
  const res = await fetch(`${api}/v1/images/jobs/${id}/events`);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const out: Ev[] = [];
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return out;
    buf += value;
    const blocks = buf.split("\n\n");
    buf = blocks.pop()!;
    for (const b of blocks) {
      const ev = b.match(/^event: ?(.*)$/m)?.[1];
      const data = b.match(/^data: ?(.*)$/m)?.[1];
      if (!ev || !data) continue;
      const e = { event: ev, data: JSON.parse(data) };
      out.push(e);
      if (until(e)) {
        await reader.cancel();
        return out;
      }
    }
  }
}
const submit = async (api: string, body: object, retryWhenFull = false): Promise<string> => {
  for (;;) {
    const res = await fetch(`${api}/v1/images/jobs`, post({ prompt: "a red circle", ...body }));
    if (res.status === 429 && retryWhenFull) {
      await res.body?.cancel();
      await new Promise((r) => setTimeout(r, 300));
      continue;
    }
    assert.equal(res.status, 202, await res.clone().text());
    return (await res.json()).id as string;
  }
};
const terminal = (evs: Ev[]) => evs.filter((e) => e.event === "completed" || e.event === "error");

Deno.test({
  name: "cluster: 2 APIs + 2 workers on Redis; no accepted job lost or answered twice",
  ignore: !REDIS,
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  let redis = await startRedis();
  const [a, b] = await Promise.all([startApi(), startApi()]);
  let workers = await Promise.all([startWorker(), startWorker()]);
  const accepted = new Map<string, "complete" | "cancel">();
  try {
    await t.step("20 jobs through both APIs (plain, stream, jobs API)", async () => {
      const work = Array.from({ length: 20 }, async (_, i) => {
        const api = i % 2 ? a.url : b.url;
        const body = { prompt: "a small blue square at the top left", steps: 3, seed: i };
        if (i % 3 === 0) {
          const id = await submit(api, body, true);
          accepted.set(id, "complete");
          return;
        }
        // plain or streamed OpenAI calls may meet a full queue: that is an answer, not a loss
        for (;;) {
          const res = await fetch(
            `${api}/v1/images/generations`,
            post({ ...body, stream: i % 3 === 2 }),
          );
          if (res.status === 429) {
            assert.ok(Number(res.headers.get("retry-after")) >= 1);
            await res.body?.cancel();
            await new Promise((r) => setTimeout(r, 300));
            continue;
          }
          assert.equal(res.status, 200);
          if (i % 3 === 2) {
            const sse = await readSse(res);
            assert.equal(sse.filter((e) => e.event === "image_generation.completed").length, 1);
          } else {
            const j = await res.json();
            assert.equal(j.data.length, 1);
            accepted.set(j.ralu.job_id, "complete");
          }
          return;
        }
      });
      await Promise.all(work);
    });

    await t.step("SSE from one API for a job submitted to the other", async () => {
      const id = await submit(a.url, { steps: 4, seed: 99 });
      accepted.set(id, "complete");
      const evs = await events(b.url, id);
      const names = evs.map((e) => e.event);
      assert.equal(names[0], "queued");
      assert.ok(names.includes("started") && names.includes("step"), names.join(","));
      assert.equal(terminal(evs).length, 1);
      assert.equal(names.at(-1), "completed");
      const worker = evs.find((e) => e.event === "started")!.data.worker;
      assert.ok(workers.some((w) => w.id === worker), String(worker));
    });

    await t.step("cancel from the other API reaches the running worker within a step", async () => {
      const id = await submit(a.url, { steps: 200, seed: 1 });
      accepted.set(id, "cancel");
      await eventsUntil(b.url, id, (e) => e.event === "step" && Number(e.data.step) >= 3);
      const del = await fetch(`${b.url}/v1/images/jobs/${id}`, { method: "DELETE" });
      assert.equal((await del.json()).cancelled, true);
      const evs = await events(a.url, id);
      const end = terminal(evs);
      assert.equal(end.length, 1);
      assert.equal((end[0]!.data.error as { code: string }).code, "cancelled");
      const steps = evs.filter((e) => e.event === "step").length;
      assert.ok(steps < 200, `${steps} steps ran`);
    });

    await t.step(
      "kill -9 of the worker running a job: another takes it over, one answer",
      async () => {
        const id = await submit(b.url, { steps: 60, seed: 2 });
        accepted.set(id, "complete");
        const seen = await eventsUntil(a.url, id, (e) => e.event === "step");
        const victim = workers.find((w) =>
          w.id === seen.find((e) => e.event === "started")!.data.worker
        )!;
        victim.p.kill("SIGKILL");
        const evs = await events(a.url, id);
        assert.equal(terminal(evs).length, 1);
        assert.equal(terminal(evs)[0]!.event, "completed");
        const requeued = evs.find((e) => e.event === "requeued");
        assert.ok(requeued, evs.map((e) => e.event).join(","));
        assert.notEqual(requeued!.data.worker, victim.id);
        const status = await (await fetch(`${b.url}/v1/images/jobs/${id}`)).json();
        assert.equal(status.status, "completed");
        assert.equal(status.attempts, 2);
        workers = [workers.find((w) => w !== victim)!, await startWorker()];
      },
    );

    await t.step("the queue bound holds across the cluster: 429 with Retry-After", async () => {
      const long = [
        await submit(a.url, { steps: 200, seed: 3 }),
        await submit(b.url, { steps: 200, seed: 4 }),
      ];
      long.forEach((id) => accepted.set(id, "cancel"));
      for (const id of long) await eventsUntil(a.url, id, (e) => e.event === "started");
      const queued: string[] = [];
      for (let i = 0; i < 3; i++) {
        queued.push(await submit(i % 2 ? a.url : b.url, { steps: 3, seed: 10 + i }));
      }
      queued.forEach((id) => accepted.set(id, "cancel"));
      for (const api of [a.url, b.url]) {
        const full = await fetch(`${api}/v1/images/jobs`, post({ prompt: "x", steps: 3 }));
        assert.equal(full.status, 429);
        assert.ok(Number(full.headers.get("retry-after")) >= 1);
        assert.equal((await full.json()).error.code, "queue_full");
      }
      const health = await (await fetch(`${a.url}/health`)).json();
      assert.equal(health.cluster.depth, 3);
      assert.equal(health.cluster.workers_alive, 2);
      assert.deepEqual(
        health.cluster.workers.map((w: { running: string }) => w.running).sort(),
        [...long].sort(),
      );
      for (const id of [...queued, ...long]) {
        assert.equal(
          (await (await fetch(`${b.url}/v1/images/jobs/${id}`, { method: "DELETE" })).json())
            .cancelled,
          true,
        );
      }
      for (const id of [...queued, ...long]) {
        assert.equal(terminal(await events(a.url, id)).length, 1);
      }
      assert.equal((await (await fetch(`${b.url}/health`)).json()).cluster.depth, 0);
    });

    await t.step(
      "Redis restart (AOF): 503 while it is away, then jobs run again; queued work survives",
      async () => {
        const running = await submit(a.url, { steps: 40, seed: 5 });
        accepted.set(running, "complete");
        await eventsUntil(b.url, running, (e) => e.event === "step");
        redis.kill("SIGTERM");
        await redis.child.status;
        const down = await fetch(`${a.url}/v1/images/jobs`, post({ prompt: "x", steps: 3 }));
        assert.equal(down.status, 503);
        assert.equal((await down.json()).error.code, "queue_unavailable");
        redis = await startRedis();
        let id: string | undefined;
        for (let i = 0; i < 40 && !id; i++) {
          const res = await fetch(
            `${b.url}/v1/images/jobs`,
            post({ prompt: "x", steps: 3, seed: 6 }),
          );
          if (res.status === 202) id = (await res.json()).id;
          else await res.body?.cancel(), await new Promise((r) => setTimeout(r, 250));
        }
        assert.ok(id, "the API recovered once Redis came back");
        accepted.set(id!, "complete");
        for (const j of [running, id!]) {
          const evs = await events(a.url, j);
          assert.equal(terminal(evs).length, 1, j);
          assert.equal(terminal(evs)[0]!.event, "completed", j);
        }
      },
    );

    await t.step(
      "every accepted job ended exactly once, as intended; metrics per worker",
      async () => {
        assert.ok(accepted.size >= 20);
        for (const [id, intent] of accepted) {
          const evs = await events(b.url, id);
          const end = terminal(evs);
          assert.equal(end.length, 1, `${id}: ${end.length} terminal events`);
          assert.equal(end[0]!.event, intent === "complete" ? "completed" : "error", id);
        }
        // nothing unbounded in Redis: finished entries leave the jobs stream, and every other
        // key but the depth counter and the duration stats expires
        const cli = async (...args: string[]) =>
          new TextDecoder().decode(
            (await new Deno.Command("redis-cli", { args: ["-p", String(redisPort), ...args] })
              .output())
              .stdout,
          ).trim();
        assert.equal(await cli("XLEN", "ralu:jobs"), "0");
        const keys = (await cli("--scan")).split("\n").filter(Boolean);
        assert.ok(keys.length > accepted.size, `${keys.length} keys`);
        for (const k of keys) {
          if (["ralu:jobs", "ralu:depth", "ralu:stats"].includes(k)) continue;
          assert.ok(Number(await cli("PTTL", k)) > 0, `${k} has no TTL`);
        }
        const metrics = await (await fetch(`${a.url}/metrics`)).text();
        assert.match(metrics, /ralu_cluster_workers_alive 2/);
        assert.match(
          metrics,
          /ralu_worker_jobs_total\{worker="w-[0-9a-f]+",outcome="completed"\} \d+/,
        );
      },
    );
  } finally {
    for (const p of [a.p, b.p, ...workers.map((w) => w.p)]) p.kill("SIGKILL");
    for (const p of [a.p, b.p, ...workers.map((w) => w.p)]) await p.child.status;
    redis.kill("SIGTERM");
    await redis.child.status;
    await Deno.remove(redisDir, { recursive: true });
  }
});
