import assert from "node:assert/strict";
import { decode } from "fast-png";
import { decodeBase64 } from "../../src/http/base64.ts";
import { aroundVelocity, fixtureApp, ortTest, post, readSse } from "../_helpers.ts";

const { app, state } = await fixtureApp();

Deno.test("POST /v1/images/generations returns a PNG of the requested size", ortTest, async () => {
  const res = await app.request(
    "/v1/images/generations",
    post({ prompt: "a red circle", size: "32x32", seed: 1, steps: 4 }),
  );
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.data.length, 1);
  const png = decode(decodeBase64(body.data[0].b64_json));
  assert.equal(png.width, 32);
  assert.equal(png.height, 32);
  assert.equal(body.ralu.cost.evaluations, 4);
});

Deno.test(
  "same seed and parameters give the same PNG bytes; another seed does not",
  ortTest,
  async () => {
    const req = { prompt: "a blue square on the left", size: "32x32", seed: 7, steps: 3 };
    const a = await (await app.request("/v1/images/generations", post(req))).json();
    const b = await (await app.request("/v1/images/generations", post(req))).json();
    const c = await (await app.request("/v1/images/generations", post({ ...req, seed: 8 }))).json();
    assert.equal(a.data[0].b64_json, b.data[0].b64_json);
    assert.notEqual(a.data[0].b64_json, c.data[0].b64_json);
  },
);

Deno.test(
  "n = 2 gives two images with consecutive seeds; url format gives data URLs; jpeg works",
  ortTest,
  async () => {
    const res = await app.request(
      "/v1/images/generations",
      post({
        prompt: "x",
        size: "32x32",
        n: 2,
        seed: 3,
        steps: 2,
        response_format: "url",
        output_format: "jpeg",
      }),
    );
    const body = await res.json();
    assert.equal(body.data.length, 2);
    assert.deepEqual(body.ralu.seeds, [3, 4]);
    assert.match(body.data[0].url, /^data:image\/jpeg;base64,\/9j\//);
  },
);

Deno.test("stream: true sends partial images then the completed image", ortTest, async () => {
  const res = await app.request(
    "/v1/images/generations",
    post({
      prompt: "a green triangle",
      size: "32x32",
      steps: 8,
      stream: true,
      partial_images: 2,
      seed: 2,
    }),
  );
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const events = await readSse(res);
  const partial = events.filter((e) => e.event === "image_generation.partial_image");
  const done = events.filter((e) => e.event === "image_generation.completed");
  assert.equal(partial.length, 2);
  assert.deepEqual(partial.map((e) => JSON.parse(e.data).partial_image_index), [0, 1]);
  for (const e of partial) {
    // a partial image is what its size field says: the final image's size
    const p = JSON.parse(e.data);
    const img = decode(decodeBase64(p.b64_json));
    assert.equal(p.size, "32x32");
    assert.deepEqual([img.width, img.height], [32, 32]);
  }
  assert.equal(done.length, 1);
  const d = JSON.parse(done[0]!.data);
  assert.equal(d.type, "image_generation.completed");
  assert.equal(decode(decodeBase64(d.b64_json)).width, 32);
});

Deno.test(
  "validation errors are 400 in the OpenAI shape with zod's path in param",
  ortTest,
  async () => {
    const cases: [unknown, string | null][] = [
      [{}, "prompt"],
      [{ prompt: "x", n: 9 }, "n"],
      [{ prompt: "x", size: "big" }, "size"],
      [{ prompt: "x", size: "48x48" }, "size"],
      [{ prompt: "x", acceleration: { method: "warp" } }, "acceleration.method"],
      [{ prompt: "x", acceleration: { method: "base", r: 2 } }, "acceleration.r"],
      [{ prompt: "x", output_format: "webp" }, "output_format"],
      [{ prompt: "x".repeat(1001) }, "prompt"],
      [{ prompt: "x", bogus: 1 }, null],
    ];
    for (const [body, param] of cases) {
      const res = await app.request("/v1/images/generations", post(body));
      assert.equal(res.status, 400, JSON.stringify(body));
      const err = (await res.json()).error;
      assert.equal(err.type, "invalid_request_error");
      assert.equal(typeof err.message, "string");
      if (param) assert.equal(err.param, param, JSON.stringify(body));
    }
    const bad = await app.request("/v1/images/generations", {
      method: "POST",
      body: "{not json",
      headers: { "content-type": "application/json" },
    });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.code, "invalid_json");
  },
);

Deno.test(
  "an unknown model is 404 and a path-like model name cannot escape models/",
  ortTest,
  async () => {
    for (const model of ["nope", "../tools", "/etc", "..%2F.."]) {
      const res = await app.request("/v1/images/generations", post({ prompt: "x", model }));
      assert.equal(res.status, 404, model);
      assert.equal((await res.json()).error.param, "model");
    }
  },
);

Deno.test("a body over the limit is 413 and the server keeps serving", ortTest, async () => {
  const res = await app.request(
    "/v1/images/generations",
    post({ prompt: "x", user: "y".repeat(70_000) }),
  );
  assert.equal(res.status, 413);
  assert.equal((await res.json()).error.code, "request_too_large");
  const ok = await app.request("/health");
  assert.equal(ok.status, 200);
});

Deno.test("metrics count generated images", ortTest, async () => {
  const before = state.counters.imagesGenerated;
  await (await app.request(
    "/v1/images/generations",
    post({ prompt: "x", size: "32x32", steps: 1 }),
  )).json();
  assert.equal(state.counters.imagesGenerated, before + 1);
  const text = await (await app.request("/metrics")).text();
  assert.match(text, new RegExp(`ralu_images_generated_total ${before + 1}`));
  assert.match(text, /# TYPE ralu_queue_depth gauge/);
});

Deno.test(
  "acceleration: ralu 4x through the API reports its cost next to base's",
  ortTest,
  async () => {
    const res = await app.request(
      "/v1/images/generations",
      post({
        prompt: "a red circle",
        size: "128x128",
        seed: 1,
        acceleration: { method: "ralu", preset: "4x" },
      }),
    );
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(decode(decodeBase64(body.data[0].b64_json)).width, 128);
    const cost = body.ralu.cost;
    assert.equal(cost.base.token_steps, 50 * 256);
    assert.ok(cost.speedup_token_steps >= 4);
    assert.ok(cost.speedup_flops > 1);
    const bad = await app.request(
      "/v1/images/generations",
      post({ prompt: "x", acceleration: { method: "ralu", preset: "9x" } }),
    );
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.param, "acceleration.preset");
  },
);

Deno.test(
  "an unexpected failure inside a job is a 500 in the error shape, without internals",
  ortTest,
  async () => {
    const { app: broken, state: s } = await fixtureApp();
    const model = await s.registry.get();
    const restore = aroundVelocity(
      model,
      () => Promise.reject(new Error("secret internal detail")),
    );
    const res = await broken.request(
      "/v1/images/generations",
      post({ prompt: "x", size: "32x32", steps: 2 }),
    );
    restore();
    assert.equal(res.status, 500);
    const err = (await res.json()).error;
    assert.equal(err.type, "server_error");
    assert.doesNotMatch(err.message, /secret/);
    assert.equal(
      (await broken.request(
        "/v1/images/generations",
        post({ prompt: "x", size: "32x32", steps: 1 }),
      )).status,
      200,
    );
  },
);
