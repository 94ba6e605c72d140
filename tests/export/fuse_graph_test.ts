// tools/export/fuse_graph.py: the fused graph computes what the exported one does (ORT's wasm
// EP, random inputs, and on WebGPU over llvmpipe where there is an adapter), and the chains it
// replaces are gone, counted op by op.
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

const CASES: { name: string; src: string; dims: [number, number, number] }[] = [
  { name: "FLUX miniature", src: "models/flux-tiny/transformer/model.onnx", dims: [64, 8, 8] },
  { name: "default model", src: "models/default/transformer.onnx", dims: [16, 64, 64] },
];

for (const c of CASES) {
  Deno.test({
    name: `fused ${c.name}: same output as the exported graph (wasm), every matched chain gone`,
    ignore: !HAVE_ONNX,
    sanitizeResources: false,
    sanitizeOps: false,
  }, async () => {
    const dir = await Deno.makeTempDir({ prefix: "fuse-" });
    try {
      const f = await fuse(c.src, dir);
      const b = f.before, a = f.after;
      const n = (o: Record<string, number>, op: string) => o[op] ?? 0;
      // one fused node per chain: each norm had one Sqrt, each tanh GELU one Tanh
      assert.equal(n(a, "FastGelu"), n(b, "Tanh"), "every tanh GELU fused");
      assert.equal(n(a, "Tanh"), 0);
      assert.equal(
        n(a, "LayerNormalization") + n(a, "SimplifiedLayerNormalization"),
        n(b, "LayerNormalization") + n(b, "Sqrt"),
        "every norm chain fused",
      );
      assert.equal(n(a, "Sqrt") + n(a, "Pow") + n(a, "ReduceMean"), 0);
      assert.ok(f.fused.gelu! > 0);
      const ref = await outputOf(c.src, "wasm", c.dims);
      const got = await outputOf(`${dir}/model.onnx`, "wasm", c.dims);
      const d = relDiff(got, ref);
      assert.ok(d <= 1e-5, `max |diff| / max |ref| = ${d}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test({
  name: "the fused FLUX miniature runs on the WebGPU EP (its fused ops exist there) and agrees",
  ignore: !HAVE_ONNX || noGpu,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "fuse-" });
  try {
    await fuse(CASES[0]!.src, dir);
    const ref = await outputOf(CASES[0]!.src, "wasm", CASES[0]!.dims);
    const got = await outputOf(`${dir}/model.onnx`, "webgpu", CASES[0]!.dims);
    const d = relDiff(got, ref);
    assert.ok(d <= 1e-4, `max |diff| / max |ref| = ${d}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
