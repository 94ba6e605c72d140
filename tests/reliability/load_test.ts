/**
 * Load and queue behaviour on the fixture with GPU kernels (pool counts are real): 16
 * concurrent clients with mixed methods, some streaming; every request ends in an image or
 * a 429 with Retry-After; jobs start in submission order; cancelling queued and running
 * jobs; client disconnects; afterwards the queue, the GPU buffer pool and ORT's device
 * tensors are back to idle.
 */
import assert from "node:assert/strict";
import { fixtureApp, ortTest, post, readSse, slowDown } from "../_helpers.ts";

const { app, state } = await fixtureApp({ "queue-size": 4, kernels: "gpu" });

const METHODS = [
  undefined,
  { method: "ralu", preset: "4x" },
  { method: "ralu", preset: "7x", noise: "fresh" },
  { method: "naive", preset: "4x" },
  { method: "bottleneck", preset: "7x", noise: "anchored" },
];

async function metric(name: string): Promise<number> {
  const text = await (await app.request("/metrics")).text();
  const m = text.match(new RegExp(`^${name} (\\S+)$`, "m"));
  assert.ok(m, name);
  return Number(m[1]);
}

async function idle(): Promise<void> {
  while (state.queue.running || state.queue.depth) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await metric("ralu_queue_depth"), 0);
  assert.equal(await metric("ralu_jobs_running"), 0);
  assert.equal(await metric("ralu_gpu_buffers_live"), 0, "every pooled GPU buffer given back");
  assert.equal(await metric("ralu_ort_device_tensors_live"), 0);
}

const outcomes = { images: 0, rejected: 0 };

Deno.test(
  "16 concurrent clients, mixed methods, some streaming: an image or a 429 for each",
  ortTest,
  async () => {
    const clients = Array.from({ length: 16 }, async (_, c) => {
      for (let r = 0; r < 3; r++) {
        const acceleration = METHODS[(c + r) % METHODS.length];
        const stream = c % 3 === 0;
        const res = await app.request(
          "/v1/images/generations",
          post({ prompt: "a red circle", size: "64x64", seed: c * 10 + r, stream, acceleration }),
        );
        if (res.status === 429) {
          assert.ok(Number(res.headers.get("retry-after")) >= 1);
          assert.equal((await res.json()).error.code, "queue_full");
          outcomes.rejected++;
          continue;
        }
        assert.equal(res.status, 200, `client ${c} request ${r}`);
        if (stream) {
          const events = await readSse(res);
          assert.equal(events.at(-1)!.event, "image_generation.completed");
        } else {
          assert.equal((await res.json()).data.length, 1);
        }
        outcomes.images++;
      }
    });
    await Promise.all(clients);
    assert.equal(outcomes.images + outcomes.rejected, 48);
    assert.ok(outcomes.images >= 5 && outcomes.rejected >= 1, JSON.stringify(outcomes));
    console.log(
      `load: ${outcomes.images} images, ${outcomes.rejected} answered 429 with Retry-After`,
    );
    await idle();
  },
);

Deno.test(
  "jobs start in submission order; cancelling a queued and the running job",
  ortTest,
  async () => {
    const restore = slowDown(await state.registry.get(), 15);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await app.request(
          "/v1/images/jobs",
          post({ prompt: "x", size: "64x64", seed: i, acceleration: METHODS[i + 1] }),
        );
        assert.equal(res.status, 202);
        ids.push((await res.json()).id);
      }
      // the third waits in the queue: cancel it there; the first is running: cancel it too
      const queued = await app.request(`/v1/images/jobs/${ids[2]}`, { method: "DELETE" });
      assert.equal((await queued.json()).cancelled, true);
      await app.request(`/v1/images/jobs/${ids[0]}`, { method: "DELETE" });
      for (const id of ids) await state.queue.get(id)!.finished;
      const jobs = ids.map((id) => state.queue.get(id)!);
      assert.deepEqual(jobs.map((j) => j.status), [
        "cancelled",
        "completed",
        "cancelled",
        "completed",
      ]);
      assert.ok(jobs[1]!.startedAt! <= jobs[3]!.startedAt!, "FIFO");
      const ev = await readSse(await app.request(`/v1/images/jobs/${ids[2]}/events`));
      const err = JSON.parse(ev.at(-1)!.data).error;
      assert.equal(err.type, "cancelled_error");
      assert.equal(err.code, "cancelled");
    } finally {
      restore();
    }
    await idle();
  },
);

Deno.test("a streaming client that disconnects cancels its job", ortTest, async () => {
  const restore = slowDown(await state.registry.get(), 20);
  try {
    const before = state.queue.cancelled;
    const ac = new AbortController();
    const res = await app.request(
      "/v1/images/generations",
      {
        ...post({ prompt: "x", size: "64x64", steps: 200, stream: true, partial_images: 2 }),
        signal: ac.signal,
      },
    );
    const reader = res.body!.getReader();
    await reader.read().catch(() => undefined);
    ac.abort();
    await reader.cancel().catch(() => undefined);
    for (let i = 0; i < 200 && state.queue.cancelled === before; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(state.queue.cancelled, before + 1);
  } finally {
    restore();
  }
  await idle();
});
