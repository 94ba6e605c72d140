// The FLUX double block assembled from our WGSL kernels (src/kernels/double_block.ts; not on the
// serving path) against an independent computation: tools/export/flux_reference.py's double
// block (NumPy, float64, written from diffusers' source), random weights, fractional image ids,
// token counts that are not tile multiples — on llvmpipe, fp32 and fp16 storage.
import assert from "node:assert/strict";
import { GpuContext } from "../../src/gpu/context.ts";
import { fromHalf, toHalf } from "../../src/gpu/half.ts";
import { DoubleBlock, type StreamWeights } from "../../src/kernels/double_block.ts";
import { device, gpuTest } from "./_gpu.ts";

const PYTHON = "/usr/bin/python3";
const probe = await new Deno.Command(PYTHON, { args: ["-c", "import numpy"] }).output()
  .catch(() => undefined);
const HAVE_NUMPY = probe?.success === true;

interface Case {
  dim: number;
  heads: number;
  st: number;
  si: number;
  weights: Record<string, { shape: number[]; data: number[] }>;
  x: number[];
  c: number[];
  silu_temb: number[];
  cos: number[];
  sin: number[];
  img: number[];
  txt: number[];
}

async function makeCase(): Promise<Case> {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  const r = await new Deno.Command(PYTHON, {
    args: [
      "tools/fixtures/flux_block_case.py",
      path,
      "--dim",
      "64",
      "--heads",
      "2",
      "--st",
      "5",
      "--si",
      "19",
    ],
    stderr: "piped",
  }).output();
  assert.ok(r.success, new TextDecoder().decode(r.stderr));
  const c = JSON.parse(await Deno.readTextFile(path)) as Case;
  await Deno.remove(path);
  return c;
}

/** torch's [out, in] matrices side by side as one [in, sum of outs] (ours: x · W). */
function inOut(c: Case, names: string[]): Float32Array {
  const mats = names.map((n) => c.weights[`${n}.weight`]!);
  const inDim = mats[0]!.shape[1]!, total = mats.reduce((a, m) => a + m.shape[0]!, 0);
  const w = new Float32Array(inDim * total);
  let col = 0;
  for (const m of mats) {
    const out = m.shape[0]!;
    for (let o = 0; o < out; o++) {
      for (let i = 0; i < inDim; i++) w[i * total + col + o] = m.data[o * inDim + i]!;
    }
    col += out;
  }
  return w;
}

const biases = (c: Case, names: string[]) =>
  Float32Array.from(names.flatMap((n) => c.weights[`${n}.bias`]!.data));

function relError(got: Float32Array, want: number[]): number {
  let worst = 0, scale = 0;
  want.forEach((e, i) => {
    worst = Math.max(worst, Math.abs(got[i]! - e));
    scale = Math.max(scale, Math.abs(e));
  });
  return worst / scale;
}

Deno.test({
  name: "FLUX double block from our kernels equals flux_reference.py's (fp32 1e-4, fp16 2e-2)",
  ...gpuTest,
  ignore: gpuTest.ignore || !HAVE_NUMPY,
}, async () => {
  const c = await makeCase();
  const gpu = new GpuContext(device!);
  for (const half of [false, true]) {
    const store = (x: Float32Array | number[]) => {
      const f = Float32Array.from(x);
      return gpu.upload(half ? toHalf(f) : f, "t");
    };
    const f32 = (x: Float32Array | number[]) => gpu.upload(Float32Array.from(x), "f32");
    const stream = (a: Record<string, string>): StreamWeights => {
      const qkv = [a.q!, a.k!, a.v!];
      return {
        mod: store(inOut(c, [a.mod!])),
        modBias: f32(biases(c, [a.mod!])),
        qkv: store(inOut(c, qkv)),
        qkvBias: f32(biases(c, qkv)),
        normQ: f32(c.weights[`${a.nq}.weight`]!.data),
        normK: f32(c.weights[`${a.nk}.weight`]!.data),
        out: store(inOut(c, [a.out!])),
        outBias: f32(biases(c, [a.out!])),
        ff1: store(inOut(c, [`${a.ff}.net.0.proj`])),
        ff1Bias: f32(biases(c, [`${a.ff}.net.0.proj`])),
        ff2: store(inOut(c, [`${a.ff}.net.2`])),
        ff2Bias: f32(biases(c, [`${a.ff}.net.2`])),
      };
    };
    const weights = {
      img: stream({
        mod: "norm1.linear",
        q: "attn.to_q",
        k: "attn.to_k",
        v: "attn.to_v",
        nq: "attn.norm_q",
        nk: "attn.norm_k",
        out: "attn.to_out.0",
        ff: "ff",
      }),
      txt: stream({
        mod: "norm1_context.linear",
        q: "attn.add_q_proj",
        k: "attn.add_k_proj",
        v: "attn.add_v_proj",
        nq: "attn.norm_added_q",
        nk: "attn.norm_added_k",
        out: "attn.to_add_out",
        ff: "ff_context",
      }),
    };
    const block = await DoubleBlock.create(gpu, { half, dim: c.dim, heads: c.heads });
    const inputs = {
      img: store(c.x),
      txt: store(c.c),
      siluTemb: store(c.silu_temb),
      cos: f32(c.cos),
      sin: f32(c.sin),
    };
    const out = block.run(weights, inputs, { Si: c.si, St: c.st });
    const read = async (b: GPUBuffer, n: number) => {
      const raw = await gpu.read(b, block.bytes(n) + (half && n % 2 ? 2 : 0), Uint32Array);
      return half ? fromHalf(raw, n) : new Float32Array(raw.buffer, 0, n);
    };
    const img = await read(out.img, c.si * c.dim), txt = await read(out.txt, c.st * c.dim);
    const tol = half ? 2e-2 : 1e-4;
    const [ei, et] = [relError(img, c.img), relError(txt, c.txt)];
    assert.ok(ei < tol && et < tol, `${half ? "fp16" : "fp32"}: image ${ei}, text ${et}`);
    // the block changed its inputs: an identity or a dropped residual would not be this close
    assert.ok(relError(img, c.x) > 0.1 && relError(txt, c.c) > 0.1);
    gpu.release(out.img, out.txt, ...out.scratch);
    block.dispose();
  }
});
