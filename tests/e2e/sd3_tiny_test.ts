// The committed SD3 miniature (models/sd3-tiny, the diffusers ONNX layout written by
// tools/export/export_sd3.py --tiny) end to end: OpenAI route and jobs API, base and RALU's SD3
// presets, classifier-free guidance with a negative prompt, on the wasm EP and on the WebGPU EP
// (llvmpipe here), plus the request rules SD3 brings.
import assert from "node:assert/strict";
import { decode } from "fast-png";
import { fixtureApp, ortTest, post, readSse } from "../_helpers.ts";
import { decodeBase64 } from "../../src/http/base64.ts";

const PROMPT = "a red circle on a blue square";

const pixels = (b64: string) => decode(decodeBase64(b64));

for (const ep of ["wasm", "webgpu"] as const) {
  Deno.test({
    name: `sd3-tiny through the server on ${ep}: base and ralu 3x, both routes`,
    ...ortTest,
  }, async () => {
    const { app, state } = await fixtureApp({
      model: "sd3-tiny",
      ep,
      kernels: ep === "webgpu" ? "gpu" : "cpu",
    });
    try {
      const health = await (await app.request("/health")).json();
      const tiny = health.models.find((m: { id: string }) => m.id === "sd3-tiny");
      assert.equal(tiny.family, "sd3");
      assert.deepEqual(
        tiny.components.map((c: { component: string }) => c.component).sort(),
        ["text_encoder", "text_encoder_2", "text_encoder_3", "transformer", "vae_decoder"],
      );

      // OpenAI route, base: guidance 7 runs two branches a step
      const base = await app.request(
        "/v1/images/generations",
        post({ prompt: PROMPT, steps: 3, seed: 5 }),
      );
      assert.equal(base.status, 200, await base.clone().text());
      const b = await base.json();
      const img = pixels(b.data[0].b64_json);
      assert.deepEqual([img.width, img.height], [512, 512]);
      assert.deepEqual(b.ralu.cost.image_tokens_per_step, [1024, 1024, 1024]);
      assert.equal(b.ralu.cost.evaluations, 6);

      // jobs API, ralu 3x (3 + 3 + 6 steps at 256, mixed and 1024 tokens), events over SSE
      const sub = await app.request(
        "/v1/images/jobs",
        post({ prompt: PROMPT, seed: 5, acceleration: { method: "ralu", preset: "3x" } }),
      );
      assert.equal(sub.status, 202);
      const { id } = await sub.json();
      const events = await readSse(await app.request(`/v1/images/jobs/${id}/events`));
      assert.deepEqual(
        events.filter((e) => e.event === "stage").map((e) => JSON.parse(e.data).stage),
        [1, 2, 3],
      );
      const done = JSON.parse(events.find((e) => e.event === "completed")!.data);
      const tokens = done.cost.image_tokens_per_step as number[];
      // r 0.2: 51 of 256 low tokens go to full resolution at stage 2
      assert.deepEqual(tokens, [256, 256, 256, 409, 409, 409, ...new Array(6).fill(1024)]);
      assert.equal(done.cost.evaluations, 24);
      const r = pixels(done.images[0].b64_json);
      assert.deepEqual([r.width, r.height], [512, 512]);
      assert.notDeepEqual(r.data, img.data);
    } finally {
      await state.registry.releaseAll();
    }
  });
}

Deno.test({
  name:
    "sd3-tiny request rules: the table's reach, negative prompts, guidance 1, 2x, a degenerate Z",
  ...ortTest,
}, async () => {
  const { app, state } = await fixtureApp({ model: "sd3-tiny", ep: "wasm", kernels: "cpu" });
  try {
    const listed = await (await app.request("/v1/models/sd3-tiny")).json();
    assert.equal(listed.family, "sd3");
    assert.equal(listed.guidance_embed, false);
    assert.deepEqual(listed.size_range, { min: 256, max: 1536, multiple: 16 });
    assert.deepEqual(listed.presets.sort(), ["2x", "3x"]);
    const gen = (body: object) =>
      app.request("/v1/images/generations", post({ prompt: PROMPT, size: "256x256", ...body }));
    // the position table is 96 patches wide: 1536 px
    const far = await gen({ size: "1552x256", steps: 1 });
    assert.equal(far.status, 400);
    const farErr = (await far.json()).error;
    assert.equal(farErr.param, "size");
    assert.match(farErr.message, /between 256 and 1536/);
    // the negative prompt is guidance's second branch
    const g = (neg?: string) => gen({ steps: 2, seed: 3, guidance: 5, negative_prompt: neg });
    const plain = await (await g()).json(), blurry = await (await g("blurry")).json();
    assert.notEqual(plain.data[0].b64_json, blurry.data[0].b64_json);
    assert.equal(blurry.ralu.cost.evaluations, 4);
    // guidance 1: one branch
    assert.equal((await (await gen({ steps: 2, guidance: 1 })).json()).ralu.cost.evaluations, 2);
    // the paper's 2x: 5 + 6 + 9 steps, two branches each
    const two = await gen({ seed: 3, acceleration: { method: "ralu", preset: "2x" } });
    assert.equal(two.status, 200);
    assert.equal((await two.json()).ralu.cost.evaluations, 40);
    // a given Z that restarts stage 3 from nearly pure noise at this model's shift is refused
    const z = await gen({ acceleration: { method: "ralu", preset: "2x", Z: 60 } });
    assert.equal(z.status, 400);
    const zErr = (await z.json()).error;
    assert.equal(zErr.param, "acceleration.Z");
    assert.match(zErr.message, /starts stage 3 at t = 0\.0\d+ \(below 0\.05\).*shift 3\.00/);
    // a half-size stage needs whole tokens: 272 px is 17 tokens, 8.5 at half the size
    const odd = await gen({ size: "272x256", acceleration: { method: "ralu", preset: "3x" } });
    assert.equal(odd.status, 400);
    assert.match((await odd.json()).error.message, /multiples of 32/);
    assert.equal((await gen({ size: "272x256", steps: 1 })).status, 200);
    // the server keeps serving
    assert.equal((await gen({ steps: 1 })).status, 200);
  } finally {
    await state.registry.releaseAll();
  }
});
