/**
 * Loads one ONNX graph file with its external data, checking first what would otherwise
 * fail late or silently: a missing or short data file, a data file too big for the
 * WebGPU runtime (no tensor past 4 GiB of one file: zeros or an overflow), weights too big for the wasm
 * EP's heap, and fp16 / bf16 graphs the device cannot run. Weights are handed to ORT as
 * Blobs that read their file only when ORT asks.
 *
 * @example
 * ```ts ignore
 * import { loadGraph } from "./load_graph.ts";
 * const { session, info } = await loadGraph("/models/flux/transformer/model.onnx", "webgpu");
 * ```
 */
import { basename, dirname, join } from "node:path";
import { BFLOAT16, FLOAT16, graphInfo } from "./graph_info.ts";
import { createSession, type Ep, type Session, type ShapeOptions } from "./ort.ts";

export const GiB = 2 ** 30;
/** ORT's WebGPU builds cannot place a tensor at an offset ≥ 4 GiB of one file (see ort.ts). */
export const MAX_DATA_FILE_BYTES = 4 * GiB;
/** The wasm EP keeps every weight in its 4 GiB heap, next to activations and the runtime. */
export const MAX_WASM_WEIGHT_BYTES = 3 * GiB;

export interface GraphLoad {
  file: string;
  /** Graph file bytes plus every external-data byte. */
  bytes: number;
  dataFiles: { file: string; bytes: number }[];
  fp16: boolean;
  inputNames: string[];
  outputNames: string[];
  /** Inputs of element type float16. */
  halfInputs: Set<string>;
  /** What may go wrong later (a weight larger than one GPU storage binding). */
  warnings: string[];
}

export class GraphLoadError extends Error {
  override name = "GraphLoadError";
}

/** A Blob over `[start, end)` of a file that reads from disk only when its bytes are asked for. */
export class FileBlob extends Blob {
  readonly #path: string;
  readonly #start: number;
  readonly #end: number;

  constructor(path: string, start: number, end: number) {
    super([]);
    this.#path = path;
    this.#start = start;
    this.#end = end;
  }

  override get size(): number {
    return this.#end - this.#start;
  }

