// tools/export/fuse_graph.py on the shipped graphs: they are in the fused form (the exporter's
// tests check fused against plain exports and the NumPy reference), fusing twice is a no-op, and
// the fused ops run on the WebGPU EP (llvmpipe where there is no GPU) as on wasm.
import assert from "node:assert/strict";
import { noGpu } from "../kernels/_gpu.ts";
import {
  exportTiny,
  type Fused,
  HAVE_ONNX,
  outputOf,
  python,
  relDiff,
  TINY,
  TINY_DIMS,
} from "./_tiny.ts";

/** tools/export/fuse_graph.py `src` → `out`, with its flags `extra`: what it counted. */
async function fuse(src: string, out: string, ...extra: string[]): Promise<Fused> {
  return JSON.parse(await python("tools/export/fuse_graph.py", src, out, ...extra));
}

Deno.test({
  name: "the shipped graphs are in the fused form, and fusing again changes nothing",
  ignore: !HAVE_ONNX,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const n = (o: Record<string, number>, op: string) => o[op] ?? 0;
  for (const src of [TINY, "models/default/transformer.onnx", "models/fixture/transformer.onnx"]) {
    const dir = await Deno.makeTempDir({ prefix: "fuse-" });
    try {
      const f = await fuse(src, `${dir}/model.onnx`);
      assert.deepEqual(f.fused, { layernorm: 0, rmsnorm: 0, gelu: 0, reshape: 0 }, src);
      assert.deepEqual(f.after, f.before, src);
      for (const op of ["Tanh", "Pow", "Sqrt"]) assert.equal(n(f.before, op), 0, `${src}: ${op}`);
      assert.ok(n(f.before, "FastGelu") > 0, src);
      if (src === TINY) {
        assert.ok(
          n(f.before, "LayerNormalization") > 0 && n(f.before, "SimplifiedLayerNormalization") > 0,
        );
        const ref = await outputOf(TINY, "wasm", TINY_DIMS);
        const again = await outputOf(`${dir}/model.onnx`, "wasm", TINY_DIMS);
        assert.equal(relDiff(again, ref), 0);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test({
  name:
    "the fused FLUX miniature runs on the WebGPU EP (its fused ops exist there) and agrees with wasm",
  ignore: noGpu,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const ref = await outputOf(TINY, "wasm", TINY_DIMS);
  const got = await outputOf(TINY, "webgpu", TINY_DIMS);
  const d = relDiff(got, ref);
  assert.ok(d <= 1e-4, `max |diff| / max |ref| = ${d}`);
});

Deno.test({
  name:
    "--attention mha: the miniature with one MultiHeadAttention per block runs on the WebGPU EP as on wasm, and as the MatMul form does",
  ignore: noGpu || !HAVE_ONNX,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "mha-" });
  try {
    await exportTiny(dir, "--attention", "mha");
    const file = `${dir}/transformer/model.onnx`;
    const wasm = await outputOf(file, "wasm", TINY_DIMS);
    const webgpu = await outputOf(file, "webgpu", TINY_DIMS);
    assert.ok(relDiff(webgpu, wasm) <= 1e-4, `webgpu vs wasm ${relDiff(webgpu, wasm)}`);
    // the same weights (the miniature's seed) in the default MatMul-Softmax-MatMul form
    const matmul = await outputOf(TINY, "wasm", TINY_DIMS);
    assert.ok(relDiff(wasm, matmul) <= 1e-4, `mha vs matmul ${relDiff(wasm, matmul)}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "the reshape form: Reshapes whose shape came from Shape-Gather-Unsqueeze-Concat take a constant shape, fewer nodes, same output",
  ignore: !HAVE_ONNX,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "reshape-" });
  try {
    // the miniature exported without the form, then the form applied alone
    await exportTiny(dir, "--fuse", "layernorm,rmsnorm,gelu");
    const plain = `${dir}/transformer/model.onnx`;
    const out = await Deno.makeTempDir({ prefix: "reshape-out-" });
    await Deno.copyFile(`${dir}/transformer/model.onnx_data`, `${out}/model.onnx_data`);
    const done = await fuse(plain, `${out}/model.onnx`, "--forms", "reshape");
    const total = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
    // in one double and one single block: the head splits (6 + 3), RoPE's pair splits of q and
    // k (2 + 2) and the attention outputs (1 + 1); RoPE's pair merges (2 + 2) take their shape
    // from another tensor and stay
    assert.equal(done.fused.reshape, 15);
    assert.equal(done.after.Reshape, done.before.Reshape);
    assert.ok(done.after.Shape! < done.before.Shape!, JSON.stringify(done.after));
    assert.ok(
      total(done.after) <= total(done.before) - 100,
      `${total(done.before)} → ${total(done.after)}`,
    );
    const a = await outputOf(plain, "wasm", TINY_DIMS);
    const b = await outputOf(`${out}/model.onnx`, "wasm", TINY_DIMS);
    assert.equal(relDiff(b, a), 0);
    // the shipped miniature is this form
    assert.equal(relDiff(await outputOf(TINY, "wasm", TINY_DIMS), a), 0);
    // and its GELUs take the bias of the Linear before them (FastGelu's second input)
    const gelus = await python(
      "-c",
      `import onnx; m = onnx.load("${TINY}", load_external_data=False); ` +
        `print([len(n.input) for n in m.graph.node if n.op_type == "FastGelu"])`,
    );
    assert.deepEqual(JSON.parse(gelus), [2, 2, 2]);
    await Deno.remove(out, { recursive: true });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
