// The committed FLUX.1-dev miniature (models/flux-tiny, the diffusers ONNX layout written by
// tools/export/export_flux.py --tiny) end to end: OpenAI route and jobs API, base and ralu,
// on the wasm EP and on the WebGPU EP (llvmpipe here), plus the request rules FLUX brings.
import assert from "node:assert/strict";
import { decode } from "fast-png";
import { fixtureApp, ortTest, post, readSse } from "../_helpers.ts";
import { decodeBase64 } from "../../src/http/base64.ts";

const PROMPT = "a red circle on a blue square";

function pngOf(b64: string) {
  const img = decode(decodeBase64(b64));
  return { width: img.width, height: img.height, data: img.data };
}

for (const ep of ["wasm", "webgpu"] as const) {
  Deno.test({
    name: `flux-tiny through the server on ${ep}: base and ralu, both routes`,
    ...ortTest,
  }, async () => {
    const { app, state } = await fixtureApp({
      model: "flux-tiny",
      ep,
      kernels: ep === "webgpu" ? "gpu" : "cpu",
    });
    try {
      const health = await (await app.request("/health")).json();
      const tiny = health.models.find((m: { id: string }) => m.id === "flux-tiny");
      assert.equal(tiny.family, "flux");
      // the folder has model_fp16.onnx too; neither wasm nor llvmpipe has shader-f16
      assert.equal(tiny.precision.precision, "fp32");
      assert.match(tiny.precision.file, /transformer\/model\.onnx$/);
      assert.deepEqual(
        tiny.components.map((c: { component: string }) => c.component).sort(),
        [
          "conditioning",
          "indicator",
          "text_encoder",
          "text_encoder_2",
          "transformer",
          "vae_decoder",
        ],
      );
      for (const c of tiny.components) {
        // TeaCache's indicator is one small file; the step graph's conditioning graph (the text
        // and pooled embedders) is small; the rest keep their weights in a data file
        if (c.component === "indicator") assert.ok(c.bytes > 100_000 && c.data_files === 0, c.file);
        else if (c.component === "conditioning") assert.ok(c.data_files <= 1, c.file);
        else assert.ok(c.bytes > 100_000 && c.data_files === 1, c.file);
      }

      // OpenAI route, base
      const base = await app.request(
        "/v1/images/generations",
        post({ prompt: PROMPT, steps: 3, seed: 5 }),
      );
      assert.equal(base.status, 200, await base.clone().text());
      const b = await base.json();
      const img = pngOf(b.data[0].b64_json);
      assert.deepEqual([img.width, img.height], [512, 512]);
      assert.deepEqual(b.ralu.cost.image_tokens_per_step, [1024, 1024, 1024]);
      assert.deepEqual(b.ralu.warnings, []);

      // jobs API, ralu (7x: 2 + 3 + 5 steps at 256, mixed and 1024 tokens), events over SSE
      const sub = await app.request(
        "/v1/images/jobs",
        post({
          prompt: PROMPT,
          seed: 5,
          acceleration: { method: "ralu", preset: "7x" },
          preview_every: 2,
        }),
      );
      assert.equal(sub.status, 202);
      const { id } = await sub.json();
      const events = await readSse(await app.request(`/v1/images/jobs/${id}/events`));
      const names = events.map((e) => e.event);
      assert.ok(names.includes("edge_mask") && names.includes("preview"), names.join(","));
      assert.deepEqual(
        events.filter((e) => e.event === "stage").map((e) => JSON.parse(e.data).stage),
        [1, 2, 3],
      );
      const done = JSON.parse(events.find((e) => e.event === "completed")!.data);
      const tokens = done.cost.image_tokens_per_step as number[];
      assert.equal(tokens.length, 10);
      assert.deepEqual(tokens.slice(0, 2), [256, 256]);
      assert.deepEqual(tokens.slice(-5), [1024, 1024, 1024, 1024, 1024]);
      // against FLUX.1-dev's 50 base steps: 50 x 1024 / (2 x 256 + 3 x (256 + 3 x 51) + 5 x 1024)
      assert.equal(done.cost.token_steps, 6859);
      assert.ok(Math.abs(done.cost.speedup_token_steps - 51200 / 6859) < 1e-9);
      const r = pngOf(done.images[0].b64_json);
      assert.deepEqual([r.width, r.height], [512, 512]);
      assert.notDeepEqual(r.data, img.data);
    } finally {
      await state.registry.releaseAll();
    }
  });
}

Deno.test({
  name: "flux-tiny request rules: sizes, guidance input, negative prompt, long prompts",
  ...ortTest,
}, async () => {
  const { app, state } = await fixtureApp({ model: "flux-tiny", ep: "wasm", kernels: "cpu" });
  try {
    const listed = await (await app.request("/v1/models/flux-tiny")).json();
    assert.equal(listed.family, "flux");
    assert.equal(listed.guidance_embed, true);
    assert.deepEqual(listed.size_range, { min: 256, max: 2048, multiple: 16 });
    assert.deepEqual(listed.presets.sort(), ["4x", "7x", "7x-taylor"]);
    const gen = (body: object) =>
      app.request("/v1/images/generations", post({ prompt: PROMPT, ...body }));
    // any multiple of 16 between 256 and 2048 per side; not others
    const odd = await gen({ size: "264x256", steps: 1 });
    assert.equal(odd.status, 400);
    assert.match((await odd.json()).error.message, /multiples of 16 between 256 and 2048/);
    assert.equal((await gen({ size: "2064x256", steps: 1 })).status, 400);
    const wide = await gen({ size: "384x256", steps: 1 });
    assert.equal(wide.status, 200);
    const w = pngOf((await wide.json()).data[0].b64_json);
    assert.deepEqual([w.width, w.height], [384, 256]);
    // at 256² (dynamic shift h0 = e^0.5) NT-matching's Z stays within its usable limit: it runs
    const small = await gen({ size: "256x256", acceleration: { method: "ralu", preset: "4x" } });
    assert.equal(small.status, 200);
    assert.equal((await small.json()).ralu.cost.evaluations, 18);
    // guidance is an input of the DiT: a different scale changes the image, at one evaluation per step
    const g1 = await (await gen({ size: "256x256", steps: 2, seed: 1, guidance: 1 })).json();
    const g5 = await (await gen({ size: "256x256", steps: 2, seed: 1, guidance: 5 })).json();
    assert.notEqual(g1.data[0].b64_json, g5.data[0].b64_json);
    assert.equal(g5.ralu.cost.evaluations, 2);
    const neg = await gen({ steps: 1, negative_prompt: "blurry", guidance: 5 });
    assert.equal(neg.status, 400);
    assert.match((await neg.json()).error.message, /no classifier-free guidance/);
    // a prompt past CLIP's 77 tokens is truncated with a warning, and the image still comes
    const long = Array.from({ length: 120 }, (_, i) => `word${i}`).join(" ");
    const lr = await gen({ prompt: long, size: "256x256", steps: 1 });
    assert.equal(lr.status, 200);
    const warnings = (await lr.json()).ralu.warnings as string[];
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0]!,
      /truncated for text_encoder: \d+ tokens, \d+ beyond its 77-token limit/,
    );
  } finally {
    await state.registry.releaseAll();
  }
});
