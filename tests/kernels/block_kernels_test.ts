// The FLUX double block's own kernels (not on the serving path): the adaLN-modulated LayerNorm
// and the q/k RMS norm + RoPE + joint-sequence placement, each against its fp64 CPU reference on
// llvmpipe, fp32 and fp16 storage, row widths that are not multiples of the workgroup.
import assert from "node:assert/strict";
import { GpuContext } from "../../src/gpu/context.ts";
import { fromHalf, roundHalf, toHalf } from "../../src/gpu/half.ts";
import { LnModulate } from "../../src/kernels/ln_modulate.ts";
import { lnModulateCpu } from "../../src/kernels/ln_modulate_cpu.ts";
import { QkRope } from "../../src/kernels/qk_rope.ts";
import { qkRopeCpu } from "../../src/kernels/qk_rope_cpu.ts";
import { assertClose, device, gpuTest, randomFloats } from "./_gpu.ts";

const ctx = device ? new GpuContext(device) : undefined;

async function readStored(buf: GPUBuffer, n: number, half: boolean): Promise<Float32Array> {
  const raw = await ctx!.read(buf, half ? Math.ceil(n / 2) * 4 : n * 4, Uint32Array);
  return half ? fromHalf(raw, n) : new Float32Array(raw.buffer);
}

Deno.test(
  "ln_modulate: LayerNorm, then (1 + scale) and shift from offsets of a modulation vector",
  gpuTest,
  async () => {
    const c = ctx!;
    for (const half of [false, true]) {
      const ln = await LnModulate.create(c, { half });
      for (const [rows, cols] of [[1, 2], [5, 70], [3, 1030]] as [number, number][]) {
        // an offset mean and a wide spread: the centred variance matters
        const x0 = randomFloats(rows * cols, rows + cols).map((v, i) => 3 + 4 * v + (i % 7));
        const x = half ? roundHalf(x0) : x0;
        const mods = randomFloats(6 * cols, cols);
        const [bx, bm] = [c.upload(half ? toHalf(x) : x, "x"), c.upload(mods, "mods")];
        const out = ln.run(bx, bm, { rows, cols, shiftOff: 3 * cols, scaleOff: 4 * cols });
        const got = await readStored(out, rows * cols, half);
        const ref = lnModulateCpu(x, rows, cols, mods, 3 * cols, 4 * cols);
        // fp32: statistics over cols terms; fp16: one rounding of a value of size ~4 (2^-11 4)
        assertClose(got, ref, half ? 3e-3 : 1e-5, `${half ? "fp16" : "fp32"} ${rows}x${cols}`);
        // the offsets are read: shift and scale from elsewhere give another result
        const other = lnModulateCpu(x, rows, cols, mods, 0, cols);
        assert.ok(got.some((v, i) => Math.abs(v - other[i]!) > 0.05));
        c.release(bx, bm, out);
      }
    }
  },
);

Deno.test(
  "qk_rope: per-head RMS norm of q and k, RoPE from the tables, v copied, at the stream's rows",
  gpuTest,
  async () => {
    const c = ctx!;
    const [S, H, D, rowOff] = [7, 3, 10, 4]; // a 4-token stream before it in the joint sequence
    const rows = rowOff + S + 2, HD = H * D;
    for (const half of [false, true]) {
      const prep = await QkRope.create(c, { half });
      const raw = randomFloats(S * 3 * HD, 41).map((v) => 2 * v);
      const qkv = half ? roundHalf(raw) : raw;
      const wq = randomFloats(D, 42), wk = randomFloats(D, 43);
      const ang = randomFloats(rows * D, 44).map((v) => 3 * v);
      const cos = ang.map(Math.cos), sin = ang.map(Math.sin);
      const store = (x: Float32Array) => c.upload(half ? toHalf(x) : x, "t");
      const bytes = rows * HD * (half ? 2 : 4);
      const out = { q: c.empty(bytes, "q"), k: c.empty(bytes, "k"), v: c.empty(bytes, "v") };
      const ins = [
        store(qkv),
        c.upload(wq, "wq"),
        c.upload(wk, "wk"),
        c.upload(cos, "c"),
        c.upload(sin, "s"),
      ];
      prep.run(ins[0]!, ins[1]!, ins[2]!, ins[3]!, ins[4]!, out, { S, H, D, rowOff });
      const want = {
        q: new Float32Array(rows * HD),
        k: new Float32Array(rows * HD),
        v: new Float32Array(rows * HD),
      };
      qkRopeCpu(qkv, { S, H, D, rowOff }, wq, wk, cos, sin, want);
      for (const name of ["q", "k", "v"] as const) {
        const got = await readStored(out[name], rows * HD, half);
        // only the stream's rows are written; the others stay as they were (zeros here)
        assert.ok(got.subarray(0, rowOff * HD).every((v) => v === 0), `${name}: rows before`);
        assertClose(got, want[name], half ? 2e-3 : 1e-5, `${half ? "fp16" : "fp32"} ${name}`);
      }
      c.release(...ins, out.q, out.k, out.v);
    }
  },
);

Deno.test(
  "reorder_lanes: our (c, dy, dx) tokens to SD3's (dy, dx, c) and back, as reorderLanes",
  gpuTest,
  async () => {
    const { ReorderLanes } = await import("../../src/kernels/reorder_lanes.ts");
    const { reorderLanes } = await import("../../src/pipeline/sd3.ts");
    const c = ctx!;
    const k = await ReorderLanes.create(c);
    const C = 16, n = 37;
    const x = randomFloats(n * 4 * C, 51);
    const bx = c.upload(x, "x");
    const theirs = k.run(bx, C, x.length);
    const back = k.run(theirs, C, x.length, true);
    assert.deepEqual(await c.readFloats(theirs, x.length), reorderLanes(x, C));
    assert.deepEqual(await c.readFloats(back, x.length), x);
    c.release(bx, theirs, back);
  },
);

const timestamps = (await navigator.gpu?.requestAdapter())?.features.has("timestamp-query");

Deno.test({
  name: "profiling: a timestamp pair per dispatch, labelled by kernel, none past the capacity",
  ...gpuTest,
  ignore: gpuTest.ignore || !timestamps,
}, async () => {
  const adapter = (await navigator.gpu.requestAdapter())!;
  const dev = await adapter.requestDevice({ requiredFeatures: ["timestamp-query"] });
  const c = new GpuContext(dev);
  const ln = await LnModulate.create(c);
  const [rows, cols] = [64, 1024];
  const x = c.upload(randomFloats(rows * cols, 61), "x"),
    mods = c.upload(randomFloats(2 * cols, 62), "m");
  assert.ok(c.startProfile(2));
  const enc = dev.createCommandEncoder();
  for (let i = 0; i < 3; i++) ln.run(x, mods, { rows, cols, shiftOff: 0, scaleOff: cols }, enc);
  dev.queue.submit([enc.finish()]);
  const prof = await c.endProfile();
  assert.deepEqual(prof.map((p) => p.kernel), ["ln_modulate", "ln_modulate"]);
  for (const p of prof) assert.ok(p.ms > 0 && p.ms < 10_000, `${p.ms} ms`);
  // without a profile nothing is recorded
  assert.deepEqual(await c.endProfile(), []);
  dev.destroy();
});
