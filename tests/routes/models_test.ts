import assert from "node:assert/strict";
import { fixtureApp, ortTest } from "../_helpers.ts";

const { app } = await fixtureApp();

Deno.test(
  "GET /v1/models lists installed models, the served one marked default",
  ortTest,
  async () => {
    const body = await (await app.request("/v1/models")).json();
    assert.equal(body.object, "list");
    const fixture = body.data.find((m: { id: string }) => m.id === "fixture");
    assert.ok(fixture);
    assert.equal(fixture.default, true);
    assert.deepEqual(fixture.presets, ["4x", "7x"]);
    const one = await app.request("/v1/models/fixture");
    assert.equal((await one.json()).id, "fixture");
    assert.equal((await app.request("/v1/models/missing")).status, 404);
  },
);

Deno.test("an unknown model is a 404 that names the installed ones", ortTest, async () => {
  for (
    const res of [
      await app.request("/v1/models/dall-e-3"),
      await app.request("/v1/images/generations", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt: "x", model: "dall-e-3" }),
      }),
    ]
  ) {
    assert.equal(res.status, 404);
    const e = (await res.json()).error;
    assert.equal(e.code, "model_not_found");
    assert.equal(e.param, "model");
    assert.match(e.message, /"dall-e-3" does not exist; installed: .*default.*fixture.*flux-tiny/);
  }
});
