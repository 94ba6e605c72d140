/**
 * Counts WebGPU API calls process-wide by wrapping the prototypes' methods: what a step costs
 * on the CPU side (submits, uniform writes, dispatches, bind groups, buffers) and what crosses
 * between host and device (bytes written, bytes mapped for reading). For the step-overhead
 * benchmark and the tests that bound uploads and readbacks; never installed by the server.
 *
 * @example
 * ```ts ignore
 * const counter = countGpuCalls();
 * // ... work ...
 * counter.snapshot().submit; // queue submits so far
 * counter.stop();
 * ```
 */

export interface GpuCalls {
  submit: number;
  writeBuffer: number;
  /** Bytes handed to `writeBuffer`. */
  bytesWritten: number;
  /**
   * Bytes uploaded as data rather than as kernel parameters: `writeBuffer` calls of more than
   * {@link UNIFORM_BYTES} bytes, and buffers created mapped (how ORT stages host inputs).
   */
  bytesUploaded: number;
  createBuffer: number;
  createBindGroup: number;
  dispatch: number;
  mapAsync: number;
  /** Bytes of the ranges mapped for reading. */
  bytesRead: number;
  onSubmittedWorkDone: number;
}

const zero = (): GpuCalls => ({
  submit: 0,
  writeBuffer: 0,
  bytesWritten: 0,
  bytesUploaded: 0,
  createBuffer: 0,
  createBindGroup: 0,
  dispatch: 0,
  mapAsync: 0,
  bytesRead: 0,
  onSubmittedWorkDone: 0,
});

/** Writes up to this size count as kernel parameters (uniforms, a timestep), not uploads. */
export const UNIFORM_BYTES = 256;

let active: GpuCalls | undefined;
let installed = false;

function wrap<T extends object>(
  proto: T,
  name: string,
  count: (c: GpuCalls, self: never, args: unknown[]) => void,
): void {
  const p = proto as Record<string, unknown>;
  const orig = p[name] as (...a: unknown[]) => unknown;
  p[name] = function (this: never, ...args: unknown[]) {
    if (active) count(active, this, args);
    return orig.apply(this, args);
  };
}

function install(): void {
  if (installed || typeof GPUQueue === "undefined") return;
  installed = true;
  wrap(GPUQueue.prototype, "submit", (c) => c.submit++);
  wrap(GPUQueue.prototype, "onSubmittedWorkDone", (c) => c.onSubmittedWorkDone++);
  wrap(GPUQueue.prototype, "writeBuffer", (c, _s, a) => {
    c.writeBuffer++;
    const data = a[2] as ArrayBufferView | ArrayBuffer;
    const elem = ArrayBuffer.isView(data) && "BYTES_PER_ELEMENT" in data
      ? (data as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT
      : 1;
    const size = a[4] as number | undefined;
    const offset = (a[3] as number | undefined) ?? 0;
    const bytes = size !== undefined ? size * elem : data.byteLength - offset * elem;
    c.bytesWritten += bytes;
    if (bytes > UNIFORM_BYTES) c.bytesUploaded += bytes;
  });
  wrap(GPUDevice.prototype, "createBuffer", (c, _s, a) => {
    c.createBuffer++;
    const d = a[0] as GPUBufferDescriptor;
    if (d.mappedAtCreation && !(d.usage & GPUBufferUsage.MAP_READ)) c.bytesUploaded += d.size;
  });
  wrap(GPUDevice.prototype, "createBindGroup", (c) => c.createBindGroup++);
  wrap(GPUComputePassEncoder.prototype, "dispatchWorkgroups", (c) => c.dispatch++);
  wrap(GPUBuffer.prototype, "mapAsync", (c, self: GPUBuffer, a) => {
    c.mapAsync++;
    if ((a[0] as number) & GPUMapMode.READ) {
      c.bytesRead += (a[2] as number | undefined) ?? self.size - ((a[1] as number) ?? 0);
    }
  });
}

/** Starts counting (one counter at a time); `snapshot` reads, `stop` ends it. */
export function countGpuCalls(): { snapshot(): GpuCalls; stop(): void } {
  install();
  const counts = zero();
  active = counts;
  return {
    snapshot: () => ({ ...counts }),
    stop: () => {
      if (active === counts) active = undefined;
    },
  };
}

/** `b - a`, field by field, divided by `per`. */
export function perUnit(a: GpuCalls, b: GpuCalls, per: number): GpuCalls {
  const out = zero();
  for (const k of Object.keys(out) as (keyof GpuCalls)[]) out[k] = (b[k] - a[k]) / per;
  return out;
}
