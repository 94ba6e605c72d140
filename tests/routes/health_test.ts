import assert from "node:assert/strict";
import { fixtureApp, ortTest, post } from "../_helpers.ts";

Deno.test("GET /health reports EP, model and queue depth", ortTest, async () => {
  const { app } = await fixtureApp();
  const body = await (await app.request("/health")).json();
  assert.equal(body.status, "ok");
  assert.equal(body.ep, "wasm");
  assert.equal(body.model, "fixture");
  assert.equal(body.queue_depth, 0);
});

Deno.test(
  "with an API key every route but /health and the page at / needs the bearer token (401)",
  ortTest,
  async () => {
    const { app } = await fixtureApp({ "api-key": "secret-key-1" });
    assert.equal((await app.request("/health")).status, 200);
    assert.equal((await app.request("/")).status, 200);
    for (const path of ["/v1/models", "/metrics", "/v1/images/jobs/x"]) {
      const r = await app.request(path);
      assert.equal(r.status, 401, path);
      assert.equal((await r.json()).error.type, "authentication_error");
    }
    const wrong = await app.request(
      "/v1/images/generations",
      post({ prompt: "x" }, { authorization: "Bearer nope" }),
    );
    assert.equal(wrong.status, 401);
    const ok = await app.request("/v1/models", {
      headers: { authorization: "Bearer secret-key-1" },
    });
    assert.equal(ok.status, 200);
  },
);

Deno.test("CORS is off by default and on for listed origins", ortTest, async () => {
  const { app } = await fixtureApp();
  const r = await app.request("/v1/models", { headers: { origin: "http://evil.test" } });
  assert.equal(r.headers.get("access-control-allow-origin"), null);
  const { app: withCors } = await fixtureApp({ "cors-origin": ["http://ok.test"] });
  const r2 = await withCors.request("/v1/models", { headers: { origin: "http://ok.test" } });
  assert.equal(r2.headers.get("access-control-allow-origin"), "http://ok.test");
});

Deno.test("unknown routes are 404 in the error shape; GET / serves the page", ortTest, async () => {
  const { app } = await fixtureApp();
  const r = await app.request("/v2/nothing");
  assert.equal(r.status, 404);
  assert.equal((await r.json()).error.code, "not_found");
  const page = await app.request("/");
  const html = await page.text();
  assert.match(html, /<option>anchored<\/option>/, "the page offers anchored noise");
  assert.doesNotMatch(html, /(src|href)="https?:/, "nothing from other hosts");
});
