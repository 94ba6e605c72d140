// The exporter against independent NumPy computations (float64, sharing no code with it):
// diffusers' FluxTransformer2DModel (tools/export/flux_reference.py) for a dev-like config with
// guidance, a schnell-like one without, and a sharded BF16 checkpoint whose export spreads its
// weights over several data files, fractional image ids in every case; transformers'
// CLIPTextModel and T5EncoderModel and diffusers' AutoencoderKL decoder
// (tools/export/encoders_reference.py).
import assert from "node:assert/strict";
import { loadGraph, planGraph } from "../../src/onnx/load_graph.ts";
import { PYTHON, python } from "./_tiny.ts"; // the exporter needs python3-torch there too

interface Case {
  name: string;
  model: string;
  fp16: boolean;
  data_files: string[];
  inputs: Record<string, Tensor>;
  expected: Record<string, Tensor>;
  /** A FLUX step graph's conditioning graph, run first: its outputs join the inputs. */
  conditioning?: { model: string; inputs: Record<string, Tensor> };
  /** Operator counts the case's export form implies (e.g. one MultiHeadAttention per block). */
  ops?: { expected: Record<string, number>; counted: Record<string, number> };
  /** The ids and RoPE axes the case's rope_cos / rope_sin inputs were made from. */
  rope?: { ids: Tensor; axes: number[]; text: number };
}
interface Tensor {
  dims: number[];
  dtype: "float32" | "int64";
  data: number[];
}

const probe = await new Deno.Command(PYTHON, { args: ["-c", "import torch, onnx, numpy"] })
  .output().catch(() => undefined);
const HAVE_TORCH = probe?.success === true;
if (!HAVE_TORCH) console.warn(`skipping the exporter tests: ${PYTHON} lacks torch/onnx/numpy`);

const out = await Deno.makeTempDir({ prefix: "flux-export-" });
const made = !HAVE_TORCH ? undefined : await new Deno.Command(PYTHON, {
  args: ["tools/export/check_export.py", out],
  stdout: "piped",
  stderr: "piped",
}).output();
if (made && !made.success) {
  throw new Error(`check_export.py failed:\n${new TextDecoder().decode(made.stderr).slice(-3000)}`);
}
const cases: Case[] = made ? JSON.parse(await Deno.readTextFile(`${out}/cases.json`)) as Case[] : [{
  name: "dev",
  model: "",
  fp16: false,
  data_files: [],
  inputs: {},
  expected: {},
}];

for (const c of cases) {
  Deno.test({
    name: c.fp16
      ? `the fp16 export runs (wasm EP) within 2% of the NumPy reference: ${c.name}`
      : `exported ${c.name} equals the NumPy reference within 1e-4`,
    ignore: !HAVE_TORCH,
  }, async () => {
    const { session, info } = await loadGraph(c.model, "wasm");
    try {
      assert.equal(info.dataFiles.length, c.data_files.length);
      const feeds: Record<string, { data: Float32Array | BigInt64Array; dims: number[] }> = {
        ...(c.conditioning ? await runConditioning(c.conditioning) : {}),
        ...feedsOf(c.inputs),
      };
      const got = await session.run(feeds);
      for (const [name, want] of Object.entries(c.expected)) {
        const g = got[name]!;
        assert.deepEqual(g.dims, want.dims, name);
        let worst = 0;
        let scale = 0;
        want.data.forEach((e, i) => {
          worst = Math.max(worst, Math.abs(g.data[i]! - e));
          scale = Math.max(scale, Math.abs(e));
        });
        assert.ok(scale > 0.1, `${name}: outputs too small to compare (${scale})`);
        const tol = c.fp16 ? 2e-2 * scale : 1e-4 * Math.max(1, scale);
        assert.ok(worst <= tol, `${name}: max |diff| ${worst} (max |ref| ${scale})`);
      }
      assert.equal(info.fp16, c.fp16);
      if (c.ops) assert.deepEqual(c.ops.counted, c.ops.expected, "operator counts");
      if (c.fp16) {
        await assert.rejects(planGraph(c.model, "webgpu", { shaderF16: false }), /no shader-f16/);
        assert.equal((await planGraph(c.model, "webgpu", { shaderF16: true })).fp16, true);
      }
    } finally {
      await session.release();
    }
  });
}

/** Host feeds of a case's tensors. */
function feedsOf(inputs: Record<string, Tensor>) {
  return Object.fromEntries(
    Object.entries(inputs).map(([k, v]) => [k, {
      data: v.dtype === "int64" ? BigInt64Array.from(v.data, BigInt) : new Float32Array(v.data),
      dims: v.dims,
    }]),
  );
}

/** A step graph's run conditioning: conditioning.onnx's outputs (context, vec) as feeds. */
async function runConditioning(cond: NonNullable<Case["conditioning"]>) {
  const { session } = await loadGraph(cond.model, "wasm");
  try {
    const out = await session.run(feedsOf(cond.inputs));
    return Object.fromEntries(
      Object.entries(out).map(([k, v]) => [k, { data: v.data, dims: v.dims }]),
    );
  } finally {
    await session.release();
  }
}

