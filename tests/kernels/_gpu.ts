/**
 * One shared GPU for kernel tests, the skip flag when there is none, and each shader
 * wrapper in array form (upload, run, read back, release) to compare with its CPU reference.
 */
import { kernelDevice } from "../../src/gpu/device.ts";
import type { Typed } from "../../src/gpu/context.ts";
import { GpuOps } from "../../src/kernels/gpu_ops.ts";
import type { GrayMode } from "../../src/kernels/canny_cpu.ts";
import type { Anchor, NoiseParams } from "../../src/kernels/noise_cpu.ts";
import type { DownsampleMode } from "../../src/kernels/pack_cpu.ts";
import type { Repacked } from "../../src/kernels/repack_cpu.ts";
import type { DeviceRepacked } from "../../src/kernels/repack_stage2.ts";
import { checkTopkSize } from "../../src/kernels/topk.ts";

export const device = await kernelDevice("wasm");
export const noGpu = !device;

class ArrayForms {
  constructor(readonly ops: GpuOps) {}
  get pool() {
    return this.ops.pool;
  }
  get readbacks() {
    return this.ops.readbacks;
  }
  /** Uploads `inputs`, runs `fn` on them, reads its output as `ctor`, releases everything. */
  async #with<T extends Typed>(
    inputs: Typed[],
    fn: (...b: GPUBuffer[]) => GPUBuffer | Promise<GPUBuffer>,
    bytes: number,
    ctor: { new (b: ArrayBuffer): T },
  ): Promise<T> {
    const c = this.ops.ctx;
    const bufs = inputs.map((x, i) => c.upload(x, `in ${i}`));
    const out = await fn(...bufs);
    const r = await c.read(out, bytes, ctor);
    c.release(...bufs, ...(bufs.includes(out) ? [] : [out]));
    return r;
  }
  #f(inputs: Typed[], fn: (...b: GPUBuffer[]) => GPUBuffer | Promise<GPUBuffer>, n: number) {
    return this.#with(inputs, fn, n * 4, Float32Array);
  }
  gaussian(seed: number, stream: number, start: number, count: number) {
    return this.#f([], () => this.ops.k.gaussian.run(seed, stream, start, count), count);
  }
  eulerStep(x: Float32Array, v: Float32Array, dt: number) {
    return this.#f(
      [x, v],
      (bx, bv) => (this.ops.k.euler.run(bx!, bv!, dt, x.length), bx!),
      x.length,
    );
  }
  cleanEstimate(x: Float32Array, v: Float32Array, sigma: number) {
    return this.#f(
      [x, v],
      (bx, bv) => this.ops.k.cleanEstimate.run(bx!, bv!, sigma, x.length),
      x.length,
    );
  }
  affine(x: Float32Array, a: number, b: number) {
    return this.#f([x], (bx) => this.ops.k.affine.run(bx!, a, b, x.length), x.length);
  }
  cfgCombine(batch: Float32Array, g: number) {
    return this.#f(
      [batch],
      (b) => this.ops.k.cfgCombine.run(b!, g, batch.length / 2),
      batch.length / 2,
    );
  }
  pack(l: Float32Array, c: number, h: number, w: number) {
    return this.#f([l], (b) => this.ops.k.pack.run(b!, c, h, w), l.length);
  }
  unpack(t: Float32Array, c: number, h: number, w: number) {
    return this.#f([t], (b) => this.ops.k.unpack.run(b!, c, h, w), t.length);
  }
  downsample2x(l: Float32Array, c: number, h: number, w: number, mode: DownsampleMode = "nearest") {
    return this.#f([l], (b) => this.ops.k.downsample.run(b!, c, h, w, mode), l.length / 4);
  }
  avgPool2x(l: Float32Array, c: number, h: number, w: number) {
    return this.#f([l], (b) => this.ops.k.downsample.run(b!, c, h, w, "mean"), l.length / 4);
  }
  upsample2x(l: Float32Array, c: number, h: number, w: number) {
    return this.#f([l], (b) => this.ops.k.upsample.run(b!, c, h, w), l.length * 4);
  }
  gray(image: Float32Array, w: number, h: number, mode: GrayMode) {
    return this.#with([image], (b) => this.ops.k.gray.run(b!, w, h, mode), w * h * 4, Uint32Array);
  }
  async canny(image: Float32Array, w: number, h: number, mode: GrayMode) {
    const c = this.ops.ctx, b = c.upload(image, "image");
    const cls = await this.ops.canny(b, w, h, mode);
    const edges = await this.ops.readEdges(cls, w * h);
    c.release(b, cls);
    return edges;
  }
  cannyGray(gray: Uint8Array, w: number, h: number) {
    return this.ops.cannyHostGray(gray, w, h);
  }
  edgeScores(edges: Uint8Array, w: number, h: number, fp: number) {
    const cls = Uint32Array.from(edges, (v) => (v ? 2 : 0));
    return this.#with(
      [cls],
      (b) => this.ops.k.edgeScore.run(b!, w, h, fp),
      (w / fp) * (h / fp) * 4,
      Uint32Array,
    );
  }
  topk(scores: Uint32Array, k: number) {
    checkTopkSize(scores.length); // before the upload, so a refusal leaves nothing held
    return this.#with(
      [scores],
      (b) => this.ops.k.topk.run(b!, scores.length, k),
      scores.byteLength,
      Uint32Array,
    );
  }
  async #readRepacked(r: DeviceRepacked, dim: number): Promise<Repacked> {
    const c = this.ops.ctx;
    const out = {
      tokens: await c.read(r.tokens, r.count * dim * 4, Float32Array),
      ids: await c.read(r.ids, r.count * 12, Float32Array),
      groups: await c.read(r.groups, r.count * 16, Int32Array),
      count: r.count,
      lowCount: r.lowCount,
    };
    c.release(r.tokens, r.ids, r.groups);
    return out;
  }
  async repackStage2(tokens: Float32Array, ids: Float32Array, mask: Uint32Array, dim: number) {
    const c = this.ops.ctx;
    const sel = mask.reduce((a, m) => a + (m ? 1 : 0), 0);
    const b = [c.upload(tokens, "tokens"), c.upload(ids, "ids"), c.upload(mask, "mask")] as const;
    const r = this.ops.k.repackStage2.run(b[0], b[1], b[2], mask.length, sel, dim);
    c.release(...b);
    return await this.#readRepacked(r, dim);
  }
  async expandStage3(
    t: Float32Array,
    ids: Float32Array,
    low: number,
    dim: number,
    cols: number,
    rows: number,
  ) {
    const c = this.ops.ctx;
    const b = [c.upload(t, "tokens"), c.upload(ids, "ids")] as const;
    const r = this.ops.k.repackStage3.run(b[0], b[1], ids.length / 3, low, dim, cols, rows);
    c.release(...b);
    return await this.#readRepacked(r, dim);
  }
  async injectNoise(
    x: Float32Array,
    groups: Int32Array,
    dim: number,
    p: NoiseParams,
    anchor?: Anchor,
  ) {
    const c = this.ops.ctx;
    const bx = c.upload(x, "x"), bg = c.upload(groups, "groups");
    const ba = anchor &&
      { values: c.upload(anchor.values, "anchor"), of: c.upload(anchor.of, "anchor of") };
    this.ops.k.noise.inject(bx, bg, groups.length / 4, dim, p, ba);
    x.set(await c.read(bx, x.byteLength, Float32Array));
    c.release(bx, bg, ba?.values, ba?.of);
  }
  async previewRgba(latent: Float32Array, weights: number[][], c: number, h: number, w: number) {
    const r = await this.#with(
      [latent, Float32Array.from(weights.flat())],
      (bl, bw) => this.ops.k.preview.run(bl!, bw!, c, h, w),
      h * w * 4,
      Uint32Array,
    );
    return new Uint8Array(r.buffer);
  }
}

export const gpu = device ? new ArrayForms(await GpuOps.create(device)) : undefined;
export const gpuTest = { ignore: noGpu, sanitizeResources: false, sanitizeOps: false } as const;

/** Deterministic pseudo-random floats in [-1, 1) (not the code under test). */
export function randomFloats(n: number, seed = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

export function assertClose(
  actual: Float32Array,
  expected: Float32Array,
  rel = 1e-5,
  label = "",
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${label}: length ${actual.length} != ${expected.length}`);
  }
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (!(Math.abs(a - e) <= rel * Math.max(1, Math.abs(e)))) {
      throw new Error(`${label}[${i}]: ${a} != ${e}`);
    }
  }
}
