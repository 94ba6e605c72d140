/**
 * The only module that imports onnxruntime-web. It picks the execution provider, loads
 * the wasm binary through the asset loader (so it works from a compiled binary), creates
 * sessions from bytes, and serialises runs per session.
 *
 * @example
 * ```ts
 * import { createSession } from "./ort.ts";
 * const s = await createSession(await Deno.readFile("models/fixture/vae_decoder.onnx"), "wasm");
 * ```
 */
import * as ortWasm from "onnxruntime-web";
import * as ortGpu from "onnxruntime-web/jspi";
import { readAsset } from "../assets.ts";
import { nameVendors } from "../gpu/vendor.ts";

export type Ep = "wasm" | "webgpu";

type Ort = typeof ortWasm;

const WASM_DIR = "node_modules/onnxruntime-web/dist/";
const runtimes: Partial<Record<Ep, Promise<Ort>>> = {};

/**
 * The WebGPU EP runs on ORT's JSPI build: it reads external data through the file-backed Blobs
 * it is handed, and loading FLUX-width weights (2.03 GiB) peaked at 3.1 GiB of host memory
 * against 4.9 GiB on the asyncify build (llvmpipe, where GPU buffers are host memory too).
 * Neither places a tensor past 4 GiB of one file (JSPI, measured: "Integer overflow" at load;
 * asyncify, as reported: zeros, silently), so load_graph.ts refuses such files first.
 */
async function runtime(ep: Ep): Promise<Ort> {
  runtimes[ep] ??= (async () => {
    const ort = (ep === "wasm" ? ortWasm : ortGpu) as Ort;
    // ORT reads the adapter's vendor by name, as browsers report it (src/gpu/vendor.ts)
    if (ep === "webgpu") nameVendors();
    // One thread: with 2, runs stalled for good in 4 of 8 tries once the FLUX miniature's
    // four sessions (external data) were loaded after other sessions — each session takes
    // pool threads and a new worker cannot start while the main thread waits for it. One
    // thread costs ~20% on the default model (20 steps: 1.06 s → 1.28 s) and never stalls.
    // The WebGPU build runs its kernels on the GPU anyway.
    ort.env.wasm.numThreads = 1;
    ort.env.logLevel = "error";
    ort.env.wasm.wasmBinary = await readAsset(
      WASM_DIR +
        (ep === "wasm" ? "ort-wasm-simd-threaded.wasm" : "ort-wasm-simd-threaded.jspi.wasm"),
    );
    return ort;
  })();
  return await runtimes[ep]!;
}

/** What the GPU adapter is, and whether it is a real GPU (llvmpipe and other CPU fallbacks are not). */
export interface AdapterInfo {
  description: string;
  isRealGpu: boolean;
  /** The adapter's features (e.g. `shader-f16`). */
  features: Set<string>;
  /** The adapter's limit on one storage binding (a weight larger than it must be split). */
  limits: { maxStorageBufferBindingSize: number };
}

let adapterInfo: Promise<AdapterInfo | undefined> | undefined;

export function probeAdapter(): Promise<AdapterInfo | undefined> {
  adapterInfo ??= (async () => {
    if (!("gpu" in navigator)) return undefined;
    nameVendors();
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return undefined;
    const info = adapter.info;
    const description = `${info.vendor} ${info.description || info.device}`.trim();
    const software = info.isFallbackAdapter ||
      /llvmpipe|lavapipe|swiftshader|softpipe/i.test(description);
    return {
      description,
      isRealGpu: !software,
      features: new Set([...adapter.features]),
      limits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize },
    };
  })();
  return adapterInfo;
}

/** `auto` takes WebGPU only for a real GPU: a CPU adapter runs the DiT ~3x slower than wasm. */
export async function chooseEp(pref: "auto" | Ep): Promise<Ep> {
  if (pref !== "auto") return pref;
  const info = await probeAdapter();
  return info?.isRealGpu ? "webgpu" : "wasm";
}

export type TensorData = Float32Array | BigInt64Array;

