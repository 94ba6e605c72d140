// SD3 in the pipeline: the folder read into a manifest (the committed miniature and a T5-less
// copy), the three encoders' outputs joined as diffusers joins them, tokens in SD3's lane order,
// and table positions for every token RALU feeds the DiT.
import assert from "node:assert/strict";
import { sd3Manifest } from "../../src/pipeline/sd3_manifest.ts";
import { joinSd3, reorderLanes, sd3Positions } from "../../src/pipeline/sd3.ts";
import { presetStage3Start, sizeProblem } from "../../src/config/manifest.ts";
import { MIN_STAGE3_START } from "../../src/schedule/stages.ts";
import { gridIds, pack } from "../../src/kernels/pack_cpu.ts";
import { expandStage3, repackStage2 } from "../../src/kernels/repack_cpu.ts";
import { loadModel } from "../../src/pipeline/model.ts";
import { ortTest } from "../_helpers.ts";

const TINY = "models/sd3-tiny";

Deno.test("sd3-tiny's manifest: SD3's timesteps, lanes, table, shift 3, CFG, the paper's 2x and 3x", async () => {
  const m = await sd3Manifest(TINY, "sd3-tiny");
  assert.equal(m.family, "sd3");
  assert.equal(m.timestep_scale, 1000);
  assert.equal(m.token_order, "dy_dx_c");
  assert.deepEqual(m.positions, { max: 96, low: "half" });
  assert.equal(m.base_shift, 3);
  assert.equal(m.guidance_embed, false);
  assert.equal(m.default_guidance, 7);
  assert.equal(m.max_text_tokens, 77 + 256);
  assert.equal(m.text_dim, 32); // T5's width, the joint dim
  assert.equal(m.pooled_dim, 8 + 12); // CLIP-L's and CLIP-G's projections
  assert.equal(m.vae_scaling, 1.5305);
  assert.equal(m.vae_shift, 0.0609);
  assert.equal(m.files.text_encoder_3, "text_encoder_3/model.onnx");
  assert.deepEqual(m.presets["2x"], { N: [5, 6, 9], e: [0.2, 0.3, 1], r: 0.3 });
  assert.deepEqual(m.presets["3x"], { N: [3, 3, 6], e: [0.25, 0.3, 1], r: 0.2 });
  for (const p of Object.values(m.presets)) {
    assert.ok(presetStage3Start(p, m.base_shift).s >= MIN_STAGE3_START);
  }
  // the table is 96 patches wide: 96 x 16 = 1536 px, multiples of 16
  assert.equal(sizeProblem(m, 1536, 512), null);
  assert.match(sizeProblem(m, 1552, 512)!, /between 256 and 1536/);
  assert.match(sizeProblem(m, 520, 512)!, /multiples of 16/);
});

Deno.test("without text_encoder_3 the conditioning has 77 rows of zeros for T5, as diffusers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sd3-no-t5-" });
  for await (const e of Deno.readDir(TINY)) {
    if (e.name !== "text_encoder_3") {
      await Deno.symlink(`${Deno.cwd()}/${TINY}/${e.name}`, `${dir}/${e.name}`);
    }
  }
  const m = await sd3Manifest(dir, "sd3-no-t5");
  assert.equal(m.files.text_encoder_3, undefined);
  assert.equal(m.max_text_tokens, 154);
  const edited = JSON.parse(await Deno.readTextFile(`${TINY}/ralu.json`));
  await Deno.remove(`${dir}/ralu.json`);
  await Deno.writeTextFile(
    `${dir}/ralu.json`,
    JSON.stringify({ ...edited, size_range: { min: 256, max: 2048, multiple: 16 } }),
  );
  await assert.rejects(
    sd3Manifest(dir, "sd3-no-t5"),
    /beyond the position table's reach \(96 patches = 1536 px\)/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("joinSd3: CLIP-L | CLIP-G | zeros over 77 rows, then T5's rows; pooled L | G", () => {
  const clipL = {
    hidden: Float32Array.from({ length: 2 * 2 }, (_, i) => 1 + i),
    width: 2,
    pooled: Float32Array.of(10, 11),
  };
  const clipG = {
    hidden: Float32Array.from({ length: 2 * 3 }, (_, i) => 100 + i),
    width: 3,
    pooled: Float32Array.of(20, 21, 22),
  };
  const t5 = Float32Array.from({ length: 3 * 7 }, (_, i) => -1 - i);
  const j = joinSd3([clipL, clipG], t5, 7, 2);
  assert.deepEqual(Array.from(j.text.subarray(0, 14)), [
    1,
    2,
    100,
    101,
    102,
    0,
    0,
    3,
    4,
    103,
    104,
    105,
    0,
    0,
  ]);
  assert.deepEqual(Array.from(j.text.subarray(14)), Array.from(t5));
  assert.deepEqual(Array.from(j.pooled), [10, 11, 20, 21, 22]);
  const noT5 = joinSd3([clipL, clipG], undefined, 7, 2);
  assert.equal(noT5.text.length, 4 * 7);
  assert.ok(noT5.text.subarray(14).every((v) => v === 0));
});

