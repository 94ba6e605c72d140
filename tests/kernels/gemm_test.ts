import assert from "node:assert/strict";
import { GpuContext } from "../../src/gpu/context.ts";
import { fromHalf, roundHalf, toHalf } from "../../src/gpu/half.ts";
import { Gemm, type GemmTile, tileProblem } from "../../src/kernels/gemm.ts";
import { type Epilogue, geluTanh, gemmCpu } from "../../src/kernels/gemm_cpu.ts";
import { assertClose, device, gpuTest, randomFloats } from "./_gpu.ts";

const ctx = device ? new GpuContext(device) : undefined;

/** Runs the GPU GEMM on host arrays; fp16 inputs are rounded by the upload, as stored. */
async function gpuGemm(
  g: Gemm,
  a: Float32Array,
  w: Float32Array,
  M: number,
  K: number,
  N: number,
  extra: { bias?: Float32Array; epilogue?: Epilogue; gate?: Float32Array; res?: Float32Array } = {},
): Promise<Float32Array> {
  const c = ctx!;
  const put = (x: Float32Array) => c.upload(g.half ? toHalf(x) : x, "t");
  const [ba, bw] = [put(a), put(w)];
  const bb = extra.bias && c.upload(extra.bias, "bias");
  const bg = extra.gate && c.upload(extra.gate, "gate");
  const br = extra.res && put(extra.res);
  const out = g.run(ba, bw, { M, K, N, bias: bb, gate: bg, res: br, epilogue: extra.epilogue });
  const raw = await c.read(out, g.bytes(M * N), Uint32Array);
  c.release(ba, bw, bb, bg, br, out);
  return g.half ? fromHalf(raw, M * N) : new Float32Array(raw.buffer);
}

/** Largest |gpu - ref| relative to the row's scale sqrt(K) (the size of a sum of K unit terms). */
function maxError(got: Float32Array, ref: Float32Array, K: number): number {
  let m = 0;
  for (let i = 0; i < got.length; i++) m = Math.max(m, Math.abs(got[i]! - ref[i]!));
  return m / Math.sqrt(K);
}

const TILES: GemmTile[] = [
  { wgX: 16, wgY: 16, tm: 4, tn: 4, tk: 16 },
  { wgX: 8, wgY: 8, tm: 8, tn: 8, tk: 8 },
  { wgX: 16, wgY: 4, tm: 2, tn: 2, tk: 4 },
];

Deno.test(
  "gemm fp32: equals the fp64 CPU reference on shapes that are not tile multiples, every tile",
  gpuTest,
  async () => {
    const shapes: [number, number, number][] = [[1, 2, 2], [37, 53, 29], [70, 130, 66], [
      129,
      7,
      131,
    ]];
    for (const tile of TILES) {
      const g = await Gemm.create(ctx!, { tile });
      for (const [M, K, N] of shapes) {
        const a = randomFloats(M * K, M + K), w = randomFloats(K * N, K * N);
        const got = await gpuGemm(g, a, w, M, K, N);
        // fp32 accumulation of K terms: within K ulp of the result's scale
        assertClose(
          got,
          gemmCpu(a, w, M, K, N),
          1e-6 * K,
          `${JSON.stringify(tile)} ${M}x${K}x${N}`,
        );
      }
      g.dispose();
    }
  },
);

Deno.test(
  "gemm epilogues: bias, GELU (tanh form) and the gated residual add match the reference",
  gpuTest,
  async () => {
    const [M, K, N] = [33, 40, 22];
    const a = randomFloats(M * K, 3), w = randomFloats(K * N, 4);
    const bias = randomFloats(N, 5), gate = randomFloats(N, 6), res = randomFloats(M * N, 7);
    const g = await Gemm.create(ctx!);
    for (const epilogue of ["none", "gelu", "residual"] as Epilogue[]) {
      const extra = { bias, epilogue, gate, res };
      const got = await gpuGemm(g, a, w, M, K, N, extra);
      assertClose(got, gemmCpu(a, w, M, K, N, extra), 1e-5 * K, epilogue);
    }
    // the epilogue is applied, not skipped: GELU differs from the plain product
    const plain = await gpuGemm(g, a, w, M, K, N, { bias });
    const gelu = await gpuGemm(g, a, w, M, K, N, { bias, epilogue: "gelu" });
    assert.ok(plain.some((v, i) => Math.abs(v - gelu[i]!) > 0.1));
    assert.ok(Math.abs(geluTanh(1) - 0.841192) < 1e-6); // the tanh form, not erf (0.841345)
    g.dispose();
  },
);

