// The Redis-backed cluster with real processes: a redis-server (AOF on) on a free loopback
// port with its own data directory, 2 API and 2 worker processes on the default model. Every
// accepted job is counted: it must end exactly once (one completed, or one error for those we
// cancel), through both APIs, across a cancel from the other API, a kill -9 of the worker
// running a job, a full cluster queue, and a Redis restart.
import assert from "node:assert/strict";
import { post, readSse } from "../_helpers.ts";
import { Cluster, type Proc } from "../../bench/cluster_processes.ts";

const REDIS = await new Deno.Command("redis-server", { args: ["--version"] }).output()
  .then((o) => o.success, () => false);
if (!REDIS) {
  console.warn("skipping the cluster tests: no redis-server (apt-get install redis-server)");
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
  const cluster = await Cluster.start([
    "--model",
    "default",
    "--ep",
    "wasm",
    "--kernels",
    "cpu",
    "--visibility-timeout",
    "3",
    "--queue-size",
    "3",
    "--shutdown-grace",
    "1",
  ]);
  const [a, b] = await Promise.all([cluster.api(), cluster.api()]);
  let workers: { p: Proc; id: string }[] = await Promise.all([cluster.worker(), cluster.worker()]);
  const accepted = new Map<string, "complete" | "cancel" | "fail">();
  /**
   * Starts a 60-step job, stops the worker running it with `signal` once it is stepping, and
   * checks that another worker took the job over (requeued) and answered it once.
   */
  const stopMidJob = async (seed: number, signal: Deno.Signal) => {
    const id = await submit(b.url, { steps: 60, seed });
    accepted.set(id, "complete");
    const seen = await eventsUntil(a.url, id, (e) => e.event === "step");
    const worker = workers.find((w) =>
      w.id === seen.find((e) => e.event === "started")!.data.worker
    )!;
    worker.p.kill(signal);
    const code = (await worker.p.child.status).code;
    const evs = await events(a.url, id);
    assert.equal(terminal(evs).length, 1);
    assert.equal(terminal(evs)[0]!.event, "completed");
    const requeued = evs.find((e) => e.event === "requeued");
    assert.ok(requeued, evs.map((e) => e.event).join(","));
    assert.notEqual(requeued!.data.worker, worker.id);
    return { id, evs, worker, code };
  };
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
      // a live follower on API A counts steps as they arrive
      let seen = 0;
      const follow = eventsUntil(a.url, id, (e) => {
        if (e.event === "step") seen++;
        return e.event === "error" || e.event === "completed";
      });
      while (seen < 3) await new Promise((r) => setTimeout(r, 20));
      const atCancel = seen;
      const del = await fetch(`${b.url}/v1/images/jobs/${id}`, { method: "DELETE" });
      assert.equal((await del.json()).cancelled, true);
      const evs = await follow;
      const end = terminal(evs);
      assert.equal(end.length, 1);
      assert.equal((end[0]!.data.error as { code: string }).code, "cancelled");
      const steps = evs.filter((e) => e.event === "step").length;
      // the worker stops within one step of the cancel reaching it ...
      const d = end[0]!.data as { steps_run: number; cancel_at_step: number };
      assert.equal(d.steps_run, steps);
      assert.ok(d.steps_run - d.cancel_at_step <= 1, JSON.stringify(d));
      // ... and the whole path (SSE to the client, DELETE to another API, pub/sub) is short
      console.log(
        `cancel: client saw ${atCancel} steps, the worker got it at step ${d.cancel_at_step}, ran ${d.steps_run}`,
      );
      assert.ok(steps - atCancel <= 8, `${steps - atCancel} steps after the client cancelled`);
    });

    await t.step(
      "kill -9 of the worker running a job: another takes it over, one answer",
      async () => {
        const { id, worker: victim } = await stopMidJob(2, "SIGKILL");
        const status = await (await fetch(`${b.url}/v1/images/jobs/${id}`)).json();
        assert.equal(status.status, "completed");
        assert.equal(status.attempts, 2);
        workers = [workers.find((w) => w !== victim)!, await cluster.worker()];
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
        await cluster.stopRedis();
        const down = await fetch(`${a.url}/v1/images/jobs`, post({ prompt: "x", steps: 3 }));
        assert.equal(down.status, 503);
        assert.equal((await down.json()).error.code, "queue_unavailable");
        await cluster.startRedis();
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
      "SIGTERM of a worker mid-job: it leaves the job to another, not an error",
      async () => {
        // --shutdown-grace 1: the 60-step job cannot finish in time
        const { worker: leaving, code } = await stopMidJob(7, "SIGTERM");
        assert.equal(code, 0);
        workers = [...workers.filter((w) => w !== leaving), await cluster.worker()];
      },
    );

    await t.step(
      "a result over --result-max-bytes is refused, once, and nothing is stored",
      async () => {
        for (const w of workers) w.p.kill("SIGTERM");
        for (const w of workers) await w.p.child.status;
        workers = [await cluster.worker(["--result-max-bytes", "1024"])];
        const id = await submit(a.url, { steps: 2, seed: 8 });
        accepted.set(id, "fail");
        const end = terminal(await events(b.url, id));
        assert.equal(end.length, 1);
        assert.equal((end[0]!.data.error as { code: string }).code, "result_too_large");
        workers.push(await cluster.worker());
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
        const cli = (...args: string[]) => cluster.cli(...args);
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
    await cluster.stop([a.p, b.p, ...workers.map((w) => w.p)]);
  }
});
