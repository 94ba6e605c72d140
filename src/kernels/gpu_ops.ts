/**
 * WebGPU wrappers of every shader in `shaders/`: device forms on pooled buffers (what
 * `src/samplers/gpu_backend.ts` runs), and array forms that upload, run and read back
 * (tests and the `edges` tool). The CPU references in `src/kernels/*_cpu.ts` define the
 * expected results.
 *
 * @example
 * ```ts ignore
 * const gpu = await GpuOps.create(device);
 * const edges = await gpu.canny(image, 64, 64, "ours");
 * gpu.dispose();
 * ```
 */
import { BufferPool } from "../gpu/buffer_pool.ts";
import { type Field, Kernel, packParams } from "../gpu/kernel.ts";
import type { GrayMode } from "./canny_cpu.ts";
import type { Repacked } from "./repack_cpu.ts";
import { type Anchor, groupCoefficient, type NoiseParams } from "./noise_cpu.ts";
import type { DownsampleMode } from "./pack_cpu.ts";
import { seedKey } from "./philox_cpu.ts";

const S = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
const WG = 64;
const SHADERS = [
  "gaussian",
  "noise",
  "euler",
  "clean_estimate",
  "pack",
  "unpack",
  "downsample",
  "upsample",
  "gray",
  "canny_sobel",
  "canny_nms",
  "canny_hysteresis",
  "edge_score",
  "topk",
  "repack_stage2",
  "repack_stage3",
  "preview",
  "cfg_combine",
  "affine",
] as const;
type ShaderName = typeof SHADERS[number];
type LatentOp = "pack" | "unpack" | "downsample" | "upsample";
type Typed = Float32Array | Uint32Array | Int32Array;
type Ctor<T extends Typed> = { new (b: ArrayBuffer): T };

/** A repacked sequence left on the device: pooled buffers the caller releases. */
export interface DeviceRepacked {
  tokens: GPUBuffer;
  ids: GPUBuffer;
  groups: GPUBuffer;
  count: number;
  lowCount: number;
}

/** The most scores shaders/topk.wgsl ranks in its one workgroup. */
const MAX_TOPK = 16384;

function checkTopkSize(n: number): void {
  if (n > MAX_TOPK) throw new RangeError(`top-k handles up to ${MAX_TOPK} scores, got ${n}`);
}

/** Hysteresis sweeps recorded between checks of the `changed` flag. */
const SWEEPS_PER_CHECK = 8;

export class GpuOps {
  readonly name = "webgpu";
  readonly pool: BufferPool;
  /** Labels of the buffers read back to the CPU, in order (what crossed, for tests). */
  readonly readbacks: string[] = [];
  #uniforms: GPUBuffer[] = [];

  private constructor(
    readonly device: GPUDevice,
    private readonly kernels: Map<ShaderName, Kernel>,
  ) {
    this.pool = new BufferPool(device);
  }

  static async create(device: GPUDevice): Promise<GpuOps> {
    const kernels = new Map<ShaderName, Kernel>();
    for (const name of SHADERS) kernels.set(name, await Kernel.load(device, name));
    return new GpuOps(device, kernels);
  }

  // --- plumbing -------------------------------------------------------------------------