/** A tensor on the CPU (`data`) or, on the WebGPU EP, in a GPU buffer owned by ORT. */
export interface HostTensor {
  data: Float32Array;
  dims: number[];
}

/** A GPU buffer fed as is, in the graph's dtype for that input. */
export interface BufferFeed {
  buffer: GPUBuffer;
  dims: number[];
}

/** A feed or output made once by {@link Session.bind} (an ORT tensor, opaque here). */
export type Bound = { readonly dims: readonly number[] };

export type DeviceFeed = { data: TensorData; dims: number[] } | {
  buffer: GPUBuffer;
  dims: number[];
};

/** An output left on the GPU by the WebGPU EP. */
export interface DeviceTensor {
  buffer: GPUBuffer;
  dims: number[];
  dispose: () => void;
}

/** One ONNX session; runs are queued so concurrent callers never overlap. */
/** Device tensors handed out by {@link Session.runOnDevice} and not yet disposed (metrics). */
export const liveDeviceTensors = { count: 0 };

export class Session {
  #chain: Promise<unknown> = Promise.resolve();
  constructor(
    readonly ep: Ep,
    private readonly ort: Ort,
    private readonly session: ortWasm.InferenceSession,
    /** Inputs the graph takes as float16 (fed from Float32Array data, converted here). */
    private readonly halfInputs: ReadonlySet<string> = new Set(),
  ) {}

  #tensor(name: string, data: TensorData, dims: number[]): ortWasm.Tensor {
    if (data instanceof BigInt64Array) return new this.ort.Tensor("int64", data, dims);
    if (this.halfInputs.has(name)) {
      return new this.ort.Tensor("float16", new Float16Array(data) as unknown as Uint16Array, dims);
    }
    return new this.ort.Tensor("float32", data, dims);
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  /** Runs with CPU tensors and returns CPU tensors. */
  run(
    feeds: Record<string, { data: TensorData; dims: number[] }>,
  ): Promise<Record<string, HostTensor>> {
    const next = this.#chain.then(async () => {
      const ortFeeds: Record<string, ortWasm.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) {
        ortFeeds[name] = this.#tensor(name, t.data, t.dims);
      }
      return await hostOutputs(await this.session.run(ortFeeds));
    });
    this.#chain = next.catch(() => undefined);
    return next;
  }

  /**
   * WebGPU EP only: runs with inputs that may be GPU buffers (ORT's device) and returns
   * outputs that stay GPU buffers; the caller disposes them.
   */
  runOnDevice(feeds: Record<string, DeviceFeed>): Promise<Record<string, DeviceTensor>> {
    const next = this.#chain.then(async () => {
      const ortFeeds: Record<string, ortWasm.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) {
        ortFeeds[name] = "buffer" in t
          ? this.ort.Tensor.fromGpuBuffer(t.buffer, { dataType: "float32", dims: t.dims })
          : this.#tensor(name, t.data, t.dims);
      }
      const out = await this.session.run(ortFeeds);
      const result: Record<string, DeviceTensor> = {};
      for (const [name, t] of Object.entries(out)) {
        liveDeviceTensors.count++;
        let disposed = false;
        result[name] = {
          buffer: t.gpuBuffer as GPUBuffer,
          dims: [...t.dims],
          dispose: () => {
            if (!disposed) liveDeviceTensors.count--;
            disposed = true;
            t.dispose();
          },
        };
      }
      return result;
    });
    this.#chain = next.catch(() => undefined);
    return next;
  }

  /**
   * A feed made once and handed to {@link runBound} on every run: host data (converted to
   * float16 where the graph takes it), or a GPU buffer of ORT's device in the graph's dtype.
   */
  bind(name: string, t: { data: TensorData; dims: number[] } | BufferFeed): Bound {
    return "buffer" in t
      ? this.ort.Tensor.fromGpuBuffer(t.buffer, {
        dataType: this.halfInputs.has(name) ? "float16" : "float32",
        dims: t.dims,
      })
      : this.#tensor(name, t.data, t.dims);
  }

  /**
   * Runs with feeds made by {@link bind}. With `outputs` (GPU buffers bound the same way)
   * ORT writes into them — what graph capture replays — and nothing is returned; without,
   * outputs come back on the host. `before` runs in this session's turn, right before ORT
   * does: per-run writes into bound buffers go there, so no other run can come between.
   */
  async runBound(
    feeds: Record<string, Bound>,
    outputs?: Record<string, Bound>,
    before?: () => void,
  ): Promise<Record<string, HostTensor>> {
    const next = this.#chain.then(async () => {
      before?.();
      const out = outputs
        ? await this.session.run(feeds as Record<string, ortWasm.Tensor>, outputs as never)
        : await this.session.run(feeds as Record<string, ortWasm.Tensor>);
      if (outputs) return {};
      return await hostOutputs(out);
    });
    this.#chain = next.catch(() => undefined);
    return await next;
  }

  async release(): Promise<void> {
    await this.#chain;
    await this.session.release();
  }
}