Deno.test("reorderLanes: our (c, dy, dx) tokens to SD3's (dy, dx, c) patches and back", () => {
  // a 2 x 4 latent of 3 channels, value = 100 c + 10 y + x
  const C = 3, H = 2, W = 4;
  const latent = Float32Array.from({ length: C * H * W }, (_, i) => {
    const c = Math.floor(i / (H * W)), y = Math.floor(i / W) % H, x = i % W;
    return 100 * c + 10 * y + x;
  });
  const ours = pack(latent, C, H, W);
  const theirs = reorderLanes(ours, C);
  // token 1 covers x = 2, 3: (dy, dx, c) order as diffusers' patchify lays it out
  const want: number[] = [];
  for (const dy of [0, 1]) {
    for (const dx of [0, 1]) for (let c = 0; c < C; c++) want.push(100 * c + 10 * dy + 2 + dx);
  }
  assert.deepEqual(Array.from(theirs.subarray(12, 24)), want);
  assert.deepEqual(reorderLanes(theirs, C, true), ours);
});

Deno.test("sd3Positions: the full grid centre-cropped; RALU's low grid as a half-size image or on full cells", () => {
  const table = { max: 10, low: "half" as const };
  const grid = { rows: 4, cols: 6 }; // full-resolution tokens
  // base / stage 3: diffusers' crop ((10 - 4) / 2, (10 - 6) / 2) = (3, 2)
  const full = sd3Positions(gridIds(4, 6), 1, grid, table);
  assert.deepEqual(Array.from(full.subarray(0, 4)), [3, 2, 3, 3]);
  assert.deepEqual(Array.from(full.subarray(-2)), [6, 7]);
  // stage 1, "half": the 2 x 3 grid a half-size image gets, crop (4, 3)
  const low = gridIds(2, 3);
  assert.deepEqual(Array.from(sd3Positions(low, 2, grid, table).subarray(0, 4)), [4, 3, 4, 4]);
  // stage 2: a selected token's copies at quarter offsets on it; "full": its own full cells
  const rep = repackStage2(new Float32Array(6 * 4), low, Uint32Array.of(0, 0, 0, 0, 1, 0), 4);
  const copies = rep.ids.subarray(rep.lowCount * 3);
  assert.deepEqual(Array.from(sd3Positions(copies, 2, grid, table)), [
    5,
    4,
    5,
    4.5,
    5.5,
    4,
    5.5,
    4.5,
  ]);
  const onFull = sd3Positions(copies, 2, grid, { max: 10, low: "full" });
  assert.deepEqual(Array.from(onFull), [5, 4, 5, 5, 6, 4, 6, 5]);
  // …which are exactly the places stage 3 gives those tokens on the full grid
  const s3 = expandStage3(rep.tokens, rep.ids, rep.lowCount, 4, 6, 4);
  const at = (r: number, c: number) =>
    Array.from(full.subarray(2 * (r * 6 + c), 2 * (r * 6 + c) + 2));
  assert.deepEqual(at(2, 2), [5, 4]);
  assert.deepEqual(
    Array.from(sd3Positions(s3.ids, 1, grid, table).subarray(2 * 15, 2 * 15 + 2)),
    at(2, 3),
  );
  assert.throws(
    () => sd3Positions(gridIds(12, 2), 1, { rows: 12, cols: 2 }, table),
    /exceed the 10-wide/,
  );
});

Deno.test({
  name:
    "sd3-tiny's conditioning: each CLIP's penultimate rows side by side, padded, then T5; pooled projections",
  ...ortTest,
}, async () => {
  const model = await loadModel("sd3-tiny", "wasm", "cpu");
  try {
    const cond = await model.encodePrompt("a red circle");
    const D = model.manifest.text_dim;
    assert.equal(cond.text.length, (77 + 256) * D);
    assert.equal(cond.pooled.length, 20);
    const { HfTokenizer } = await import("../../src/text/hf_tokenizer.ts");
    const { loadGraph } = await import("../../src/onnx/load_graph.ts");
    const run = async (comp: string, tok: string, len: number) => {
      const t = (await HfTokenizer.fromDir(`${TINY}/${tok}`, { maxLength: len })).encode(
        "a red circle",
      );
      const { session } = await loadGraph(`${TINY}/${comp}/model.onnx`, "wasm");
      const out = await session.run({ input_ids: { data: t.ids, dims: [1, len] } });
      await session.release();
      return { out, ids: t.ids };
    };
    const l = await run("text_encoder", "tokenizer", 77);
    const g = await run("text_encoder_2", "tokenizer_2", 77);
    const t5 = await run("text_encoder_3", "tokenizer_3", 256);
    // CLIP-G pads with "!" (id 0), CLIP-L with its end token
    assert.equal(g.ids[76], 0n);
    assert.equal(l.ids[76], 49407n);
    const row = (r: number) => Array.from(cond.text.subarray(r * D, (r + 1) * D));
    for (const r of [0, 5, 76]) {
      const want = [
        ...l.out.penultimate_hidden_state!.data.subarray(r * 8, r * 8 + 8),
        ...g.out.penultimate_hidden_state!.data.subarray(r * 12, r * 12 + 12),
        ...new Array(D - 20).fill(0),
      ];
      assert.deepEqual(row(r), want);
    }
    assert.deepEqual(row(77), Array.from(t5.out.last_hidden_state!.data.subarray(0, D)));
    assert.deepEqual(Array.from(cond.pooled), [
      ...l.out.text_embeds!.data,
      ...g.out.text_embeds!.data,
    ]);
  } finally {
    await model.release();
  }
});
