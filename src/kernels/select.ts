/**
 * Where RALU's kernels run: `gpu` on the kernel device (ORT's on the WebGPU EP, any
 * adapter otherwise), `cpu` on the references. `auto` = gpu on the WebGPU EP or a real
 * GPU; on a software adapter (llvmpipe) the CPU references are several times faster
 * (every hysteresis check is a readback), so `auto` takes them — same results either way.
 *
 * @example
 * ```ts ignore
 * const kernels = await selectKernels("auto", "wasm");
 * ```
 */
import { kernelDevice } from "../gpu/device.ts";
import { type Ep, probeAdapter } from "../onnx/ort.ts";
import { GpuOps } from "./gpu_ops.ts";

export type KernelMode = "auto" | "gpu" | "cpu";
/** The kernels a model's runs use: the shaders on a device, or the CPU references. */
export type Kernels = GpuOps | { readonly name: "cpu" };
const CPU: Kernels = { name: "cpu" };

const cache = new Map<string, Promise<Kernels>>();

export async function selectKernels(mode: KernelMode, ep: Ep): Promise<Kernels> {
  const key = `${mode}:${ep}`;
  const cached = await cache.get(key);
  // a lost device is rebuilt; ORT replaces its device when every WebGPU session has been
  // released: follow it
  if (
    cached instanceof GpuOps &&
    (cached.lost || (ep === "webgpu" && cached.device !== (await kernelDevice(ep))))
  ) {
    cache.delete(key);
  }
  if (!cache.has(key)) {
    cache.set(
      key,
      (async () => {
        if (mode === "cpu") return CPU;
        if (mode === "auto" && ep !== "webgpu" && !(await probeAdapter())?.isRealGpu) return CPU;
        const device = await kernelDevice(ep);
        if (!device) {
          if (mode === "gpu") throw new Error("--kernels gpu: no WebGPU adapter");
          return CPU;
        }
        return await GpuOps.create(device);
      })(),
    );
  }
  return await cache.get(key)!;
}
