import assert from "node:assert/strict";
import { resolveRalu } from "../../src/samplers/ralu_params.ts";
import { parseManifest } from "../../src/config/manifest.ts";
import { HttpError } from "../../src/http/errors.ts";

const manifest = parseManifest({
  ...JSON.parse(await Deno.readTextFile("models/fixture/manifest.json")),
  presets: {
    "4x": { N: [5, 6, 7], e: [0.3, 0.45, 1.0], r: 0.3 },
    "7x": { N: [2, 3, 5], e: [0.2, 0.3, 1.0], r: 0.1, noise: "anchored" },
  },
});

Deno.test("presets resolve with solved h and Z; the noise mode comes from request, preset, or fresh", () => {
  const p4 = resolveRalu({ method: "ralu", preset: "4x" }, manifest);
  assert.deepEqual([p4.N, p4.e, p4.r, p4.noise], [[5, 6, 7], [0.3, 0.45, 1.0], 0.3, "fresh"]);
  assert.equal(p4.h.length, 3);
  assert.ok(p4.Z >= 2);
  assert.equal(resolveRalu({ method: "ralu", preset: "7x" }, manifest).noise, "anchored");
  const asked = resolveRalu({ method: "ralu", preset: "7x", noise: "fresh" }, manifest);
  assert.equal(asked.noise, "fresh");
  assert.equal(
    resolveRalu({ method: "ralu", preset: "4x", noise: "anchored" }, manifest).noise,
    "anchored",
  );
});

Deno.test("an unknown preset or a custom run without N and e is a 400 naming the field", () => {
  assert.throws(
    () => resolveRalu({ method: "ralu", preset: "9x" }, manifest),
    (e: unknown) =>
      e instanceof HttpError && e.status === 400 && e.param === "acceleration.preset" &&
      /4x, 7x/.test(e.message),
  );
  assert.throws(
    () => resolveRalu({ method: "ralu", N: [1, 2, 3] }, manifest),
    (e: unknown) => e instanceof HttpError && e.status === 400 && e.param === "acceleration.N",
  );
});
