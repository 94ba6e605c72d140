/**
 * Malformed requests, table-driven and property-based (fast-check): never a 5xx, always
 * the OpenAI error shape, nothing half-accepted, and the server keeps serving. Accepted
 * jobs (a generated request can be valid) are cancelled at once.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { fixtureApp, ortTest, post } from "../_helpers.ts";

const { app, state } = await fixtureApp({ "queue-size": 64 });
const tried = { table: 0, property: 0 };
const statuses = new Map<number, number>();

async function check(res: Response, what: string): Promise<number> {
  assert.ok(res.status < 500, `${what}: ${res.status}`);
  statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
  if (res.status === 202) {
    const job = await res.json();
    await app.request(`/v1/images/jobs/${job.id}`, { method: "DELETE" });
  } else if (res.status >= 400) {
    const body = await res.json();
    assert.equal(typeof body.error?.message, "string", what);
    assert.equal(typeof body.error?.type, "string", what);
    assert.ok("param" in body.error && "code" in body.error, what);
  } else {
    await res.body?.cancel();
  }
  return res.status;
}

const TABLE: [string, unknown][] = [
  ["empty object", {}],
  ["null", null],
  ["array", [1, 2]],
  ["number", 5],
  ["prompt number", { prompt: 5 }],
  ["prompt empty", { prompt: "" }],
  ["prompt huge", { prompt: "x".repeat(5000) }],
  ["unknown field", { prompt: "x", colour: "red" }],
  ["n zero", { prompt: "x", n: 0 }],
  ["n five", { prompt: "x", n: 5 }],
  ["n float", { prompt: "x", n: 1.5 }],
  ["size bad", { prompt: "x", size: "big" }],
  ["size unsupported", { prompt: "x", size: "100x100" }],
  ["size huge", { prompt: "x", size: "9999x9999" }],
  ["seed negative", { prompt: "x", seed: -1 }],
  ["seed too big", { prompt: "x", seed: 2 ** 32 }],
  ["seed string", { prompt: "x", seed: "1" }],
  ["seed overflow with n", { prompt: "x", seed: 2 ** 32 - 2, n: 4 }],
  ["steps zero", { prompt: "x", steps: 0 }],
  ["steps 201", { prompt: "x", steps: 201 }],
  ["guidance negative", { prompt: "x", guidance: -1 }],
  ["guidance 21", { prompt: "x", guidance: 21 }],
  ["negative prompt without guidance", { prompt: "x", negative_prompt: "y" }],
  ["response_format bad", { prompt: "x", response_format: "file" }],
  ["output_format webp", { prompt: "x", output_format: "webp" }],
  ["partial_images 4", { prompt: "x", partial_images: 4 }],
  ["preview_every 0", { prompt: "x", preview_every: 0 }],
  ["model unknown", { prompt: "x", model: "nope" }],
  ["model path", { prompt: "x", model: "../../etc" }],
  ["acceleration string", { prompt: "x", acceleration: "ralu" }],
  ["method unknown", { prompt: "x", acceleration: { method: "fast" } }],
  ["base with preset", { prompt: "x", acceleration: { method: "base", preset: "4x" } }],
  ["ralu preset unknown", { prompt: "x", acceleration: { method: "ralu", preset: "99x" } }],
  ["ralu preset bad chars", { prompt: "x", acceleration: { method: "ralu", preset: "4x;rm" } }],
  ["ralu N only", { prompt: "x", acceleration: { method: "ralu", N: [5, 6, 7] } }],
  ["ralu N two", { prompt: "x", acceleration: { method: "ralu", N: [5, 6], e: [0.3, 0.45, 1] } }],
  ["ralu N zero", {
    prompt: "x",
    acceleration: { method: "ralu", N: [0, 6, 7], e: [0.3, 0.45, 1] },
  }],
  ["ralu e decreasing", {
    prompt: "x",
    acceleration: { method: "ralu", N: [5, 6, 7], e: [0.5, 0.3, 1] },
  }],
  ["ralu e3 not 1", {
    prompt: "x",
    acceleration: { method: "ralu", N: [5, 6, 7], e: [0.3, 0.45, 0.9] },
  }],
  ["ralu r 2", { prompt: "x", acceleration: { method: "ralu", preset: "4x", r: 2 } }],
  ["ralu h out", { prompt: "x", acceleration: { method: "ralu", preset: "4x", h: [0.1, 3, 3] } }],
  ["ralu Z 1", { prompt: "x", acceleration: { method: "ralu", preset: "4x", Z: 1 } }],
  ["ralu gray bad", { prompt: "x", acceleration: { method: "ralu", preset: "4x", gray: "red" } }],
  ["ralu noise bad", {
    prompt: "x",
    acceleration: { method: "ralu", preset: "4x", noise: "loud" },
  }],
  ["ralu t_up", { prompt: "x", acceleration: { method: "ralu", preset: "4x", t_up: 0.3 } }],
  ["ralu steps", { prompt: "x", steps: 4, acceleration: { method: "ralu", preset: "4x" } }],
  ["ralu token_steps 0", {
    prompt: "x",
    acceleration: { method: "ralu", preset: "4x", token_steps: 0 },
  }],
  ["naive t_up 1", { prompt: "x", acceleration: { method: "naive", preset: "4x", t_up: 1 } }],
  ["naive r", { prompt: "x", acceleration: { method: "naive", preset: "4x", r: 0.3 } }],
  ["naive preset unknown", { prompt: "x", acceleration: { method: "naive", preset: "3x" } }],
  ["bottleneck e bad", {
    prompt: "x",
    acceleration: { method: "bottleneck", preset: "4x", e: [0.6, 0.1, 1] },
  }],
  ["bottleneck preset unknown", {
    prompt: "x",
    acceleration: { method: "bottleneck", preset: "3x" },
  }],
  ["bottleneck noise_mode", {
    prompt: "x",
    acceleration: { method: "bottleneck", noise_mode: "x" },
  }],
];

Deno.test(
  "table: malformed image requests get a 4xx in the error shape on every entry point",
  ortTest,
  async () => {
    for (const [what, body] of TABLE) {
      for (const path of ["/v1/images/generations", "/v1/images/jobs"]) {
        for (const extra of path.endsWith("generations") ? [{}, { stream: true }] : [{}]) {
          const b = body && typeof body === "object" && !Array.isArray(body)
            ? { ...body, ...extra }
            : body;
          const status = await check(await app.request(path, post(b)), `${what} ${path}`);
          assert.ok(status >= 400, `${what} ${path} ${JSON.stringify(extra)}: ${status}`);
          tried.table++;
        }
      }
    }
    // bodies that are not JSON at all
    for (
      const raw of ["", "{", "not json", '{"prompt": "x",}', "\u0000\u0001", "[".repeat(10000)]
    ) {
      const res = await app.request("/v1/images/jobs", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: raw,
      });
      assert.equal(await check(res, JSON.stringify(raw.slice(0, 20))), 400);
      tried.table++;
    }
    assert.equal(state.queue.depth, 0);
    assert.equal((await app.request("/health")).status, 200);
  },
);

/** Request-shaped values: valid fields next to values of the wrong type, range or shape. */
const wild = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer({ min: -5, max: 300 }), { maxLength: 4 }),
  fc.array(fc.double({ min: -1, max: 2, noNaN: true }), { maxLength: 4 }),
);
const accelerationArb = fc.record({
  method: fc.oneof(fc.constantFrom("base", "ralu", "naive", "bottleneck", "x"), wild),
  preset: fc.oneof(fc.constantFrom("4x", "7x", "99x"), wild),
  N: wild,
  e: wild,
  r: wild,
  t_up: wild,
  noise: fc.oneof(fc.constantFrom("fresh", "anchored"), wild),
  token_steps: wild,
}, { requiredKeys: [] });
const requestArb = fc.record({
  prompt: fc.oneof(fc.string({ maxLength: 30 }), wild),
  size: fc.oneof(fc.constantFrom("32x32", "64x64", "7x7"), wild),
  n: fc.oneof(fc.integer({ min: -1, max: 6 }), wild),
  seed: fc.oneof(fc.integer({ min: -2, max: 2 ** 32 + 2 }), wild),
  steps: fc.oneof(fc.integer({ min: -1, max: 300 }), wild),
  guidance: wild,
  stream: wild,
  partial_images: wild,
  model: fc.oneof(fc.constantFrom("fixture", "default", "../x"), wild),
  acceleration: fc.oneof(accelerationArb, wild),
  extra_field: wild,
}, { requiredKeys: [] });

Deno.test(
  "property: 200 generated requests never get a 5xx and always the error shape",
  ortTest,
  async () => {
    await fc.assert(
      fc.asyncProperty(requestArb, async (body) => {
        await check(await app.request("/v1/images/jobs", post(body)), JSON.stringify(body));
        tried.property++;
      }),
      { numRuns: 200, seed: 2026 },
    );
    while (state.queue.running || state.queue.depth) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await app.request("/health")).status, 200);
    assert.ok(tried.table + tried.property >= 150, `${tried.table} + ${tried.property}`);
    console.log(
      `malformed: ${tried.table} table + ${tried.property} generated; statuses ${
        JSON.stringify(Object.fromEntries([...statuses].sort()))
      }`,
    );
  },
);
