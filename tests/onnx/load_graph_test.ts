// Loading a graph with external data: lazy file Blobs, and the checks that run before any
// weight is read (missing / short data files, the 4 GiB-per-file limit of the WebGPU
// runtime, the wasm heap, fp16 without shader-f16), on copies of the committed miniature.
import assert from "node:assert/strict";
import { FileBlob, GiB, loadGraph, planGraph } from "../../src/onnx/load_graph.ts";
import { ortTest } from "../_helpers.ts";

const SRC = "models/flux-tiny/transformer";

async function copyTransformer(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "graph-" });
  for (const f of ["model.onnx", "model.onnx_data"]) {
    await Deno.copyFile(`${SRC}/${f}`, `${dir}/${f}`);
  }
  return dir;
}

Deno.test("FileBlob reads only its byte range, lazily, also through slice and stream", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/d.bin`;
  await Deno.writeFile(path, Uint8Array.from({ length: 256 }, (_, i) => i));
  const blob = new FileBlob(path, 16, 80);
  assert.equal(blob.size, 64);
  assert.deepEqual([...new Uint8Array(await blob.arrayBuffer())].slice(0, 3), [16, 17, 18]);
  const part = blob.slice(8, -8);
  assert.equal(part.size, 48);
  assert.deepEqual([...new Uint8Array(await part.arrayBuffer())].slice(0, 2), [24, 25]);
  let streamed = 0;
  for await (const chunk of blob.stream()) streamed += chunk.length;
  assert.equal(streamed, 64);
  await Deno.remove(dir, { recursive: true });
});

Deno.test(
  { name: "the miniature's transformer loads from its data file and runs", ...ortTest },
  async () => {
    const { session, info } = await loadGraph(`${SRC}/model.onnx`, "wasm");
    assert.equal(info.dataFiles.length, 1);
    assert.ok(info.dataFiles[0]!.file.endsWith("model.onnx_data"));
    // The step graph: conditioning (context, vec) and the RoPE tables come from outside it.
    assert.deepEqual(info.inputNames, [
      "hidden_states",
      "context",
      "vec",
      "timestep",
      "rope_cos",
      "rope_sin",
    ]);
    const n = 4, L = 3, S = n + L, inner = 32, half = 16;
    const out = await session.run({
      hidden_states: { data: new Float32Array(n * 64).fill(0.1), dims: [1, n, 64] },
      context: { data: new Float32Array(L * inner).fill(0.2), dims: [1, L, inner] },
      vec: { data: new Float32Array(inner).fill(0.3), dims: [1, inner] },
      timestep: { data: new Float32Array([0.5]), dims: [1] },
      rope_cos: { data: new Float32Array(S * half).fill(1), dims: [S, half] },
      rope_sin: { data: new Float32Array(S * half), dims: [S, half] },
    });
    assert.deepEqual(out.out_hidden_states!.dims, [1, n, 64]);
    assert.ok(out.out_hidden_states!.data.some((v) => v !== 0));
    await session.release();
  },
);

Deno.test("a missing or short data file is named before ORT sees the graph", async () => {
  const dir = await copyTransformer();
  await Deno.truncate(`${dir}/model.onnx_data`, 100);
  await assert.rejects(
    planGraph(`${dir}/model.onnx`, "wasm"),
    /model\.onnx_data: 100 bytes, but the graph reads \d+ \(the file is truncated\)/,
  );
  await Deno.remove(`${dir}/model.onnx_data`);
  await assert.rejects(
    planGraph(`${dir}/model.onnx`, "wasm"),
    /external data file model\.onnx_data not found/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a data file of 4 GiB or more is refused on WebGPU; weights past the wasm heap on wasm", async () => {
  const dir = await copyTransformer();
  await Deno.truncate(`${dir}/model.onnx_data`, 4 * GiB + 4096); // sparse: no disk used
  await assert.rejects(
    planGraph(`${dir}/model.onnx`, "webgpu"),
    /model\.onnx_data: 4\.00 GiB; the WebGPU runtime cannot place tensors past 4 GiB of one file/,
  );
  await assert.rejects(
    planGraph(`${dir}/model.onnx`, "wasm"),
    /do not fit the wasm EP.*--ep webgpu/,
  );
  await Deno.truncate(`${dir}/model.onnx_data`, 4 * GiB - 4096);
  const ok = await planGraph(`${dir}/model.onnx`, "webgpu");
  assert.equal(ok.dataFiles[0]!.bytes, 4 * GiB - 4096);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a weight larger than the adapter's storage binding is named in a warning", async () => {
  const clip = "models/flux-tiny/text_encoder/model.onnx";
  const plan = await planGraph(clip, "webgpu", { maxBinding: 1024 * 1024 });
  assert.equal(plan.warnings.length, 1);
  // the 49408 x 8 float token embedding (1.5 MiB) is the largest weight
  assert.match(
    plan.warnings[0]!,
    /token_embedding\.weight is 2 MiB, more than this adapter's storage binding limit \(1 MiB\)/,
  );
  assert.deepEqual((await planGraph(clip, "webgpu", { maxBinding: 2 ** 27 })).warnings, []);
  assert.deepEqual((await planGraph(clip, "wasm", { maxBinding: 1024 })).warnings, []);
});
