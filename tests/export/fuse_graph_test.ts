// tools/export/fuse_graph.py on the shipped graphs: they are in the fused form (the exporter's
// tests check fused against plain exports and the NumPy reference), fusing twice is a no-op, and
// the fused ops run on the WebGPU EP (llvmpipe where there is no GPU) as on wasm.
import assert from "node:assert/strict";
import { loadGraph } from "../../src/onnx/load_graph.ts";
import type { Ep } from "../../src/onnx/ort.ts";
import { noGpu } from "../kernels/_gpu.ts";
import { randomFloats } from "../kernels/_gpu.ts";

const PYTHON = "/usr/bin/python3";
const probe = await new Deno.Command(PYTHON, { args: ["-c", "import onnx, numpy"] })
  .output().catch(() => undefined);
const HAVE_ONNX = probe?.success === true;

interface Fused {
  fused: Record<string, number>;
  before: Record<string, number>;
  after: Record<string, number>;
}

async function fuse(src: string, dir: string): Promise<Fused> {
  const r = await new Deno.Command(PYTHON, {
    args: ["tools/export/fuse_graph.py", src, `${dir}/model.onnx`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr).slice(-2000));
  return JSON.parse(new TextDecoder().decode(r.stdout));
}

/** DiT inputs for n image tokens, L text tokens, deterministic. */
function ditFeeds(names: readonly string[], token: number, text: number, pooled: number) {
  const n = 16, L = 8;
  const ids = (count: number, off: number) =>
    Float32Array.from({ length: count * 3 }, (_, i) => (i % 3 === 0 ? 0 : Math.floor(i / 3) + off));
  const all: Record<string, { data: Float32Array; dims: number[] }> = {
    hidden_states: { data: randomFloats(n * token, 1), dims: [1, n, token] },
    encoder_hidden_states: { data: randomFloats(L * text, 2), dims: [1, L, text] },
    pooled_projections: { data: randomFloats(pooled, 3), dims: [1, pooled] },
    timestep: { data: Float32Array.of(0.6), dims: [1] },
    guidance: { data: Float32Array.of(3.5), dims: [1] },
    img_ids: { data: ids(n, 0.5), dims: [n, 3] },
    txt_ids: { data: new Float32Array(L * 3), dims: [L, 3] },
    // a FLUX step graph's (the miniature's: width 32, heads of 16)
    context: { data: randomFloats(L * 32, 4), dims: [1, L, 32] },
    vec: { data: randomFloats(32, 5), dims: [1, 32] },
    rope_cos: { data: randomFloats((L + n) * 16, 6).map(Math.cos), dims: [L + n, 16] },
    rope_sin: { data: randomFloats((L + n) * 16, 6).map(Math.sin), dims: [L + n, 16] },
  };
  return Object.fromEntries(names.map((k) => [k, all[k]!]));
}

async function outputOf(file: string, ep: Ep, dims: [number, number, number]) {
  const { session } = await loadGraph(file, ep);
  try {
    const out = await session.run(ditFeeds(session.inputNames, ...dims));
    return Object.values(out)[0]!.data;
  } finally {
    await session.release();
  }
}

function relDiff(a: Float32Array, b: Float32Array): number {
  let worst = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return worst / Math.max(scale, 1e-6);
}

const TINY = "models/flux-tiny/transformer/model.onnx";

/** The FLUX miniature's transformer exported again into `dir`, with exporter flags `extra`. */
async function exportTiny(dir: string, ...extra: string[]) {
  const r = await new Deno.Command(PYTHON, {
    args: [
      "tools/export/export_flux.py",
      "--tiny",
      dir,
      "--tokenizers",
      "models/flux-tiny",
      "--components",
      "transformer",
      ...extra,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr).slice(-2000));
}
const TINY_DIMS: [number, number, number] = [64, 8, 8];

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
      const f = await fuse(src, dir);
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
    const f = await new Deno.Command(PYTHON, {
      args: ["tools/export/fuse_graph.py", plain, `${out}/model.onnx`, "--forms", "reshape"],
      stdout: "piped",
    }).output();
    const done = JSON.parse(new TextDecoder().decode(f.stdout)) as Fused;
    const total = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
    // the q, k, v head splits (9 in one double + one single block), the RoPE pair splits and the
    // attention outputs (2 + 2)
    assert.equal(done.fused.reshape, 13);
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
    const gelus = await new Deno.Command(PYTHON, {
      args: [
        "-c",
        `import onnx; m = onnx.load("${TINY}", load_external_data=False); ` +
        `print([len(n.input) for n in m.graph.node if n.op_type == "FastGelu"])`,
      ],
      stdout: "piped",
    }).output();
    assert.deepEqual(JSON.parse(new TextDecoder().decode(gelus.stdout)), [2, 2, 2]);
    await Deno.remove(out, { recursive: true });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
