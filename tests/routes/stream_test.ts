import assert from "node:assert/strict";
import { fixtureApp, ortTest, post, readSse, slowDown } from "../_helpers.ts";

const { app, state } = await fixtureApp({ "queue-size": 2 });

Deno.test(
  "a job streams queued, stage, step (with sigma), preview and completed events",
  ortTest,
  async () => {
    const res = await app.request(
      "/v1/images/jobs",
      post({ prompt: "a red circle", size: "32x32", steps: 6, preview_every: 2, seed: 5 }),
    );
    assert.equal(res.status, 202);
    const job = await res.json();
    assert.match(job.id, /^[0-9a-f-]{36}$/);
    const events = await readSse(await app.request(job.events_url));
    const names = events.map((e) => e.event);
    assert.equal(names[0], "queued");
    assert.ok(names.includes("started"));
    assert.ok(names.includes("stage"));
    const steps = events.filter((e) => e.event === "step").map((e) => JSON.parse(e.data));
    const previews = events.filter((e) => e.event === "preview");
    assert.equal(steps.length, 6, "every step reports");
    // steps 2 and 4: the last step's preview would only repeat the final image
    assert.deepEqual(previews.map((e) => JSON.parse(e.data).step), [2, 4]);
    assert.equal(names.at(-1), "completed");
    const done = JSON.parse(events.at(-1)!.data);
    assert.equal(done.images.length, 1);
    assert.equal(done.cost.evaluations, 6);
    assert.equal(
      (await (await app.request(`/v1/images/jobs/${job.id}`)).json()).status,
      "completed",
    );
    for (let i = 1; i < steps.length; i++) assert.ok(steps[i].sigma < steps[i - 1].sigma);
  },
);

Deno.test(
  "DELETE cancels a running job within a step and the queue moves on",
  ortTest,
  async () => {
    const restore = slowDown(await state.registry.get(), 5);
    const res = await app.request(
      "/v1/images/jobs",
      post({ prompt: "x", size: "128x128", steps: 200, n: 4, seed: 1 }),
    );
    const job = await res.json();
    const events = Promise.resolve(app.request(job.events_url)).then(readSse);
    // wait for the job to be running
    while (state.queue.get(job.id)!.status !== "running") {
      await new Promise((r) => setTimeout(r, 5));
    }
    const t0 = performance.now();
    const del = await app.request(`/v1/images/jobs/${job.id}`, { method: "DELETE" });
    assert.equal(del.status, 200);
    const first = await del.json();
    assert.deepEqual([first.cancelled, first.status, first.already_cancelled], [
      true,
      "cancelling",
      undefined,
    ]);
    const again = await (await app.request(`/v1/images/jobs/${job.id}`, { method: "DELETE" }))
      .json();
    assert.equal(again.cancelled, true);
    assert.equal(again.already_cancelled, true);
    await state.queue.get(job.id)!.finished;
    const after = await (await app.request(`/v1/images/jobs/${job.id}`, { method: "DELETE" }))
      .json();
    assert.deepEqual([after.status, after.cancelled, after.already_cancelled], [
      "cancelled",
      true,
      true,
    ]);
    assert.ok(performance.now() - t0 < 5000);
    const ev = await events;
    assert.equal(ev.at(-1)!.event, "error");
    assert.equal(JSON.parse(ev.at(-1)!.data).error.code, "cancelled");
    assert.equal(state.queue.get(job.id)!.status, "cancelled");
    const steps = ev.filter((e) => e.event === "step").length;
    assert.ok(steps < 800);
    restore();
    // the server still serves
    const ok = await app.request(
      "/v1/images/generations",
      post({ prompt: "x", size: "32x32", steps: 1 }),
    );
    assert.equal(ok.status, 200);
  },
);

Deno.test(
  "a full queue answers 429 with Retry-After and loses no accepted job",
  ortTest,
  async () => {
    const body = { prompt: "x", size: "32x32", steps: 10 };
    const restore = slowDown(await state.registry.get(), 10);
    const accepted = [];
    let rejected: Response | undefined;
    for (let i = 0; i < 6 && !rejected; i++) {
      const r = await app.request("/v1/images/jobs", post(body));
      if (r.status === 202) accepted.push((await r.json()).id);
      else rejected = r;
    }
    assert.ok(rejected, "the queue of 2 must fill");
    assert.equal(rejected.status, 429);
    assert.ok(Number(rejected.headers.get("retry-after")) >= 1);
    assert.equal((await rejected.json()).error.type, "rate_limit_error");
    for (const id of accepted) await state.queue.get(id)!.finished;
    for (const id of accepted) assert.equal(state.queue.get(id)!.status, "completed");
    restore();
  },
);