Deno.test({
  name: "fluxRope (the server's per-stage tables) equals flux_reference.py's RoPE, fractional ids",
  ignore: !HAVE_TORCH,
}, async () => {
  const { fluxRope } = await import("../../src/pipeline/flux_rope.ts");
  for (const c of cases.filter((c) => c.rope)) {
    const { cos, sin } = fluxRope(new Float32Array(c.rope!.ids.data), c.rope!.axes);
    for (const [got, want] of [[cos, c.inputs.rope_cos!], [sin, c.inputs.rope_sin!]] as const) {
      assert.equal(got.length, want.data.length);
      got.forEach((v, i) => assert.ok(Math.abs(v - want.data[i]!) < 1e-6, `${c.name}[${i}]`));
    }
  }
});

Deno.test({
  name: "the sharded case really spreads its weights over several data files",
  ignore: !HAVE_TORCH,
}, () => {
  const sharded = cases.find((c) => c.name === "sharded_bf16")!;
  assert.ok(sharded.data_files.length >= 3, `${sharded.data_files.length} files`);
  assert.ok(!("guidance" in cases.find((c) => c.name === "schnell")!.conditioning!.inputs));
  assert.ok("guidance" in cases.find((c) => c.name === "dev")!.conditioning!.inputs);
});

Deno.test({
  name: "resplit_data.py spreads one data file over several and the graph's output is unchanged",
  ignore: !HAVE_TORCH,
  ...{ sanitizeResources: false, sanitizeOps: false },
}, async () => {
  const src = "models/flux-tiny/transformer/model.onnx";
  const dst = `${out}/resplit/transformer/model.onnx`;
  await python("tools/export/resplit_data.py", src, dst, "--max-file-mb", "0.05");
  const before = await loadGraph(src, "wasm");
  const after = await loadGraph(dst, "wasm");
  assert.equal(before.info.dataFiles.length, 1);
  assert.ok(after.info.dataFiles.length >= 5, `${after.info.dataFiles.length} files`);
  const n = 4, L = 3;
  const f = (len: number, v: number) => new Float32Array(len).map((_, i) => Math.sin(i + v));
  // the miniature's step graph: width 32, heads of 16
  const feed = {
    hidden_states: { data: f(n * 64, 1), dims: [1, n, 64] },
    context: { data: f(L * 32, 2), dims: [1, L, 32] },
    vec: { data: f(32, 3), dims: [1, 32] },
    timestep: { data: new Float32Array([0.7]), dims: [1] },
    rope_cos: { data: f((L + n) * 16, 4), dims: [L + n, 16] },
    rope_sin: { data: f((L + n) * 16, 5), dims: [L + n, 16] },
  };
  const [a, b] = [await before.session.run(feed), await after.session.run(feed)];
  assert.ok(a.out_hidden_states!.data.some((v) => v !== 0));
  assert.deepEqual(b.out_hidden_states!.data, a.out_hidden_states!.data);
  await before.session.release();
  await after.session.release();
});

Deno.test({
  name: "a transformer whose output is spelled as BFL's exports spell it (latent) loads and runs",
  ignore: !HAVE_TORCH,
  ...{ sanitizeResources: false, sanitizeOps: false },
}, async () => {
  const root = `${out}/bfl-models`;
  const dir = `${root}/flux-bfl`;
  await Deno.mkdir(dir, { recursive: true });
  for await (const e of Deno.readDir("models/flux-tiny")) {
    if (e.name !== "transformer") {
      await Deno.symlink(`${Deno.cwd()}/models/flux-tiny/${e.name}`, `${dir}/${e.name}`);
    }
  }
  await Deno.mkdir(`${dir}/transformer`);
  for (
    const f of ["config.json", "model.onnx_data", "conditioning.onnx", "conditioning.onnx_data"]
  ) {
    await Deno.copyFile(`models/flux-tiny/transformer/${f}`, `${dir}/transformer/${f}`);
  }
  const rename = `
import onnx, sys
m = onnx.load(sys.argv[1], load_external_data=False)
for n in m.graph.node:
    n.output[:] = ["latent" if o == "out_hidden_states" else o for o in n.output]
m.graph.output[0].name = "latent"
onnx.save_model(m, sys.argv[2])`;
  await python(
    "-c",
    rename,
    "models/flux-tiny/transformer/model.onnx",
    `${dir}/transformer/model.onnx`,
  );
  const { loadModel } = await import("../../src/pipeline/model.ts");
  const { generateImage } = await import("../../src/pipeline/generate.ts");
  const model = await loadModel("flux-bfl", "wasm", "cpu", root);
  const img = await generateImage(model, {
    prompt: "a red circle",
    seed: 1,
    steps: 1,
    size: "256x256",
  }, {
    signal: new AbortController().signal,
  });
  assert.equal(img.width, 256);
  assert.equal(
    model.components.find((c) => c.component === "transformer")!.file,
    `${dir}/transformer/model.onnx`,
  );
  await model.release();
});