Deno.test(
  "gemm fp16: on fp16-rounded inputs within the stated bound of the fp64 reference",
  gpuTest,
  async () => {
    // Stated bound: inputs are stored in fp16 (the reference takes the same rounded values),
    // products summed in fp32, the result rounded to fp16 once: |err| <= 2^-11 |y| + 1e-6 K.
    for (const tile of TILES.slice(0, 2)) {
      const g = await Gemm.create(ctx!, { half: true, tile });
      for (
        const [M, K, N] of [[2, 2, 2], [37, 54, 30], [65, 258, 130]] as [number, number, number][]
      ) {
        const a = roundHalf(randomFloats(M * K, 11 + M)),
          w = roundHalf(randomFloats(K * N, 12 + N));
        const bias = roundHalf(randomFloats(N, 13));
        const got = await gpuGemm(g, a, w, M, K, N, { bias });
        const ref = gemmCpu(a, w, M, K, N, { bias });
        for (let i = 0; i < ref.length; i++) {
          const bound = 2 ** -11 * Math.abs(ref[i]!) + 1e-6 * K;
          assert.ok(
            Math.abs(got[i]! - ref[i]!) <= bound,
            `${M}x${K}x${N}[${i}]: ${got[i]} vs ${ref[i]}`,
          );
        }
        // and stored as halves, it is not the fp32 result: the rounding is visible
        assert.ok(maxError(got, ref, K) > 0);
      }
      g.dispose();
    }
  },
);

Deno.test(
  "gemm: odd K or N in fp16, and tiles past the limits, are refused with the reason",
  gpuTest,
  async () => {
    const g = await Gemm.create(ctx!, { half: true });
    const b = ctx!.empty(64, "x");
    assert.throws(() => g.run(b, b, { M: 2, K: 3, N: 2 }), /even K and N/);
    ctx!.release(b);
    g.dispose();
    const limits = device!.limits;
    assert.match(tileProblem({ wgX: 16, wgY: 16, tm: 4, tn: 3, tk: 16 }, limits)!, /even/);
    assert.match(tileProblem({ wgX: 64, wgY: 32, tm: 4, tn: 4, tk: 16 }, limits)!, /invocations/);
    assert.match(
      tileProblem({ wgX: 16, wgY: 16, tm: 8, tn: 8, tk: 64 }, limits)!,
      /workgroup memory/,
    );
    await assert.rejects(
      Gemm.create(ctx!, { tile: { wgX: 16, wgY: 16, tm: 9, tn: 4, tk: 16 } }),
      /tm 1\.\.8/,
    );
  },
);

Deno.test(
  "gemm refuses tensors past the device's binding limit, naming them",
  gpuTest,
  async () => {
    const limit = device!.limits.maxStorageBufferBindingSize;
    const g = await Gemm.create(ctx!);
    const b = ctx!.empty(64, "x");
    const rows = Math.ceil(limit / 4 / 1024) + 1; // A [rows, 1024] in fp32 is past the limit
    assert.throws(
      () => g.run(b, b, { M: rows, K: 1024, N: 2 }),
      /A is \d+ B, past this device's binding limit/,
    );
    ctx!.release(b);
    g.dispose();
  },
);

Deno.test(
  "gemm: an fp32 output from fp16 storage (a modulation vector) and a gate read at an offset",
  gpuTest,
  async () => {
    const c = ctx!;
    const [M, K, N] = [3, 18, 10];
    const a = roundHalf(randomFloats(M * K, 21)), w = roundHalf(randomFloats(K * N, 22));
    // fp16 inputs, fp32 out: not rounded to fp16 on the way out
    const g = await Gemm.create(c, { half: true, outF32: true });
    const [ba, bw] = [c.upload(toHalf(a), "a"), c.upload(toHalf(w), "w")];
    const out = g.run(ba, bw, { M, K, N });
    const got = new Float32Array((await c.read(out, M * N * 4, Uint32Array)).buffer);
    const ref = gemmCpu(a, w, M, K, N);
    assertClose(got, ref, 1e-6 * K, "fp32 out");
    assert.ok(got.some((v, i) => v !== roundHalf(Float32Array.of(ref[i]!))[0]), "not fp16-rounded");
    c.release(ba, bw, out);
    g.dispose();
    // residual with its gate at offset 7 of a longer vector
    const f = await Gemm.create(c);
    const gates = randomFloats(7 + N, 23), res = randomFloats(M * N, 24);
    const [fa, fw, fg, fr] = [
      c.upload(a, "a"),
      c.upload(w, "w"),
      c.upload(gates, "g"),
      c.upload(res, "r"),
    ];
    const y = f.run(fa, fw, { M, K, N, epilogue: "residual", gate: fg, res: fr, gateOffset: 7 });
    const yGot = new Float32Array((await c.read(y, M * N * 4, Uint32Array)).buffer);
    const want = gemmCpu(a, w, M, K, N, { epilogue: "residual", gate: gates.subarray(7), res });
    assertClose(yGot, want, 1e-5 * K, "gate offset");
    const atZero = gemmCpu(a, w, M, K, N, { epilogue: "residual", gate: gates, res });
    assert.ok(yGot.some((v, i) => Math.abs(v - atZero[i]!) > 1e-3), "the offset is applied");
    c.release(fa, fw, fg, fr, y);
    f.dispose();
  },
);