Deno.test("unknown jobs are 404", ortTest, async () => {
  for (
    const [path, method] of [["/v1/images/jobs/nope", "GET"], [
      "/v1/images/jobs/nope/events",
      "GET",
    ], ["/v1/images/jobs/nope", "DELETE"]]
  ) {
    const r = await app.request(path!, { method: method! });
    assert.equal(r.status, 404);
    assert.equal((await r.json()).error.type, "not_found_error");
  }
});

Deno.test(
  "a job over the per-job timeout fails with code timeout and the server keeps serving",
  ortTest,
  async () => {
    const { app: slow, state: s2 } = await fixtureApp({ "job-timeout": 1 });
    const restore = slowDown(await s2.registry.get(), 20);
    const res = await slow.request(
      "/v1/images/jobs",
      post({ prompt: "x", size: "32x32", steps: 200 }),
    );
    const job = await res.json();
    await s2.queue.get(job.id)!.finished;
    restore();
    const after = await (await slow.request(`/v1/images/jobs/${job.id}`)).json();
    assert.equal(after.status, "failed");
    assert.equal(after.error.code, "timeout");
    assert.equal(
      (await slow.request("/v1/images/generations", post({ prompt: "x", size: "32x32", steps: 1 })))
        .status,
      200,
    );
  },
);

const METHODS = [
  { method: "base" },
  { method: "ralu", preset: "4x" },
  { method: "ralu", preset: "7x" },
  { method: "naive", preset: "4x" },
  { method: "bottleneck", preset: "7x" },
] as const;

Deno.test(
  "with default settings every method's job streams previews (the server's --preview-every, over the run's steps)",
  ortTest,
  async () => {
    const every = state.flags["preview-every"];
    assert.equal(every, 5);
    for (const acceleration of METHODS) {
      const res = await app.request(
        "/v1/images/jobs",
        post({ prompt: "a red circle", size: "64x64", seed: 3, acceleration }),
      );
      assert.equal(res.status, 202, JSON.stringify(acceleration));
      const events = await readSse(await app.request((await res.json()).events_url));
      const steps = events.filter((e) => e.event === "step").length;
      const previews = events.filter((e) => e.event === "preview").map((e) => JSON.parse(e.data));
      const want: number = Math.ceil(steps / every) - 1; // multiples of 5 before the last step
      assert.ok(want >= 1, `${acceleration.method}: ${steps} steps`);
      assert.equal(previews.length, want, `${JSON.stringify(acceleration)}: ${steps} steps`);
    }
  },
);

Deno.test(
  "stream: true gives exactly partial_images partials for every method with default settings",
  ortTest,
  async () => {
    for (const acceleration of METHODS) {
      for (const k of [1, 2, 3]) {
        const res = await app.request(
          "/v1/images/generations",
          post({
            prompt: "a blue square",
            size: "64x64",
            seed: 4,
            stream: true,
            partial_images: k,
            acceleration,
          }),
        );
        const events = await readSse(res);
        const partial = events.filter((e) => e.event === "image_generation.partial_image");
        const done = events.filter((e) => e.event === "image_generation.completed");
        const what = `${JSON.stringify(acceleration)} k=${k}`;
        assert.equal(partial.length, k, what);
        assert.equal(done.length, 1, what);
      }
    }
  },
);

Deno.test(
  "steps with an accelerated method is a 400 naming steps; nothing is queued",
  ortTest,
  async () => {
    const before = state.queue.depth;
    const res = await app.request(
      "/v1/images/jobs",
      post({
        prompt: "x",
        size: "64x64",
        steps: 4,
        acceleration: { method: "ralu", preset: "7x" },
      }),
    );
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.equal(body.error.param, "steps");
    assert.equal(state.queue.depth, before);
    const bad = await app.request(
      "/v1/images/jobs",
      post({ prompt: "x", size: "64x64", acceleration: { method: "naive", preset: "9x" } }),
    );
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.param, "acceleration.preset");
  },
);