/** ORT's outputs copied to host arrays (float16 ones widened), the tensors disposed. */
async function hostOutputs(
  out: Record<string, ortWasm.Tensor>,
): Promise<Record<string, HostTensor>> {
  const result: Record<string, HostTensor> = {};
  for (const [name, t] of Object.entries(out)) {
    const data = t.location === "cpu" ? t.data : await t.getData(true);
    result[name] = { data: Float32Array.from(data as ArrayLike<number>), dims: [...t.dims] };
    t.dispose();
  }
  return result;
}

/** An external-data file a graph names, with its bytes or a Blob that reads them on demand. */
export interface ExternalData {
  path: string;
  data: Uint8Array | Blob;
}

/** A session for one shape: its free dimensions fixed, and (WebGPU) its run captured and replayed. */
export interface ShapeOptions {
  /** Values for the graph's symbolic dimensions: shape nodes fold away at load. */
  dims: Record<string, number>;
  /** WebGPU EP: record the first run's GPU commands and replay them (inputs and outputs bound). */
  capture?: boolean;
}

export async function createSession(
  bytes: Uint8Array,
  ep: Ep,
  externalData: ExternalData[] = [],
  halfInputs: ReadonlySet<string> = new Set(),
  shape?: ShapeOptions,
): Promise<Session> {
  const ort = await runtime(ep);
  const session = await ort.InferenceSession.create(bytes, {
    // graph capture is read from the EP's own options: the EP must be named as an object
    executionProviders: [ep === "webgpu" ? { name: "webgpu" } : ep],
    ...(shape ? { freeDimensionOverrides: shape.dims } : {}),
    ...(shape?.capture && ep === "webgpu" ? { enableGraphCapture: true } : {}),
    logSeverityLevel: 3, // errors only: node placement notes are not the user's concern
    ...(externalData.length ? { externalData } : {}),
    graphOptimizationLevel: "all",
    // on WebGPU, outputs stay on the device; `run` downloads them, `runOnDevice` does not
    ...(ep === "webgpu" ? { preferredOutputLocation: "gpu-buffer" as const } : {}),
  });
  return new Session(ep, ort, session, halfInputs);
}

/**
 * Loads the graph for `ep` (with `shape`'s dimensions fixed) with ORT's verbose log on, which
 * goes to stderr and says where each node runs ("Node(s) placed on [EP]. Number of nodes: N").
 * For the benchmark, which runs it in a child process and reads that log.
 */
export async function logNodePlacement(
  bytes: Uint8Array,
  ep: Ep,
  shape?: ShapeOptions,
): Promise<void> {
  const ort = await runtime(ep);
  ort.env.logLevel = "verbose";
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: [ep],
    logSeverityLevel: 0,
    logVerbosityLevel: 0,
    graphOptimizationLevel: "all",
    ...(shape ? { freeDimensionOverrides: shape.dims } : {}),
  });
  await session.release();
}

/** ORT's own GPUDevice (WebGPU EP only): our kernels must share it for zero-copy buffers. */
export async function ortGpuDevice(): Promise<GPUDevice | undefined> {
  const ort = await runtime("webgpu");
  return await (ort.env.webgpu as unknown as { device: Promise<GPUDevice> }).device;
}
