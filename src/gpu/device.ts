/**
 * The GPUDevice our kernels run on. On the WebGPU EP it must be ORT's own device (buffers
 * are shared zero-copy); otherwise any adapter will do, including a software one, since
 * the kernels are small. Returns undefined where WebGPU is unavailable.
 *
 * @example
 * ```ts ignore
 * import { kernelDevice } from "./device.ts";
 * const device = await kernelDevice("wasm");
 * ```
 */
import { type Ep, ortGpuDevice } from "../onnx/ort.ts";

let own: Promise<GPUDevice | undefined> | undefined;

export function kernelDevice(ep: Ep): Promise<GPUDevice | undefined> {
  if (ep === "webgpu") return ortGpuDevice();
  own ??= (async () => {
    if (!("gpu" in navigator)) return undefined;
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return undefined;
    const device = await adapter.requestDevice({
      label: "ralu-kernels",
      requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize },
    });
    device.lost.then(() => (own = undefined));
    return device;
  })().catch(() => undefined);
  return own;
}
