/** One shared GPU for kernel tests, and the skip flag when there is none. */
import { kernelDevice } from "../../src/gpu/device.ts";
import { GpuOps } from "../../src/kernels/gpu_ops.ts";

export const device = await kernelDevice("wasm");
export const noGpu = !device;
export const gpu = device ? await GpuOps.create(device) : undefined;
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
