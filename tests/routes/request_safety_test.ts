/**
 * Requests that must be refused before anything is queued: other origins, non-JSON POSTs,
 * wrong methods, fields a method does not take, bad stage ends, seeds that overflow.
 */
import assert from "node:assert/strict";
import { aroundVelocity, fixtureApp, ortTest, post } from "../_helpers.ts";

const { app, state } = await fixtureApp();
const body = { prompt: "a red circle", size: "32x32", seed: 1, steps: 1 };

async function refused(res: Response, status: number, param?: string) {
  assert.equal(res.status, status);
  const e = (await res.json()).error;
  assert.equal(typeof e.message, "string");
  if (param !== undefined) assert.equal(e.param, param);
  return e;
}

Deno.test(
  "a page on another origin cannot start or cancel work (403), with or without a key",
  ortTest,
  async () => {
    const evil = { origin: "http://evil.example" };
    for (const path of ["/v1/images/generations", "/v1/images/jobs"]) {
      const e = await refused(await app.request(path, post(body, evil)), 403);
      assert.equal(e.code, "forbidden_origin");
    }
    const del = await app.request("/v1/images/jobs/x", { method: "DELETE", headers: evil });
    await refused(del, 403);
    const keyed = (await fixtureApp({ "api-key": "secret-key-1" })).app;
    const withKey = post(body, { ...evil, authorization: "Bearer secret-key-1" });
    await refused(await keyed.request("/v1/images/generations", withKey), 403);
    // the server's own origin (the playground) and listed origins are allowed
    const own = await app.request(
      "http://localhost/v1/images/generations",
      post(body, { origin: "http://localhost" }),
    );
    assert.equal(own.status, 200);
    const listed = (await fixtureApp({ "cors-origin": ["http://tool.example"] })).app;
    const ok = await listed.request(
      "/v1/images/generations",
      post(body, { origin: "http://tool.example" }),
    );
    assert.equal(ok.status, 200);
    assert.equal(state.queue.depth, 0);
  },
);

Deno.test(
  "a POST that is not JSON is a 415 (a text/plain form post needs no preflight)",
  ortTest,
  async () => {
    for (
      const type of [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
      ]
    ) {
      const res = await app.request("/v1/images/generations", {
        method: "POST",
        headers: { "content-type": type },
        body: JSON.stringify(body),
      });
      await refused(res, 415);
    }
    const json = await app.request("/v1/images/generations", {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8" },
      body: JSON.stringify(body),
    });
    assert.equal(json.status, 200);
  },
);

Deno.test("a known path with the wrong method is a 405 with Allow", ortTest, async () => {
  const get = await app.request("/v1/images/generations");
  assert.equal(get.headers.get("allow"), "POST");
  await refused(get, 405);
  const del = await app.request("/v1/models", { method: "DELETE" });
  assert.equal(del.headers.get("allow"), "GET");
  await refused(del, 405);
  const job = await app.request("/v1/images/jobs/some-id", {
    method: "PUT",
    headers: { "content-type": "application/json" },
  });
  assert.equal(job.headers.get("allow"), "DELETE, GET");
  await refused(await app.request("/v1/nothing"), 404);
});

Deno.test("every entry point refuses a bad acceleration before queueing it", ortTest, async () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ method: "base", preset: "99x" }, "acceleration.preset"],
    [{ method: "ralu", t_up: 0.5 }, "acceleration.t_up"],
    [{ method: "naive", preset: "4x", r: 0.2 }, "acceleration.r"],
    [{ method: "bottleneck", preset: "4x", e: [0.6, 0.1, 1] }, "acceleration.e"],
    [{ method: "ralu", N: [5, 6, 7], e: [0.5, 0.3, 1] }, "acceleration.e"],
    [{ method: "ralu", N: [5, 6, 7] }, "acceleration.N"],
    [{ method: "ralu", preset: "99x" }, "acceleration.preset"],
    [{ method: "naive", preset: "99x" }, "acceleration.preset"],
  ];
  for (const [acceleration, param] of cases) {
    for (const extra of [{}, { stream: true }]) {
      for (const path of ["/v1/images/generations", "/v1/images/jobs"]) {
        const req = { prompt: "x", size: "32x32", ...extra, acceleration };
        await refused(await app.request(path, post(req)), 400, param);
      }
    }
  }
  assert.equal(state.queue.depth, 0);
});

Deno.test(
  "seed + n - 1 stays a valid seed, so every reported seed can be sent back",
  ortTest,
  async () => {
    const max = 2 ** 32 - 1;
    await refused(
      await app.request("/v1/images/generations", post({ ...body, seed: max, n: 4 })),
      400,
      "seed",
    );
    const res = await app.request("/v1/images/generations", post({ ...body, seed: max - 1, n: 2 }));
    assert.equal(res.status, 200);
    const seeds = (await res.json()).ralu.seeds as number[];
    assert.deepEqual(seeds, [max - 1, max]);
    const again = await app.request("/v1/images/generations", post({ ...body, seed: seeds[1] }));
    assert.equal(again.status, 200);
  },
);

Deno.test(
  "a body cut short is a 400 (never a 500), a body that never arrives a 408",
  ortTest,
  async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('{"prompt": "a re'));
        c.error(new Error("connection reset"));
      },
    });
    const cut = await app.request("/v1/images/generations", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
    });
    const e = await refused(cut, 400);
    assert.equal(e.code, "truncated_body");
    const slow = (await fixtureApp({ "body-timeout": 0.2 })).app;
    const never = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('{"prompt":'));
      },
    });
    const t0 = performance.now();
    const late = await slow.request("/v1/images/jobs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: never,
    });
    assert.equal((await refused(late, 408)).code, "request_timeout");
    assert.ok(performance.now() - t0 < 5000);
    assert.equal(state.counters.requests.get("500") ?? 0, 0);
  },
);

Deno.test(
  "an injected DiT failure fails only its job (500 error event); the next job succeeds",
  ortTest,
  async () => {
    const model = await state.registry.get();
    let calls = 0;
    const restore = aroundVelocity(model, (call) => {
      if (calls++ === 1) return Promise.reject(new Error("injected ORT run failure"));
      return call();
    });
    try {
      const failed = await app.request("/v1/images/generations", post({ ...body, steps: 3 }));
      const e = await refused(failed, 500);
      assert.equal(e.type, "server_error");
      assert.doesNotMatch(e.message, /injected/, "no internals in the answer");
      const next = await app.request("/v1/images/generations", post({ ...body, steps: 3 }));
      assert.equal(next.status, 200);
    } finally {
      restore();
    }
  },
);
