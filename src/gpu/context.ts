/**
 * What every shader wrapper shares: the device, the buffer pool, Params uniforms, one
 * dispatch, and reads back to the host (each recorded by label, so tests can see what
 * crossed). It takes the `GPUDevice` as a parameter and never owns it.
 *
 * @example
 * ```ts ignore
 * const gpu = new GpuContext(device);
 * const buf = gpu.upload(Float32Array.of(1, 2, 3), "x");
 * const back = await gpu.readFloats(buf, 3);
 * gpu.release(buf);
 * ```
 */
import { BufferPool } from "./buffer_pool.ts";
import { type Field, Kernel, packParams } from "./kernel.ts";

/** Usage of every storage buffer the kernels read and write. */
export const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
/** Workgroup size of the 1-D kernels (each shader's `override WG` default). */
export const WG = 64;

export type Typed = Float32Array | Uint32Array | Int32Array;
type Ctor<T extends Typed> = { new (b: ArrayBuffer): T };

/** Workgroups that cover `n` invocations. */
export function groupsFor(n: number): number {
  return Math.ceil(n / WG);
}

export class GpuContext {
  readonly pool: BufferPool;
  /** Labels of the buffers read back to the host, in order (what crossed, for tests). */
  readonly readbacks: string[] = [];
  /** Params of recorded dispatches, until a readback shows they ran. */
  #uniforms: GPUBuffer[] = [];
  /**
   * Params buffers free for reuse, by size. A dispatch submitted on its own frees its
   * buffer at once: a later `writeBuffer` is queued after that submit, so it cannot change
   * what the dispatch reads.
   */
  readonly #freeUniforms = new Map<number, GPUBuffer[]>();

  /** While profiling: the timestamp queries and which kernel each pair of them timed. */
  #profile: { set: GPUQuerySet; labels: string[]; capacity: number } | undefined;

  constructor(readonly device: GPUDevice) {
    this.pool = new BufferPool(device);
  }

  /**
   * Starts timing every dispatch made through {@link run} (up to `capacity`) with timestamp
   * queries, where the device has `timestamp-query`; {@link endProfile} reads them.
   */
  startProfile(capacity = 64): boolean {
    if (!this.device.features.has("timestamp-query")) return false;
    const set = this.device.createQuerySet({ type: "timestamp", count: 2 * capacity });
    this.#profile = { set, labels: [], capacity };
    return true;
  }

  /** Each profiled dispatch's kernel and GPU time (ms, from its pass's two timestamps). */
  async endProfile(): Promise<{ kernel: string; ms: number }[]> {
    const p = this.#profile;
    if (!p) return [];
    this.#profile = undefined;
    const n = p.labels.length;
    if (!n) return (p.set.destroy(), []);
    const bytes = 16 * n;
    const resolved = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const enc = this.device.createCommandEncoder({ label: "profile" });
    enc.resolveQuerySet(p.set, 0, 2 * n, resolved, 0);
    this.device.queue.submit([enc.finish()]);
    const ticks = new BigInt64Array((await this.read(resolved, bytes, Uint32Array)).buffer);
    resolved.destroy();
    p.set.destroy();
    return p.labels.map((kernel, i) => ({
      kernel,
      ms: Number(ticks[2 * i + 1]! - ticks[2 * i]!) / 1e6,
    }));
  }

  /** The compiled `shaders/<name>.wgsl` (a wrapper loads its own once). */
  load(name: string): Promise<Kernel> {
    return Kernel.load(this.device, name);
  }

  /** A pooled storage buffer holding `data`; give it back with {@link release}. */
  upload(data: Typed, label: string): GPUBuffer {
    const buf = this.pool.acquire(Math.max(4, data.byteLength), STORAGE, label);
    this.device.queue.writeBuffer(
      buf,
      0,
      data.buffer as ArrayBuffer,
      data.byteOffset,
      data.byteLength,
    );
    return buf;
  }

  empty(bytes: number, label: string): GPUBuffer {
    return this.pool.acquire(Math.max(4, bytes), STORAGE, label);
  }

  release(...bufs: (GPUBuffer | undefined)[]): void {
    for (const b of bufs) if (b) this.pool.release(b);
  }

  /** Records (into `encoder`) or submits one dispatch of `kernel` with its Params fields. */
  run(
    kernel: Kernel,
    buffers: GPUBuffer[],
    fields: Field[],
    groups: number | [number, number?, number?],
    encoder?: GPUCommandEncoder,
  ): void {
    const enc = encoder ?? this.device.createCommandEncoder({ label: kernel.name });
    const params = this.#params(fields);
    const p = this.#profile;
    let stamps: GPUComputePassTimestampWrites | undefined;
    if (p && p.labels.length < p.capacity) {
      const i = p.labels.push(kernel.name) - 1;
      stamps = {
        querySet: p.set,
        beginningOfPassWriteIndex: 2 * i,
        endOfPassWriteIndex: 2 * i + 1,
      };
    }
    kernel.dispatch(enc, buffers, params, typeof groups === "number" ? [groups] : groups, stamps);
    if (encoder) return void this.#uniforms.push(params);
    this.device.queue.submit([enc.finish()]);
    this.#freeUniform(params);
  }

  #params(fields: Field[]): GPUBuffer {
    const data = packParams(fields);
    const buf = this.#freeUniforms.get(data.byteLength)?.pop() ?? this.device.createBuffer({
      label: "params",
      size: data.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.device.queue.writeBuffer(buf, 0, data);
    return buf;
  }

  #freeUniform(buf: GPUBuffer): void {
    const list = this.#freeUniforms.get(buf.size) ?? [];
    list.push(buf);
    this.#freeUniforms.set(buf.size, list);
  }

  /** `dst[offset..] = src` on the device. */
  copyInto(src: GPUBuffer, dst: GPUBuffer, bytes: number, offset: number): void {
    const enc = this.device.createCommandEncoder({ label: "copy" });
    enc.copyBufferToBuffer(src, 0, dst, offset, bytes);
    this.device.queue.submit([enc.finish()]);
  }

  async read<T extends Typed>(buf: GPUBuffer, bytes: number, ctor: Ctor<T>): Promise<T> {
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
    // every dispatch before this read has run: its uniforms can be reused
    for (const u of this.#uniforms) this.#freeUniform(u);
    this.#uniforms = [];
    return out;
  }

  readFloats(buf: GPUBuffer, count: number): Promise<Float32Array> {
    return this.read(buf, count * 4, Float32Array);
  }

  dispose(): void {
    for (const u of [...this.#uniforms, ...[...this.#freeUniforms.values()].flat()]) u.destroy();
    this.#uniforms = [];
    this.#freeUniforms.clear();
    this.pool.dispose();
  }
}

/**
 * A shader wrapper: `create(gpu)` compiles `shaders/<name>.wgsl` once and returns the
 * wrapper's methods, built by `make` over that context and pipeline.
 */
export function defineKernel<T>(name: string, make: (gpu: GpuContext, kernel: Kernel) => T) {
  return { name, create: async (gpu: GpuContext): Promise<T> => make(gpu, await gpu.load(name)) };
}
