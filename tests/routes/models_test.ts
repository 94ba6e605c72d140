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
