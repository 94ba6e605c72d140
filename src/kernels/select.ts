/**
 * Where RALU's kernels run: `gpu` on the kernel device (ORT's on the WebGPU EP, any
 * adapter otherwise), `cpu` on the references. `auto` = gpu on the WebGPU EP or a real
 * GPU; on a software adapter (llvmpipe) the CPU references are several times faster
 * (every hysteresis check is a readback), so `auto` takes them — same results either way.
 *
 * @example
 * ```ts ignore
 * const ops = await selectKernelOps("auto", "wasm");
 * ```
 */
import { kernelDevice } from "../gpu/device.ts";
import { type Ep, probeAdapter } from "../onnx/ort.ts";
import { GpuOps } from "./gpu_ops.ts";
import { cpuOps, type KernelOps } from "./ops.ts";

export type KernelMode = "auto" | "gpu" | "cpu";

const cache = new Map<string, Promise<KernelOps>>();

export async function selectKernelOps(mode: KernelMode, ep: Ep): Promise<KernelOps> {
  const key = `${mode}:${ep}`;
  const cached = await cache.get(key);
  // ORT replaces its device when every WebGPU session has been released: follow it
  if (cached instanceof GpuOps && ep === "webgpu" && cached.device !== (await kernelDevice(ep))) {
    cache.delete(key);
  }
  if (!cache.has(key)) {
    cache.set(
      key,
      (async () => {
        if (mode === "cpu") return cpuOps;
        if (mode === "auto" && ep !== "webgpu" && !(await probeAdapter())?.isRealGpu) return cpuOps;
        const device = await kernelDevice(ep);
        if (!device) {
          if (mode === "gpu") throw new Error("--kernels gpu: no WebGPU adapter");
          return cpuOps;
        }
        return await GpuOps.create(device);
      })(),
    );
  }
  return await cache.get(key)!;
}
