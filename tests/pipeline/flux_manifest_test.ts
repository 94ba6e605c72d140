// A diffusers-layout FLUX folder read into the manifest: dev-like (the committed miniature)
// and a schnell-like copy of its configs.
import assert from "node:assert/strict";
import { fluxManifest } from "../../src/pipeline/flux_manifest.ts";
import { presetStage3Start, shiftFor } from "../../src/config/manifest.ts";
import { MIN_STAGE3_START } from "../../src/schedule/stages.ts";

const TINY = "models/flux-tiny";

async function copyConfigs(edit: (files: Record<string, Record<string, unknown>>) => void) {
  const dir = await Deno.makeTempDir({ prefix: "flux-configs-" });
  const names = [
    "model_index.json",
    "scheduler/scheduler_config.json",
    "transformer/config.json",
    "vae_decoder/config.json",
    "text_encoder/config.json",
    "text_encoder_2/config.json",
  ];
  const files: Record<string, Record<string, unknown>> = {};
  for (const n of names) files[n] = JSON.parse(await Deno.readTextFile(`${TINY}/${n}`));
  edit(files);
  for (const [n, j] of Object.entries(files)) {
    await Deno.mkdir(`${dir}/${n}`.replace(/\/[^/]+$/, ""), { recursive: true });
    await Deno.writeTextFile(`${dir}/${n}`, JSON.stringify(j));
  }
  return dir;
}

Deno.test("dev-like: dynamic shift, guidance input, 512 T5 tokens, FLUX's 4x, 7x and 7x + TaylorSeer, TeaCache's fit", async () => {
  const m = await fluxManifest(TINY, "flux-tiny");
  assert.equal(m.family, "flux");
  assert.equal(m.guidance_embed, true);
  assert.equal(m.default_guidance, 3.5);
  assert.equal(m.max_text_tokens, 512);
  assert.equal(m.token_footprint_px, 16);
  assert.equal(m.latent_channels, 16);
  assert.deepEqual(Object.keys(m.presets).sort(), ["4x", "7x", "7x-taylor"]);
  assert.equal(m.presets["7x-taylor"]!.cache!.method, "taylorseer");
  assert.equal(m.files.indicator, "transformer/indicator.onnx");
  assert.equal(m.teacache_rescale!.length, 5);
  // mu from 0.5 at 256 tokens to 1.15 at 4096, h = e^mu
  assert.ok(Math.abs(shiftFor(m, 256) - Math.exp(0.5)) < 1e-12);
  assert.ok(Math.abs(shiftFor(m, 4096) - Math.exp(1.15)) < 1e-12);
  assert.ok(Math.abs(m.base_shift - Math.exp(0.5 + (0.65 * 768) / 3840)) < 1e-12); // 512²
  assert.deepEqual(m.size_range, { min: 256, max: 2048, multiple: 16 });
  // the preview projection the exporter fitted to the miniature's VAE (16 channels + bias)
  const ours = JSON.parse(await Deno.readTextFile(`${TINY}/ralu.json`));
  assert.deepEqual(m.preview.weights, ours.preview.weights);
  assert.deepEqual(m.preview.weights.map((r) => r.length), [17, 17, 17]);
});

Deno.test("schnell-like: fixed shift 1, no guidance, 256 tokens, 4 steps; its [1,1,2] preset solves to a usable plan", async () => {
  const dir = await copyConfigs((f) => {
    f["transformer/config.json"]!.guidance_embeds = false;
    Object.assign(f["scheduler/scheduler_config.json"]!, { use_dynamic_shifting: false, shift: 1 });
  });
  const m = await fluxManifest(dir, "schnell-like");
  assert.equal(m.guidance_embed, false);
  assert.equal(m.base_shift, 1);
  assert.equal(m.dynamic_shift, undefined);
  assert.equal(m.max_text_tokens, 256);
  assert.equal(m.default_steps, 4);
  assert.equal(m.default_guidance, 0);
  assert.deepEqual(Object.keys(m.presets), ["distilled"]);
  // at h0 = 1 the lowest distance lies past Z's usable limit; the solved plan stays inside it
  const { s } = presetStage3Start(m.presets.distilled!, 1);
  assert.ok(s >= MIN_STAGE3_START, `stage 3 starts at t = ${s}`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("ralu.json presets are checked: a degenerate one is refused with the reason", async () => {
  const dir = await copyConfigs(() => {});
  await Deno.writeTextFile(
    `${dir}/ralu.json`,
    JSON.stringify({
      default_size: "256x256",
      presets: { "4x": { N: [5, 6, 7], e: [0.3, 0.45, 1], r: 0.3, Z: 50 } },
    }),
  );
  await assert.rejects(fluxManifest(dir, "x"), /preset 4x starts stage 3 at t = 0\.0161/);
  await Deno.remove(dir, { recursive: true });
});
