/**
 * The GPU-buffer backend: handles are pooled buffers of the kernel device, every op is a
 * shader (`src/kernels/gpu_ops.ts`). On the WebGPU EP the DiT and VAE read and write the
 * same device (ORT's), so the latent stays in GPU memory from the first step to the last;
 * on the wasm EP with GPU kernels the DiT and VAE calls cross to the host and back.
 * Every buffer this run takes is in its arena until `free` or `release`.
 *
 * @example
 * ```ts ignore
 * import { gpuBackend } from "./gpu_backend.ts";
 * const be = gpuBackend(gpu, { velocity, decode });
 * ```
 */
import type { GpuOps } from "../kernels/gpu_ops.ts";
import type { Backend, Handle, Repacked } from "./backend.ts";
import type { ArrayDecode, ArrayVelocity } from "./cpu_backend.ts";

class Buf implements Handle {
  constructor(readonly buffer: GPUBuffer, readonly length: number) {}
}

/**
 * The DiT and VAE on device buffers (WebGPU EP): decoded images are pooled buffers of `gpu`;
 * a velocity is one (`owned`) or the DiT's own output, valid until its next velocity call.
 */
export interface DeviceModel {
  velocity(
    x: GPUBuffer,
    ids: Float32Array,
    sigma: number,
    unit: number,
  ): Promise<{ buffer: GPUBuffer; owned: boolean }>;
  decode(latent: GPUBuffer, h: number, w: number): Promise<GPUBuffer>;
}

export function gpuBackend(
  gpu: GpuOps,
  model: DeviceModel | { arrays: { velocity: ArrayVelocity; decode: ArrayDecode } },
): Backend {
  const arena = new Set<GPUBuffer>();
  const own = (buffer: GPUBuffer, length: number) => (arena.add(buffer), new Buf(buffer, length));
  const b = (h: Handle) => (h as Buf).buffer;
  const upload = (data: Float32Array | Int32Array, label: string) =>
    own(gpu.ctx.upload(data, label), data.length);
  const read = (h: Handle) => gpu.ctx.readFloats(b(h), h.length);
  const arrays = "arrays" in model ? model.arrays : undefined;
  const device = "arrays" in model ? undefined : model;
  const velocity = async (
    x: Handle,
    ids: Float32Array,
    sigma: number,
    unit: number,
  ): Promise<Handle> => {
    if (arrays) return upload(await arrays.velocity(await read(x), ids, sigma, unit), "v");
    const v = await device!.velocity(b(x), ids, sigma, unit);
    return v.owned ? own(v.buffer, x.length) : new Buf(v.buffer, x.length);
  };
  const decode = async (l: Handle, h: number, w: number): Promise<Handle> => {
    if (arrays) return upload(await arrays.decode(await read(l), h, w), "decoded");
    const image = await device!.decode(b(l), h, w);
    return own(image, image.size / 4); // [3, f h, f w]: a multiple of 16 bytes
  };
  const repacked = async (
    r: { tokens: GPUBuffer; ids: GPUBuffer; groups: GPUBuffer; count: number; lowCount: number },
    dim: number,
  ): Promise<Repacked> => {
    own(r.ids, r.count * 3);
    return {
      tokens: own(r.tokens, r.count * dim),
      groups: own(r.groups, r.count * 4),
      ids: await gpu.ctx.readFloats(r.ids, r.count * 3),
      count: r.count,
      lowCount: r.lowCount,
    };
  };
  return {
    name: "webgpu",
    upload,
    read,
    free: (h) => {
      if (!h || !arena.delete(b(h))) return;
      gpu.ctx.release(b(h));
    },
    release: () => {
      gpu.ctx.release(...arena);
      arena.clear();
    },
    velocity,
    euler: (x, v, dt) => gpu.k.euler.run(b(x), b(v), dt, x.length),
    cleanEstimate: (x, v, sigma) =>
      own(gpu.k.cleanEstimate.run(b(x), b(v), sigma, x.length), x.length),
    combine: (xs, w) => {
      const out = own(gpu.k.affine.run(b(xs[0]!), w[0]!, 0, xs[0]!.length), xs[0]!.length);
      for (let i = 1; i < xs.length; i++) gpu.k.euler.run(out.buffer, b(xs[i]!), w[i]!, out.length);
      return out;
    },
    renoise: (x0, n, sigma) => {
      const out = own(gpu.k.affine.run(b(x0), 1 - sigma, 0, x0.length), x0.length);
      gpu.k.euler.run(out.buffer, b(n), sigma, x0.length);
      return out;
    },
    pack: (l, c, h, w) => own(gpu.k.pack.run(b(l), c, h, w), l.length),
    unpack: (t, c, h, w) => own(gpu.k.unpack.run(b(t), c, h, w), t.length),
    meanPool2x: (l, c, h, w) => own(gpu.k.downsample.run(b(l), c, h, w, "mean"), l.length / 4),
    upsample2x: (l, c, h, w) => own(gpu.k.upsample.run(b(l), c, h, w), l.length * 4),
    decode,
    canny: async (image, w, h, gray) => own(await gpu.canny(b(image), w, h, gray), w * h),
    readEdges: (edges, pixels) => gpu.readEdges(b(edges), pixels),
    edgeScores: (edges, w, h, fp) =>
      own(gpu.k.edgeScore.run(b(edges), w, h, fp), (w / fp) * (h / fp)),
    topk: (scores, n, k) => own(gpu.k.topk.run(b(scores), n, k), n),
    repackStage2: async (t, ids, mask, k, dim) => {
      const n = ids.length / 3;
      const idsb = upload(ids, "ids");
      return await repacked(
        gpu.k.repackStage2.run(b(t), idsb.buffer, b(mask), n, Math.min(k, n), dim),
        dim,
      );
    },
    expandStage3: async (t, ids, low, dim, cols, rows) => {
      const idsb = upload(ids, "ids");
      return await repacked(
        gpu.k.repackStage3.run(b(t), idsb.buffer, ids.length / 3, low, dim, cols, rows),
        dim,
      );
    },
    injectNoise: (x, r, dim, p, anchor) => {
      const a = anchor && { values: b(anchor.values), of: upload(anchor.of, "anchor of").buffer };
      gpu.k.noise.inject(b(x), b(r.groups), r.count, dim, p, a);
    },
  };
}