  #upload(data: Typed, label: string): GPUBuffer {
    const buf = this.pool.acquire(Math.max(4, data.byteLength), S, label);
    this.device.queue.writeBuffer(
      buf,
      0,
      data.buffer as ArrayBuffer,
      data.byteOffset,
      data.byteLength,
    );
    return buf;
  }

  #empty(bytes: number, label: string): GPUBuffer {
    return this.pool.acquire(Math.max(4, bytes), S, label);
  }

  #params(fields: Field[]): GPUBuffer {
    const data = packParams(fields);
    const buf = this.device.createBuffer({
      label: "params",
      size: data.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.device.queue.writeBuffer(buf, 0, data);
    this.#uniforms.push(buf);
    return buf;
  }

  #run(
    name: ShaderName,
    buffers: GPUBuffer[],
    fields: Field[],
    groups: number,
    encoder?: GPUCommandEncoder,
  ): void {
    const enc = encoder ?? this.device.createCommandEncoder({ label: name });
    this.kernels.get(name)!.dispatch(enc, buffers, this.#params(fields), [groups]);
    if (!encoder) this.device.queue.submit([enc.finish()]);
  }

  async #read<T extends Typed>(buf: GPUBuffer, bytes: number, ctor: Ctor<T>): Promise<T> {
    this.readbacks.push(this.pool.nameOf(buf));
    const staging = this.pool.acquire(
      Math.max(4, bytes),
      GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      "readback",
    );
    const enc = this.device.createCommandEncoder({ label: "readback" });
    enc.copyBufferToBuffer(buf, 0, staging, 0, Math.max(4, Math.ceil(bytes / 4) * 4));
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ, 0, staging.size);
    const out = new ctor(staging.getMappedRange(0, staging.size).slice(0, bytes));
    staging.unmap();
    this.pool.release(staging);
    this.#flushUniforms();
    return out;
  }

  #flushUniforms(): void {
    for (const u of this.#uniforms) u.destroy();
    this.#uniforms = [];
  }

  #done(...bufs: GPUBuffer[]): void {
    for (const b of bufs) this.pool.release(b);
  }

  // --- device-resident steps (the WebGPU EP's denoising loop) ----------------------------

  /** A pooled storage buffer holding `data`; give it back with {@link releaseBuffer}. */
  uploadBuffer(data: Float32Array | Uint32Array | Int32Array, label: string): GPUBuffer {
    return this.#upload(data, label);
  }

  emptyBuffer(bytes: number, label: string): GPUBuffer {
    return this.#empty(bytes, label);
  }

  releaseBuffer(buf: GPUBuffer): void {
    this.pool.release(buf);
  }

  readBuffer(buf: GPUBuffer, floats: number): Promise<Float32Array> {
    return this.#read(buf, floats * 4, Float32Array);
  }

  /** `dst[offset..] = src` on the device (e.g. the two halves of a guidance batch). */
  copyInto(src: GPUBuffer, dst: GPUBuffer, bytes: number, offset: number): void {
    const enc = this.device.createCommandEncoder({ label: "copy" });
    enc.copyBufferToBuffer(src, 0, dst, offset, bytes);
    this.device.queue.submit([enc.finish()]);
  }

  /** In place on the device: x += dt * v. */
  eulerOnDevice(x: GPUBuffer, v: GPUBuffer, dt: number, count: number): void {
    this.#run("euler", [x, v], [["f32", dt], ["u32", count]], Math.ceil(count / WG));
  }

  /** x0 = x - sigma v into a new pooled buffer. */
  cleanEstimateOnDevice(x: GPUBuffer, v: GPUBuffer, sigma: number, count: number): GPUBuffer {
    const out = this.#empty(count * 4, "x0");
    this.#run(
      "clean_estimate",
      [out, x, v],
      [["f32", sigma], ["u32", count]],
      Math.ceil(count / WG),
    );
    return out;
  }

  /** Guidance on a batched [2, count] output into a new pooled buffer. */
  cfgOnDevice(batch: GPUBuffer, guidance: number, count: number): GPUBuffer {
    const out = this.#empty(count * 4, "guided v");
    this.#run(
      "cfg_combine",
      [out, batch],
      [["f32", guidance], ["u32", count]],
      Math.ceil(count / WG),
    );
    return out;
  }

  /** CPU-array form of cfg_combine, for tests against the CPU formula. */
  async cfgCombine(batch: Float32Array, guidance: number): Promise<Float32Array> {
    const b = this.#upload(batch, "batch");
    const out = this.cfgOnDevice(b, guidance, batch.length / 2);
    const r = await this.#read(out, batch.length * 2, Float32Array);
    this.#done(b, out);
    return r;
  }

  // --- single kernels (each mirrors a *_cpu.ts function) ---------------------------------

  async gaussian(
    seed: number,
    stream: number,
    start: number,
    count: number,
  ): Promise<Float32Array> {
    const [lo, hi] = seedKey(seed);
    const out = this.#empty(count * 4, "gaussian out");
    this.#run("gaussian", [out], [["u32", lo], ["u32", hi], ["u32", stream], ["u32", start], [
      "u32",
      count,
    ]], Math.ceil(count / WG));
    const r = await this.#read(out, count * 4, Float32Array);
    this.#done(out);
    return r;
  }

  async eulerStep(x: Float32Array, v: Float32Array, dt: number): Promise<Float32Array> {
    const bx = this.#upload(x, "x"), bv = this.#upload(v, "v");
    this.#run("euler", [bx, bv], [["f32", dt], ["u32", x.length]], Math.ceil(x.length / WG));
    const r = await this.#read(bx, x.byteLength, Float32Array);
    this.#done(bx, bv);
    return r;
  }

  async cleanEstimate(x: Float32Array, v: Float32Array, sigma: number): Promise<Float32Array> {
    const bo = this.#empty(x.byteLength, "x0"),
      bx = this.#upload(x, "x"),
      bv = this.#upload(v, "v");
    this.#run(
      "clean_estimate",
      [bo, bx, bv],
      [["f32", sigma], ["u32", x.length]],
      Math.ceil(x.length / WG),
    );
    const r = await this.#read(bo, x.byteLength, Float32Array);
    this.#done(bo, bx, bv);
    return r;
  }

  #latentOpOnDevice(
    name: LatentOp,
    input: GPUBuffer,
    inLen: number,
    outLen: number,
    c: number,
    h: number,
    w: number,
    label: string,
    mode = 0,
  ): GPUBuffer {
    const bo = this.#empty(outLen * 4, label);
    this.#run(
      name,
      [bo, input],
      [["u32", c], ["u32", h], ["u32", w], ["u32", mode]],
      Math.ceil(Math.max(outLen, inLen) / WG),
    );
    return bo;
  }

  async #latentOp(
    name: LatentOp,
    input: Float32Array,
    outLen: number,
    c: number,
    h: number,
    w: number,
    mode = 0,
  ) {
    const bi = this.#upload(input, `${name} in`);
    const bo = this.#latentOpOnDevice(name, bi, input.length, outLen, c, h, w, `${name} out`, mode);
    const r = await this.#read(bo, outLen * 4, Float32Array);
    this.#done(bo, bi);
    return r;
  }

  pack(latent: Float32Array, c: number, h: number, w: number): Promise<Float32Array> {
    return this.#latentOp("pack", latent, latent.length, c, h, w);
  }

  unpack(tokens: Float32Array, c: number, h: number, w: number): Promise<Float32Array> {
    return this.#latentOp("unpack", tokens, tokens.length, c, h, w);
  }

  downsample2x(
    latent: Float32Array,
    c: number,
    h: number,
    w: number,
    mode: DownsampleMode = "nearest",
  ): Promise<Float32Array> {
    return this.#latentOp("downsample", latent, latent.length / 4, c, h, w, mode === "box" ? 1 : 0);
  }

  /** 2x2 mean pooling (downsample mode 2), as pack_cpu.ts avgPool2x. */
  avgPool2x(latent: Float32Array, c: number, h: number, w: number): Promise<Float32Array> {
    return this.#latentOp("downsample", latent, latent.length / 4, c, h, w, 2);
  }

  upsample2x(latent: Float32Array, c: number, h: number, w: number): Promise<Float32Array> {
    return this.#latentOp("upsample", latent, latent.length * 4, c, h, w);
  }

  async previewRgba(
    latent: Float32Array,
    weights: number[][],
    c: number,
    h: number,
    w: number,
  ): Promise<Uint8Array> {
    const pixels = h * w;
    const bo = this.#empty(pixels * 4, "preview"), bl = this.#upload(latent, "latent");
    const bw = this.#upload(Float32Array.from(weights.flat()), "preview weights");
    this.#run("preview", [bo, bl, bw], [["u32", c], ["u32", pixels]], Math.ceil(pixels / WG));
    const r = await this.#read(bo, pixels * 4, Uint32Array);
    this.#done(bo, bl, bw);
    return new Uint8Array(r.buffer);
  }

  /** Gray levels of a decoded image (for tests of the gray kernel alone). */
  async gray(image: Float32Array, w: number, h: number, mode: GrayMode): Promise<Uint32Array> {
    const bg = this.#empty(w * h * 4, "gray"), bi = this.#upload(image, "image");
    this.#run(
      "gray",
      [bg, bi],
      [["u32", w], ["u32", h], ["u32", mode === "ours" ? 0 : 1]],
      Math.ceil((w * h) / WG),
    );
    const r = await this.#read(bg, w * h * 4, Uint32Array);
    this.#done(bg, bi);
    return r;
  }

  /** Canny on gray levels already on the GPU; returns the cls buffer (2 = edge). */
  async #cannyFromGray(bg: GPUBuffer, w: number, h: number): Promise<GPUBuffer> {
    const n = w * h;
    const groups = Math.ceil(n / WG);
    const bdx = this.#empty(n * 4, "dx"),
      bdy = this.#empty(n * 4, "dy"),
      bmag = this.#empty(n * 4, "mag");
    const bcls = this.#empty(n * 4, "cls"), bchanged = this.#empty(4, "changed");
    const enc = this.device.createCommandEncoder({ label: "canny" });
    this.#run("canny_sobel", [bdx, bdy, bmag, bg], [["u32", w], ["u32", h]], groups, enc);
    this.#run(
      "canny_nms",
      [bcls, bdx, bdy, bmag],
      [["u32", w], ["u32", h], ["i32", 100], ["i32", 200]],
      groups,
      enc,
    );
    this.device.queue.submit([enc.finish()]);
    for (;;) {
      const e = this.device.createCommandEncoder({ label: "hysteresis" });
      e.clearBuffer(bchanged);
      for (let i = 0; i < SWEEPS_PER_CHECK; i++) {
        this.#run("canny_hysteresis", [bcls, bchanged], [["u32", w], ["u32", h]], groups, e);
      }
      this.device.queue.submit([e.finish()]);
      const changed = await this.#read(bchanged, 4, Uint32Array);
      if (changed[0] === 0) break;
    }
    this.#done(bdx, bdy, bmag, bchanged);
    return bcls;
  }

  /** Canny of gray levels (the `edges` command's path). */
  async cannyGray(gray: Uint8Array, w: number, h: number): Promise<Uint8Array> {
    const bg = this.#upload(Uint32Array.from(gray), "gray");
    const bcls = await this.#cannyFromGray(bg, w, h);
    const edges = await this.readEdges(bcls, w * h);
    this.#done(bg, bcls);
    return edges;
  }

  // --- RALU's boundary work on device buffers (each returns pooled buffers) ---------------

  /** tokens [(h/2)(w/2), 4C] → latent [C, h, w] into a new buffer. */
  unpackOnDevice(tokens: GPUBuffer, c: number, h: number, w: number): GPUBuffer {
    const n = c * h * w;
    return this.#latentOpOnDevice("unpack", tokens, n, n, c, h, w, "unpacked");
  }

  /** tokens ← latent [C, h, w] into a new buffer. */
  packOnDevice(latent: GPUBuffer, c: number, h: number, w: number): GPUBuffer {
    const n = c * h * w;
    return this.#latentOpOnDevice("pack", latent, n, n, c, h, w, "packed");
  }

  /** [C, h, w] → [C, h/2, w/2], 2x2 means. */
  avgPoolOnDevice(latent: GPUBuffer, c: number, h: number, w: number): GPUBuffer {
    const n = c * h * w;
    return this.#latentOpOnDevice("downsample", latent, n, n / 4, c, h, w, "pooled", 2);
  }

  /** [C, h, w] → [C, 2h, 2w], nearest. */
  upsampleOnDevice(latent: GPUBuffer, c: number, h: number, w: number): GPUBuffer {
    const n = c * h * w;
    return this.#latentOpOnDevice("upsample", latent, n, 4 * n, c, h, w, "upsampled");
  }

  /** `x * a + b` into a new buffer. */
  affineOnDevice(x: GPUBuffer, a: number, b: number, count: number): GPUBuffer {
    const out = this.#empty(count * 4, "affine");
    this.#run("affine", [out, x], [["f32", a], ["f32", b], ["u32", count]], Math.ceil(count / WG));
    return out;
  }

  /** Decoded `[3, H, W]` in [-1, 1] → Canny classes (2 = edge). */
  async cannyOnDevice(image: GPUBuffer, w: number, h: number, gray: GrayMode): Promise<GPUBuffer> {
    const bg = this.#empty(w * h * 4, "gray");
    this.#run(
      "gray",
      [bg, image],
      [["u32", w], ["u32", h], ["u32", gray === "ours" ? 0 : 1]],
      Math.ceil((w * h) / WG),
    );
    const bcls = await this.#cannyFromGray(bg, w, h);
    this.#done(bg);
    return bcls;
  }

  /** The edge map (1 = edge) of a cls buffer, read back. */
  async readEdges(cls: GPUBuffer, pixels: number): Promise<Uint8Array> {
    const r = await this.#read(cls, pixels * 4, Uint32Array);
    return Uint8Array.from(r, (v) => (v === 2 ? 1 : 0));
  }

  edgeScoresOnDevice(cls: GPUBuffer, w: number, h: number, fp: number): GPUBuffer {
    const bs = this.#empty((w / fp) * (h / fp) * 4, "scores");
    const enc = this.device.createCommandEncoder({ label: "edge scores" });
    enc.clearBuffer(bs);
    this.#run(
      "edge_score",
      [bs, cls],
      [["u32", w], ["u32", h], ["u32", fp]],
      Math.ceil((w * h) / WG),
      enc,
    );
    this.device.queue.submit([enc.finish()]);
    return bs;
  }

  topkOnDevice(scores: GPUBuffer, n: number, k: number): GPUBuffer {
    checkTopkSize(n);
    const bm = this.#empty(n * 4, "mask");
    this.#run("topk", [bm, scores], [["u32", n], ["u32", k]], 1);
    return bm;
  }

  /** Stage-2 repacking of `n` tokens of which `selected` are marked in `mask`. */
  repackStage2OnDevice(
    tokens: GPUBuffer,
    ids: GPUBuffer,
    mask: GPUBuffer,
    n: number,
    selected: number,
    dim: number,
  ): DeviceRepacked {
    const count = n + 3 * selected;
    const out = {
      tokens: this.#empty(count * dim * 4, "stage2 tokens"),
      ids: this.#empty(count * 12, "stage2 ids"),
      groups: this.#empty(count * 16, "stage2 groups"),
      count,
      lowCount: n - selected,
    };
    const info = this.#empty(8, "stage2 info");
    this.#run(
      "repack_stage2",
      [out.tokens, out.ids, out.groups, info, tokens, ids, mask],
      [["u32", n], ["u32", dim]],
      1,
    );
    this.#done(info);
    return out;
  }

  /** Stage-3 expansion of an `n`-token mixed sequence to the full `cols x rows` grid. */
  expandStage3OnDevice(
    tokens: GPUBuffer,
    ids: GPUBuffer,
    n: number,
    lowCount: number,
    dim: number,
    cols: number,
    rows: number,
  ): DeviceRepacked {
    const count = cols * rows;
    const out = {
      tokens: this.#empty(count * dim * 4, "stage3 tokens"),
      ids: this.#empty(count * 12, "stage3 ids"),
      groups: this.#empty(count * 16, "stage3 groups"),
      count,
      lowCount: 0,
    };
    this.#run(
      "repack_stage3",
      [out.tokens, out.ids, out.groups, tokens, ids],
      [["u32", n], ["u32", lowCount], ["u32", dim], ["u32", cols]],
      Math.ceil(n / WG),
    );
    return out;
  }

  /** In place on `x` (`count` tokens of `dim`), as noise_cpu.ts's injectNoise. */
  injectNoiseOnDevice(
    x: GPUBuffer,
    groups: GPUBuffer,
    count: number,
    dim: number,
    p: NoiseParams,
    anchor?: Anchor<GPUBuffer, GPUBuffer>,
  ): void {
    const [lo, hi] = seedKey(p.seed);
    const none = anchor ? undefined : this.#empty(4, "no anchor");
    this.#run("noise", [x, groups, anchor?.values ?? none!, anchor?.of ?? none!], [
      ["u32", lo],
      ["u32", hi],
      ["u32", p.boundary],
      ["u32", dim],
      ["u32", count],
      ["f32", p.beta],
      ["f32", p.alpha],
      ["f32", groupCoefficient(p.c)],
      ["f32", p.exactScale],
      ["u32", anchor ? 1 : 0],
    ], Math.ceil((count * dim) / WG));
    if (none) this.pool.release(none);
  }

  releaseRepacked(r: DeviceRepacked): void {
    this.#done(r.tokens, r.ids, r.groups);
  }

  async #readRepacked(r: DeviceRepacked, dim: number): Promise<Repacked> {
    return {
      tokens: await this.#read(r.tokens, r.count * dim * 4, Float32Array),
      ids: await this.#read(r.ids, r.count * 12, Float32Array),
      groups: await this.#read(r.groups, r.count * 16, Int32Array),
      count: r.count,
      lowCount: r.lowCount,
    };
  }

  // --- array forms: upload, the device form, read back ---------------------------------------

  async canny(image: Float32Array, w: number, h: number, gray: GrayMode): Promise<Uint8Array> {
    const bi = this.#upload(image, "image");
    const bcls = await this.cannyOnDevice(bi, w, h, gray);
    const edges = await this.readEdges(bcls, w * h);
    this.#done(bi, bcls);
    return edges;
  }

  async edgeScores(edges: Uint8Array, w: number, h: number, fp: number): Promise<Uint32Array> {
    const bcls = this.#upload(Uint32Array.from(edges, (v) => (v ? 2 : 0)), "cls");
    const bs = this.edgeScoresOnDevice(bcls, w, h, fp);
    const r = await this.#read(bs, (w / fp) * (h / fp) * 4, Uint32Array);
    this.#done(bcls, bs);
    return r;
  }

  async topk(scores: Uint32Array, k: number): Promise<Uint32Array> {
    checkTopkSize(scores.length); // before the upload, so a refusal leaves nothing held
    const bs = this.#upload(scores, "scores");
    const bm = this.topkOnDevice(bs, scores.length, k);
    const r = await this.#read(bm, scores.byteLength, Uint32Array);
    this.#done(bm, bs);
    return r;
  }

  async repackStage2(
    tokens: Float32Array,
    ids: Float32Array,
    mask: Uint32Array,
    dim: number,
  ): Promise<Repacked> {
    let sel = 0;
    for (const m of mask) sel += m ? 1 : 0;
    const it = this.#upload(tokens, "tokens"),
      iid = this.#upload(ids, "ids"),
      im = this.#upload(mask, "mask");
    const r = this.repackStage2OnDevice(it, iid, im, mask.length, sel, dim);
    const out = await this.#readRepacked(r, dim);
    this.#done(it, iid, im);
    this.releaseRepacked(r);
    return out;
  }

  async expandStage3(
    tokens: Float32Array,
    ids: Float32Array,
    lowCount: number,
    dim: number,
    cols: number,
    rows: number,
  ): Promise<Repacked> {
    const it = this.#upload(tokens, "tokens"), iid = this.#upload(ids, "ids");
    const r = this.expandStage3OnDevice(it, iid, ids.length / 3, lowCount, dim, cols, rows);
    const out = await this.#readRepacked(r, dim);
    this.#done(it, iid);
    this.releaseRepacked(r);
    return out;
  }

  async injectNoise(
    x: Float32Array,
    groups: Int32Array,
    dim: number,
    p: NoiseParams,
    anchor?: Anchor,
  ): Promise<void> {
    const bx = this.#upload(x, "x"), bg = this.#upload(groups, "groups");
    const ba = anchor && {
      values: this.#upload(anchor.values, "anchor"),
      of: this.#upload(anchor.of, "anchor of"),
    };
    this.injectNoiseOnDevice(bx, bg, groups.length / 4, dim, p, ba);
    x.set(await this.#read(bx, x.byteLength, Float32Array));
    this.#done(bx, bg);
    if (ba) this.#done(ba.values, ba.of);
  }

  /** CPU-array form of affine.wgsl (tests). */
  async affine(x: Float32Array, a: number, b: number): Promise<Float32Array> {
    const bx = this.#upload(x, "x");
    const bo = this.affineOnDevice(bx, a, b, x.length);
    const r = await this.#read(bo, x.byteLength, Float32Array);
    this.#done(bx, bo);
    return r;
  }

  dispose(): void {
    this.#flushUniforms();
    this.pool.dispose();
  }
}