  override slice(start = 0, end = this.size): Blob {
    const clamp = (v: number) => Math.max(0, Math.min(this.size, v < 0 ? this.size + v : v));
    return new FileBlob(this.#path, this.#start + clamp(start), this.#start + clamp(end));
  }

  override async arrayBuffer(): Promise<ArrayBuffer> {
    const out = new Uint8Array(this.size);
    using f = await Deno.open(this.#path, { read: true });
    await f.seek(this.#start, Deno.SeekMode.Start);
    for (let at = 0; at < out.length;) {
      const n = await f.read(out.subarray(at));
      if (n === null) throw new Error(`${this.#path}: ended at ${this.#start + at} bytes`);
      at += n;
    }
    return out.buffer;
  }

  override async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return new Uint8Array(await this.arrayBuffer());
  }

  override stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
    const chunk = 64 * 2 ** 20;
    let at = 0;
    return new ReadableStream({
      pull: async (c) => {
        if (at >= this.size) return c.close();
        const end = Math.min(this.size, at + chunk);
        c.enqueue(new Uint8Array(await this.slice(at, end).arrayBuffer()));
        at = end;
      },
    });
  }
}

export interface DeviceFeatures {
  /** Whether the WebGPU adapter has `shader-f16` (undefined: no adapter). */
  shaderF16?: boolean | undefined;
  /** The adapter's maxStorageBufferBindingSize (undefined: unknown). */
  maxBinding?: number | undefined;
}

/** Checks a graph against the EP before any weight is read; returns what will be loaded. */
export async function planGraph(
  file: string,
  ep: Ep,
  dev: DeviceFeatures = {},
): Promise<GraphLoad> {
  return await checkGraph(file, await Deno.readFile(file), ep, dev);
}

async function checkGraph(
  file: string,
  graph: Uint8Array,
  ep: Ep,
  dev: DeviceFeatures,
): Promise<GraphLoad> {
  const info = graphInfo(graph);
  const dir = dirname(file);
  const dataFiles: GraphLoad["dataFiles"] = [];
  for (const x of info.externalFiles) {
    const path = join(dir, x.location);
    if (x.location.includes("..") || x.location.startsWith("/")) {
      throw new GraphLoadError(`${file}: external data "${x.location}" is outside its folder`);
    }
    let size: number;
    try {
      size = (await Deno.stat(path)).size;
    } catch {
      throw new GraphLoadError(`${file}: external data file ${x.location} not found in ${dir}`);
    }
    if (size < x.bytes) {
      throw new GraphLoadError(
        `${path}: ${size} bytes, but the graph reads ${x.bytes} (the file is truncated)`,
      );
    }
    if (ep === "webgpu" && size >= MAX_DATA_FILE_BYTES) {
      throw new GraphLoadError(
        `${path}: ${
          (size / GiB).toFixed(2)
        } GiB; the WebGPU runtime cannot place tensors past 4 GiB of one file (they load as zeros or fail) — split it with tools/export/resplit_data.py, or re-export (tools/export/export_flux.py writes files under 2 GiB)`,
      );
    }
    dataFiles.push({ file: path, bytes: size });
  }
  const weights = info.inlineBytes + dataFiles.reduce((s, d) => s + d.bytes, 0);
  if (ep === "wasm" && weights > MAX_WASM_WEIGHT_BYTES) {
    throw new GraphLoadError(
      `${file}: ${
        (weights / GiB).toFixed(2)
      } GiB of weights do not fit the wasm EP, which holds every weight in its 4 GiB heap; run with --ep webgpu`,
    );
  }
  if (info.elementTypes.has(BFLOAT16)) {
    throw new GraphLoadError(`${file}: bfloat16 tensors; WGSL has no bf16 — export fp16 or fp32`);
  }
  const fp16 = info.elementTypes.has(FLOAT16);
  // the wasm EP runs fp16 graphs on its CPU kernels; WebGPU needs the adapter's shader-f16
  if (fp16 && ep === "webgpu" && !dev.shaderF16) {
    throw new GraphLoadError(
      `${file}: an fp16 graph, and this GPU adapter has no shader-f16 feature — use an fp32 export, --ep wasm, or another GPU`,
    );
  }
  const warnings: string[] = [];
  if (ep === "webgpu" && dev.maxBinding !== undefined && info.largest.bytes > dev.maxBinding) {
    // ORT then splits the weight over several bindings: the FLUX-width fp32 graphs (226 MiB
    // weights) ran so on llvmpipe's 128 MiB limit, but each split binding counts against the
    // adapter's storage buffers per shader, so the startup log says which weight it is
    warnings.push(
      `${file}: weight ${info.largest.name} is ${
        (info.largest.bytes / 2 ** 20).toFixed(0)
      } MiB, more than this adapter's storage binding limit (${
        (dev.maxBinding / 2 ** 20).toFixed(0)
      } MiB); ORT splits it across bindings — if a run fails with "Too many storage buffers", an fp16 export halves it`,
    );
  }
  return {
    file,
    bytes: graph.length + dataFiles.reduce((s, d) => s + d.bytes, 0),
    dataFiles,
    fp16,
    inputNames: info.inputNames,
    outputNames: info.outputNames,
    halfInputs: new Set(info.inputNames.filter((n) => info.types[n] === FLOAT16)),
    warnings,
  };
}

export interface LoadedGraph {
  session: Session;
  info: GraphLoad;
  /** Another session of the same graph for one shape (weights read again, lazily). */
  open(shape: ShapeOptions): Promise<Session>;
}

export async function loadGraph(
  file: string,
  ep: Ep,
  dev: DeviceFeatures = {},
): Promise<LoadedGraph> {
  const graph = await Deno.readFile(file);
  const info = await checkGraph(file, graph, ep, dev);
  const externalData = () =>
    info.dataFiles.map((d) => ({
      path: basename(d.file),
      data: new FileBlob(d.file, 0, d.bytes),
    }));
  const session = await createSession(graph, ep, externalData(), info.halfInputs);
  return {
    session,
    info,
    open: (shape) => createSession(graph, ep, externalData(), info.halfInputs, shape),
  };
}
