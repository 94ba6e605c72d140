// tools/export/mixed_precision.py: the miniature's fp16 graph keeps its sinusoid island in fp32
// (Sin / Cos and their arguments; Softmax opt-in) with fp32 inputs and outputs; the islands
// matter (the same graph all in fp16 is further from fp32 on the same inputs); an unfused norm
// is refused. (That fp16 exports match the NumPy reference within 2% is flux_export_test.ts.)
import assert from "node:assert/strict";
import { planGraph } from "../../src/onnx/load_graph.ts";
import { ortTest } from "../_helpers.ts";
import { HAVE_ONNX, outputOf, python, relDiff, TINY_DIMS } from "./_tiny.ts";

const DIR = "models/flux-tiny/transformer";

async function convert(out: string, ...extra: string[]) {
  return JSON.parse(
    await python("tools/export/mixed_precision.py", `${DIR}/model.onnx`, out, ...extra),
  );
}

Deno.test({
  name:
    "the fp16 miniature: fp16 weights, fp32 inputs and outputs, the sinusoid in fp32 (Softmax opt-in)",
  ignore: !HAVE_ONNX,
  ...ortTest,
}, async () => {
  const plan = await planGraph(`${DIR}/model_fp16.onnx`, "wasm");
  assert.ok(plan.fp16); // fp16 weights
  assert.equal(plan.halfInputs.size, 0); // fp32 inputs
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(`${DIR}/model.onnx_data`, `${dir}/model.onnx_data`);
    const mixed = await convert(`${dir}/mixed.onnx`);
    assert.equal(mixed.fp32_ops.Sin, 1);
    assert.equal(mixed.fp32_ops.Cos, 1);
    assert.equal(mixed.fp32_ops.Softmax, undefined); // opt-in (bench/softmax_fp16.py)
    assert.equal(mixed.clamped_weights, 0);
    const soft = await convert(`${dir}/soft.onnx`, "--islands", "sinusoid,softmax");
    assert.equal(soft.fp32_ops.Softmax, 2); // one attention per block
    assert.equal(soft.casts, mixed.casts + 4); // each Softmax's input and output
    const all = await convert(`${dir}/all.onnx`, "--islands", "");
    assert.deepEqual(all.fp32_ops, {});
    // the islands matter: against the fp32 graph, all-fp16 is further off than the mixed form
    // at a late timestep (the sinusoid's widest arguments)
    const output = (file: string) => outputOf(file, "wasm", TINY_DIMS, 1);
    const ref = await output(`${DIR}/model.onnx`);
    const eMixed = relDiff(await output(`${dir}/mixed.onnx`), ref);
    const eAll = relDiff(await output(`${dir}/all.onnx`), ref);
    console.log(
      `vs fp32 at t = 1: mixed ${eMixed.toExponential(2)}, all fp16 ${eAll.toExponential(2)}`,
    );
    assert.ok(eMixed < 2e-3, `mixed ${eMixed}`);
    assert.ok(eAll > 2 * eMixed, `all fp16 ${eAll} vs mixed ${eMixed}`);
    // what the exporter committed is this conversion of the fp32 graph
    assert.deepEqual(await output(`${DIR}/model_fp16.onnx`), await output(`${dir}/mixed.onnx`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "an unfused norm (ReduceMean) is refused: it would accumulate in fp16",
  ignore: !HAVE_ONNX,
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const make = `
import onnx
from onnx import helper, TensorProto as T
g = helper.make_graph([helper.make_node("ReduceMean", ["x"], ["y"], axes=[-1])], "g",
    [helper.make_tensor_value_info("x", T.FLOAT, [2, 4])], [helper.make_tensor_value_info("y", T.FLOAT, [2, 1])])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 16)]), "${dir}/plain.onnx")`;
    await python("-c", make);
    await assert.rejects(
      python("tools/export/mixed_precision.py", `${dir}/plain.onnx`, `${dir}/out.onnx`),
      /fp16 needs the fused norms/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
