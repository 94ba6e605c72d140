import assert from "node:assert/strict";
import { GpuContext } from "../../src/gpu/context.ts";
import { fromHalf, roundHalf, toHalf } from "../../src/gpu/half.ts";
import {
  Attention,
  type AttentionTile,
  attentionTileProblem,
} from "../../src/kernels/attention.ts";
import { attentionCpu, type AttentionShape } from "../../src/kernels/attention_cpu.ts";
import { assertClose, device, gpuTest, randomFloats } from "./_gpu.ts";

const ctx = device ? new GpuContext(device) : undefined;

async function gpuAttention(
  att: Attention,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  s: AttentionShape,
): Promise<Float32Array> {
  const c = ctx!;
  const put = (x: Float32Array) => c.upload(att.half ? toHalf(x) : x, "t");
  const [bq, bk, bv] = [put(q), put(k), put(v)];
  const out = att.run(bq, bk, bv, s);
  const n = s.B * s.S * s.H * s.D;
  const raw = await c.read(out, att.bytes(s.B, s.S, s.H), Uint32Array);
  c.release(bq, bk, bv, out);
  return att.half ? fromHalf(raw, n) : new Float32Array(raw.buffer);
}

function inputs(s: AttentionShape, seed: number, gain = 1) {
  const n = s.B * s.S * s.H * s.D;
  const scaled = (x: Float32Array) => x.map((v) => v * gain);
  return [
    scaled(randomFloats(n, seed)),
    scaled(randomFloats(n, seed + 1)),
    randomFloats(n, seed + 2),
  ];
}

Deno.test(
  "attention fp32: equals the materialised-softmax reference; S not a multiple of either tile",
  gpuTest,
  async () => {
    const cases: [AttentionShape, AttentionTile][] = [
      [{ B: 1, S: 1, H: 1, D: 16 }, { bq: 16, tpr: 4, bk: 8 }],
      [{ B: 2, S: 37, H: 3, D: 16 }, { bq: 16, tpr: 4, bk: 8 }],
      [{ B: 1, S: 70, H: 2, D: 32 }, { bq: 8, tpr: 2, bk: 5 }],
      [{ B: 1, S: 45, H: 2, D: 128 }, { bq: 16, tpr: 4, bk: 8 }],
    ];
    for (const [s, tile] of cases) {
      const att = await Attention.create(ctx!, { headDim: s.D, tile });
      const [q, k, v] = inputs(s, s.S + s.D);
      assertClose(
        await gpuAttention(att, q!, k!, v!, s),
        attentionCpu(q!, k!, v!, s),
        2e-5,
        JSON.stringify(s),
      );
    }
  },
);

Deno.test(
  "attention: scores far past exp's range stay finite and exact (the online softmax rescales)",
  gpuTest,
  async () => {
    // |q·k| up to ~ D · 30² / sqrt(D): exp of it overflows fp32 without the running maximum
    const s = { B: 1, S: 29, H: 1, D: 32 };
    const att = await Attention.create(ctx!, { headDim: 32, tile: { bq: 8, tpr: 4, bk: 4 } });
    const [q, k, v] = inputs(s, 5, 30);
    const got = await gpuAttention(att, q!, k!, v!, s);
    assert.ok(got.every(Number.isFinite));
    assertClose(got, attentionCpu(q!, k!, v!, s), 1e-4, "large scores");
  },
);

Deno.test(
  "attention fp16: on fp16-rounded inputs within the stated bound of the reference",
  gpuTest,
  async () => {
    // Stated bound: q, k, v stored in fp16 (the reference takes the same rounded values), all
    // arithmetic in fp32, the output rounded to fp16 once: |err| <= 2^-11 |y| + 1e-5.
    const s = { B: 1, S: 53, H: 2, D: 64 };
    const att = await Attention.create(ctx!, { half: true, headDim: 64 });
    const [q, k, v] = inputs(s, 9).map(roundHalf);
    const got = await gpuAttention(att, q!, k!, v!, s);
    const ref = attentionCpu(q!, k!, v!, s);
    for (let i = 0; i < ref.length; i++) {
      const bound = 2 ** -11 * Math.abs(ref[i]!) + 1e-5;
      assert.ok(Math.abs(got[i]! - ref[i]!) <= bound, `[${i}]: ${got[i]} vs ${ref[i]}`);
    }
  },
);

Deno.test(
  "attention: tilings that cannot run, and tensors past the binding limit, are refused with the reason",
  gpuTest,
  async () => {
    const limits = device!.limits;
    assert.match(attentionTileProblem({ bq: 16, tpr: 3, bk: 8 }, 128, limits)!, /D \/ tpr/);
    assert.match(attentionTileProblem({ bq: 16, tpr: 1, bk: 8 }, 128, limits)!, /<= 64/);
    assert.match(
      attentionTileProblem({ bq: 16, tpr: 4, bk: 64 }, 128, limits)!,
      /workgroup memory/,
    );
    const att = await Attention.create(ctx!, { headDim: 16 });
    const b = ctx!.empty(64, "x");
    const S = Math.ceil(device!.limits.maxStorageBufferBindingSize / 64) + 1; // [1, S, 1, 16] fp32
    assert.throws(() => att.run(b, b, b, { B: 1, S, H: 1 }), /past this device's binding limit/);
    ctx!.release(b);
    await assert.rejects(
      Attention.create(ctx!, { headDim: 128, tile: { bq: 16, tpr: 4, bk: 0 } }),
      /bk/,
    );
  },
);