/** Operator counts of an ONNX graph (Python's onnx). */
async function opCounts(model: string): Promise<Record<string, number>> {
  return JSON.parse(
    await python(
      "-c",
      "import onnx, json, sys, collections; m = onnx.load(sys.argv[1], load_external_data=False); " +
        "print(json.dumps(collections.Counter(n.op_type for n in m.graph.node)))",
      model,
    ),
  );
}

Deno.test({
  name:
    "the exported transformer is fused: one op per norm and GELU chain of the plain export, with TeaCache's indicator beside it",
  ignore: !HAVE_TORCH,
}, async () => {
  const fused = await opCounts(cases.find((c) => c.name === "dev")!.model);
  const plain = await opCounts(cases.find((c) => c.name === "dev_unfused")!.model);
  const n = (o: Record<string, number>, op: string) => o[op] ?? 0;
  assert.ok(n(plain, "Tanh") > 0 && n(plain, "Sqrt") > 0, JSON.stringify(plain));
  assert.equal(n(fused, "FastGelu"), n(plain, "Tanh"), "every tanh GELU");
  assert.equal(
    n(fused, "LayerNormalization") + n(fused, "SimplifiedLayerNormalization"),
    n(plain, "Sqrt"),
    "every norm",
  );
  for (const op of ["Pow", "Sqrt", "Tanh", "ReduceMean"]) assert.equal(n(fused, op), 0, op);
  const dev = cases.find((c) => c.name === "dev")!;
  const { session } = await loadGraph(dev.model.replace(/model\.onnx$/, "indicator.onnx"), "wasm");
  try {
    assert.ok(session.inputNames.includes("prev_hidden_states"));
  } finally {
    await session.release();
  }
});

/** Max |output - expected| / max |expected| of case `c` run with some inputs replaced. */
async function relError(c: Case, replace: Record<string, Float32Array> = {}): Promise<number> {
  const { session } = await loadGraph(c.model, "wasm");
  try {
    const feeds = Object.fromEntries(
      Object.entries(c.inputs).map(([k, v]) => [k, {
        data: replace[k] ?? new Float32Array(v.data),
        dims: v.dims,
      }]),
    );
    const want = c.expected.out_hidden_states!;
    const got = (await session.run(feeds)).out_hidden_states!.data;
    let worst = 0, scale = 0;
    want.data.forEach((e, i) => {
      worst = Math.max(worst, Math.abs(got[i]! - e));
      scale = Math.max(scale, Math.abs(e));
    });
    return worst / scale;
  } finally {
    await session.release();
  }
}

Deno.test({
  name:
    "SD3 export tests can fail: tokens in FLUX's (c, dy, dx) order, (col, row) positions, no crop offset, rounded positions",
  ignore: !HAVE_TORCH,
}, async () => {
  const grid = cases.find((c) => c.name === "sd3_grid")!;
  const frac = cases.find((c) => c.name === "sd3_fractional")!;
  assert.ok(await relError(grid) < 1e-5);
  // (dy, dx, c) → (c, dy, dx): the lane order our sampler's tokens use
  const t = grid.inputs.hidden_states!;
  const C = 16;
  const swapped = new Float32Array(t.data.length);
  for (let tok = 0; tok < t.data.length / (4 * C); tok++) {
    for (let q = 0; q < 4; q++) {
      for (let c = 0; c < C; c++) {
        swapped[tok * 4 * C + c * 4 + q] = t.data[tok * 4 * C + q * C + c]!;
      }
    }
  }
  const pos = grid.inputs.positions!.data;
  const colRow = Float32Array.from(pos, (_, i) => pos[i ^ 1]!);
  const noCrop = Float32Array.from(pos, (v, i) => v - pos[i % 2]!);
  const fp = frac.inputs.positions!.data;
  const roundedPos = Float32Array.from(fp, Math.floor);
  for (
    const [what, err] of [
      ["token order", await relError(grid, { hidden_states: swapped })],
      ["(col, row)", await relError(grid, { positions: colRow })],
      ["no crop offset", await relError(grid, { positions: noCrop })],
      ["rounded positions", await relError(frac, { positions: roundedPos })],
    ] as const
  ) {
    assert.ok(err > 1e-3, `${what}: relative error ${err} would pass the 1e-4 bound`);
  }
});

Deno.test({
  name:
    "export_sd3 warns where a checkpoint's stored position table is not the sin-cos formula (not for BF16 rounding)",
  ignore: !HAVE_TORCH,
}, async () => {
  const w = JSON.parse(await Deno.readTextFile(`${out}/sd3_table.json`)) as Record<
    string,
    string[]
  >;
  assert.deepEqual(w.bf16, []);
  assert.deepEqual(w.fp32, []);
  assert.equal(w.tampered!.length, 1);
  assert.match(w.tampered![0]!, /at 1 of 9216 positions \(first at row 7, col 11/);
});

Deno.test({
  name: "cleanup",
  fn: async () => await Deno.remove(out, { recursive: true }),
  sanitizeResources: false,
});
