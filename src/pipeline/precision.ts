/**
 * Which transformer graph a model runs: fp32 (`transformer/model.onnx`) or fp16 with fp32
 * islands (`transformer/model_fp16.onnx`, tools/export/mixed_precision.py). Chosen at load:
 * fp16 where the WebGPU adapter has `shader-f16` and the folder has the fp16 graph, fp32
 * otherwise; `--precision fp32|fp16` forces one. Reported in `/health`.
 *
 * @example
 * ```ts
 * import { choosePrecision } from "./precision.ts";
 * const files = { fp32: "t/model.onnx", fp16: "t/model_fp16.onnx" };
 * choosePrecision(files, "webgpu", true, "auto").file; // "t/model_fp16.onnx"
 * choosePrecision(files, "wasm", undefined, "auto").file; // "t/model.onnx"
 * ```
 */
import type { Ep } from "../onnx/ort.ts";

export type PrecisionMode = "auto" | "fp32" | "fp16";

/** The transformer graph to load, and why (for `/health` and the startup log). */
export interface PrecisionChoice {
  file: string;
  /** What the choice aims at; loadModel reports what the loaded graph's weights hold. */
  precision: "fp32" | "fp16";
  reason: string;
}

/** The fp32 and fp16 transformer graphs a folder has (either may be absent). */
export interface PrecisionFiles {
  fp32?: string | undefined;
  fp16?: string | undefined;
}

export class PrecisionError extends Error {}

export function choosePrecision(
  files: PrecisionFiles,
  ep: Ep,
  shaderF16: boolean | undefined,
  mode: PrecisionMode,
): PrecisionChoice {
  const need = (p: "fp32" | "fp16") => {
    const file = files[p];
    if (!file) {
      const name = p === "fp16" ? "transformer/model_fp16.onnx" : "transformer/model.onnx";
      throw new PrecisionError(
        `--precision ${p}: the model has no ${p} transformer graph (${name}; export_flux.py / export_sd3.py --dtype ${p} or both)`,
      );
    }
    return file;
  };
  if (mode !== "auto") return { file: need(mode), precision: mode, reason: "--precision" };
  if (files.fp16 && ep === "webgpu" && shaderF16) {
    return { file: files.fp16, precision: "fp16", reason: "the adapter has shader-f16" };
  }
  if (files.fp32) {
    const why = !files.fp16
      ? "the only transformer graph"
      : ep !== "webgpu"
      ? "the wasm EP (its CPU kernels gain nothing from fp16)"
      : "the adapter has no shader-f16";
    return { file: files.fp32, precision: "fp32", reason: why };
  }
  return { file: need("fp16"), precision: "fp16", reason: "the only transformer graph" };
}
