/**
 * The CPU-array backend: every op is its TypeScript reference in `src/kernels/*_cpu.ts`,
 * handles are typed arrays, and the DiT and VAE are called with host arrays (the wasm EP).
 *
 * @example
 * ```ts ignore
 * import { cpuBackend } from "./cpu_backend.ts";
 * const be = cpuBackend((x, ids, sigma) => model.velocity1(x, ids, sigma), model.decode);
 * ```
 */
import { canny, edgeScores, grayFromDecoded } from "../kernels/canny_cpu.ts";
import { affine, cleanEstimate, eulerStep } from "../kernels/euler_cpu.ts";
import { injectNoise } from "../kernels/noise_cpu.ts";
import { avgPool2x, pack, unpack, upsample2x } from "../kernels/pack_cpu.ts";
import { expandStage3, repackStage2 } from "../kernels/repack_cpu.ts";
import { topkMask } from "../kernels/topk_cpu.ts";
import type { Backend, Handle } from "./backend.ts";

export type ArrayVelocity = (
  x: Float32Array,
  ids: Float32Array,
  sigma: number,
  unit: number,
) => Promise<Float32Array>;
export type ArrayDecode = (latent: Float32Array, h: number, w: number) => Promise<Float32Array>;

const f32 = (h: Handle) => h as Float32Array;

/** (1 - sigma) x0 + sigma n in f32, in the order shaders/affine.wgsl + euler.wgsl compute it. */
export function renoise(x0: Float32Array, n: Float32Array, sigma: number): Float32Array {
  const f = Math.fround, a = f(1 - sigma), s = f(sigma);
  return x0.map((v, i) => f(f(v * a) + f(s * n[i]!)));
}

export function cpuBackend(velocity: ArrayVelocity, decode: ArrayDecode): Backend {
  return {
    name: "cpu",
    upload: (data) => data.slice(),
    read: (x) => Promise.resolve(f32(x).slice()),
    free: () => {},
    release: () => {},
    velocity: (x, ids, sigma, unit) => velocity(f32(x), ids, sigma, unit),
    euler: (x, v, dt) => void eulerStep(f32(x), f32(v), dt),
    cleanEstimate: (x, v, sigma) => cleanEstimate(f32(x), f32(v), sigma),
    combine: (xs, w) => {
      const out = affine(f32(xs[0]!), w[0]!, 0);
      for (let i = 1; i < xs.length; i++) eulerStep(out, f32(xs[i]!), w[i]!);
      return out;
    },
    renoise: (x0, n, sigma) => renoise(f32(x0), f32(n), sigma),
    pack: (l, c, h, w) => pack(f32(l), c, h, w),
    unpack: (t, c, h, w) => unpack(f32(t), c, h, w),
    meanPool2x: (l, c, h, w) => avgPool2x(f32(l), c, h, w),
    upsample2x: (l, c, h, w) => upsample2x(f32(l), c, h, w),
    decode: (l, h, w) => decode(f32(l), h, w),
    canny: (image, w, h, gray) =>
      Promise.resolve(canny(grayFromDecoded(f32(image), w, h, gray), w, h, 100, 200)),
    readEdges: (edges) => Promise.resolve(edges as Uint8Array),
    edgeScores: (edges, w, h, fp) => edgeScores(edges as Uint8Array, w, h, fp),
    topk: (scores, _n, k) => topkMask(scores as Uint32Array, k),
    repackStage2: (t, ids, mask, _k, dim) =>
      Promise.resolve(repackStage2(f32(t), ids, mask as Uint32Array, dim)),
    expandStage3: (t, ids, low, dim, cols, rows) =>
      Promise.resolve(expandStage3(f32(t), ids, low, dim, cols, rows)),
    injectNoise: (x, r, dim, p, anchor) =>
      void injectNoise(
        f32(x),
        r.groups as Int32Array,
        dim,
        p,
        anchor && { values: f32(anchor.values), of: anchor.of },
      ),
  };
}
