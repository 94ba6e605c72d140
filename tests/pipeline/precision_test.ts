// Which transformer graph a model runs (src/pipeline/precision.ts): the rule, and the FLUX
// miniature with both graphs (models/flux-tiny/transformer/model.onnx and model_fp16.onnx)
// served in each, with the fp16 image's PSNR against the fp32 one.
import assert from "node:assert/strict";
import { decode } from "fast-png";
import { choosePrecision } from "../../src/pipeline/precision.ts";
import { loadModel } from "../../src/pipeline/model.ts";
import { generateImage } from "../../src/pipeline/generate.ts";
import { psnr } from "../../bench/metrics.ts";
import { ortTest } from "../_helpers.ts";
import { noGpu } from "../kernels/_gpu.ts";

const BOTH = { fp32: "t/model.onnx", fp16: "t/model_fp16.onnx" };

Deno.test("fp16 where the adapter has shader-f16 and the model has the graph; fp32 otherwise", () => {
  assert.deepEqual(choosePrecision(BOTH, "webgpu", true, "auto"), {
    file: "t/model_fp16.onnx",
    precision: "fp16",
    reason: "the adapter has shader-f16",
  });
  const noF16 = choosePrecision(BOTH, "webgpu", false, "auto");
  assert.equal(noF16.file, "t/model.onnx");
  assert.match(noF16.reason, /no shader-f16/);
  const wasm = choosePrecision(BOTH, "wasm", undefined, "auto");
  assert.equal(wasm.file, "t/model.onnx");
  assert.match(wasm.reason, /wasm EP/);
  // one graph: that one, whatever the device
  assert.equal(choosePrecision({ fp32: "a.onnx" }, "webgpu", true, "auto").file, "a.onnx");
  assert.equal(choosePrecision({ fp16: "h.onnx" }, "wasm", undefined, "auto").file, "h.onnx");
  // forced
  assert.equal(choosePrecision(BOTH, "webgpu", true, "fp32").file, "t/model.onnx");
  assert.equal(choosePrecision(BOTH, "wasm", undefined, "fp16").file, "t/model_fp16.onnx");
  assert.throws(
    () => choosePrecision({ fp32: "a.onnx" }, "webgpu", true, "fp16"),
    /--precision fp16: the model has no fp16 transformer graph \(transformer\/model_fp16\.onnx/,
  );
  assert.throws(() => choosePrecision({ fp16: "h.onnx" }, "wasm", undefined, "fp32"), /no fp32/);
});

Deno.test({
  name: "flux-tiny in fp16 (wasm EP): the fp16 graph is loaded, serves base and ralu, PSNR vs fp32",
  ...ortTest,
}, async () => {
  const signal = new AbortController().signal;
  const fp32 = await loadModel("flux-tiny", "wasm", "cpu", undefined, "auto");
  const fp16 = await loadModel("flux-tiny", "wasm", "cpu", undefined, "fp16");
  try {
    assert.equal(fp32.precision?.precision, "fp32");
    assert.match(fp32.precision!.reason, /wasm EP/);
    assert.equal(fp16.precision?.precision, "fp16");
    assert.equal(fp16.precision?.reason, "--precision");
    const t = (m: typeof fp16) => m.components.find((c) => c.component === "transformer")!;
    assert.match(t(fp16).file, /model_fp16\.onnx$/);
    assert.equal(t(fp16).fp16, true);
    assert.match(t(fp32).file, /model\.onnx$/);
    for (const acceleration of [undefined, { method: "ralu" as const, preset: "7x" }]) {
      const p = { prompt: "a red circle on a blue square", size: "256x256", seed: 3, acceleration };
      const a = await generateImage(fp32, { ...p, steps: 4 }, { signal });
      const b = await generateImage(fp16, { ...p, steps: 4 }, { signal });
      const db = psnr(decode(a.bytes).data as Uint8Array, decode(b.bytes).data as Uint8Array);
      console.log(
        `flux-tiny ${acceleration ? "ralu 7x" : "base"}: fp16 vs fp32 PSNR ${db.toFixed(2)} dB`,
      );
      // the same image up to fp16 rounding, and not the same bytes (the fp16 graph ran)
      assert.ok(db > 50 && db < Infinity, `PSNR ${db}`);
    }
  } finally {
    await fp32.release();
    await fp16.release();
  }
});

Deno.test({
  name:
    "sd3-tiny in fp16 (wasm EP): base with CFG 7 and ralu 2x (CFG 3) within fp16 rounding of fp32",
  ...ortTest,
}, async () => {
  const signal = new AbortController().signal;
  const fp32 = await loadModel("sd3-tiny", "wasm", "cpu", undefined, "fp32");
  const fp16 = await loadModel("sd3-tiny", "wasm", "cpu", undefined, "fp16");
  try {
    assert.equal(fp16.precision?.precision, "fp16");
    // (ralu at CFG 7 is not compared: there one of 19 edge tokens flips between the two, a
    // discrete choice any small change can tip, and the images part at ~27 dB)
    for (
      const [what, q] of [
        ["base, CFG 7", { guidance: 7, steps: 6 }],
        ["ralu 2x, CFG 3", {
          guidance: 3,
          acceleration: { method: "ralu" as const, preset: "2x" },
        }],
      ] as const
    ) {
      const p = { prompt: "a red circle on a blue square", size: "256x256", seed: 3, ...q };
      const a = await generateImage(fp32, p, { signal }),
        b = await generateImage(fp16, p, { signal });
      const db = psnr(decode(a.bytes).data as Uint8Array, decode(b.bytes).data as Uint8Array);
      console.log(`sd3-tiny ${what}: fp16 vs fp32 PSNR ${db.toFixed(2)} dB`);
      assert.ok(db > 50 && db < Infinity, `${what}: PSNR ${db}`);
    }
  } finally {
    await fp32.release();
    await fp16.release();
  }
});

Deno.test({
  name: "on an adapter without shader-f16, auto picks fp32 and a forced fp16 is refused by name",
  ignore: noGpu,
  ...ortTest,
}, async () => {
  const adapter = await navigator.gpu.requestAdapter();
  if (adapter!.features.has("shader-f16")) return; // a GPU with shader-f16: nothing to refuse
  const auto = await loadModel("flux-tiny", "webgpu", "gpu");
  try {
    assert.equal(auto.precision?.precision, "fp32");
    assert.match(auto.precision!.reason, /no shader-f16/);
  } finally {
    await auto.release();
  }
  await assert.rejects(
    loadModel("flux-tiny", "webgpu", "gpu", undefined, "fp16"),
    /model_fp16\.onnx.*no shader-f16/,
  );
});
