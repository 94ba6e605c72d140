/**
 * A FLUX.1 folder in the diffusers / Optimum ONNX layout, read into the manifest the
 * pipeline runs on: `model_index.json`, `scheduler/scheduler_config.json`, the components'
 * `config.json`, and an optional `ralu.json` with what is ours (presets, preview projection,
 * sizes, defaults). FLUX.1-dev (guidance embeds) gets dynamic shifting, guidance 3.5 and 512
 * T5 tokens; schnell gets shift 1, 4 steps and 256 tokens.
 *
 * @example
 * ```ts ignore
 * import { fluxManifest } from "./flux_manifest.ts";
 * const m = await fluxManifest("/models/flux-tiny", "flux-tiny");
 * ```
 */
import { join } from "node:path";
import { type Manifest, type ManifestInput, parseManifest, shiftFor } from "../config/manifest.ts";

export type Json = Record<string, unknown>;

/** The components and where their graphs are, relative to the model folder. */
export const FLUX_FILES = {
  transformer: "transformer/model.onnx",
  text_encoder: "text_encoder/model.onnx",
  text_encoder_2: "text_encoder_2/model.onnx",
  vae_decoder: "vae_decoder/model.onnx",
} as const;

/** TeaCache's rescale polynomial for FLUX.1 as its authors fitted it (highest degree first). */
const FLUX_TEACACHE_RESCALE = [498.651651, -283.781631, 55.8554382, -3.82021401, 0.264230861];

/** TeaCache's indicator graph, where the folder has one (tools/export/indicator_graph.py). */
const INDICATOR = "transformer/indicator.onnx";
/** A step graph's conditioning graph, where the export split them (export_flux.py). */
const CONDITIONING = "transformer/conditioning.onnx";

/**
 * The transformer graphs a diffusers-layout folder has: model.onnx (fp32) and/or
 * model_fp16.onnx (fp16 with fp32 islands); `transformer` names the fp16 one when it is alone.
 */
export async function transformerFiles(
  dir: string,
): Promise<{ transformer: string; transformer_fp16?: string }> {
  const fp32 = "transformer/model.onnx", fp16 = "transformer/model_fp16.onnx";
  const [has32, has16] = [await fileExists(join(dir, fp32)), await fileExists(join(dir, fp16))];
  return {
    transformer: has32 || !has16 ? fp32 : fp16,
    ...(has16 ? { transformer_fp16: fp16 } : {}),
  };
}

export async function fileExists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** RALU presets for FLUX (RALU.md §4): the authors' 4x and 7x, and [1, 1, 2] for schnell. */
const DEV_PRESETS = {
  "4x": { N: [5, 6, 7], e: [0.3, 0.45, 1.0], r: 0.3 },
  "7x": { N: [2, 3, 5], e: [0.2, 0.3, 1.0], r: 0.2 },
  // RALU with TaylorSeer (RALU.md §5 reports 9.03x; its settings are not published): the DiT
  // on both steps of stage 1, steps 1–2 of stage 2 and 1, 2, 4 of stage 3; the other three
  // extrapolated. Not measured at FLUX scale here.
  "7x-taylor": {
    N: [2, 3, 5],
    e: [0.2, 0.3, 1.0],
    r: 0.2,
    cache: { method: "taylorseer" as const, interval: 2, order: 1 as const, warmup: 2 },
  },
};
const SCHNELL_PRESETS = { distilled: { N: [1, 1, 2], e: [0.3, 0.45, 1.0], r: 0.2 } };

export async function readJson(
  dir: string,
  file: string,
  required = true,
): Promise<Json | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(join(dir, file))) as Json;
  } catch (err) {
    if (!required && err instanceof Deno.errors.NotFound) return undefined;
    const why = err instanceof Deno.errors.NotFound ? "not found" : String(err);
    throw new Error(`${join(dir, file)}: ${why}`);
  }
}

export const num = (j: Json, key: string, file: string): number => {
  const v = j[key];
  if (typeof v !== "number") throw new Error(`${file}: "${key}" is missing or not a number`);
  return v;
};

export async function fluxManifest(dir: string, id: string): Promise<Manifest> {
  const index = (await readJson(dir, "model_index.json"))!;
  const sched = (await readJson(dir, "scheduler/scheduler_config.json"))!;
  const tcfg = (await readJson(dir, "transformer/config.json"))!;
  const vcfg = (await readJson(dir, "vae_decoder/config.json"))!;
  const t5cfg = await readJson(dir, "text_encoder_2/config.json", false);
  const clipcfg = await readJson(dir, "text_encoder/config.json", false);
  const ours = (await readJson(dir, "ralu.json", false)) ?? {};
  const tf = "transformer/config.json";
  const guidance = tcfg.guidance_embeds === true;
  const heads = num(tcfg, "num_attention_heads", tf);
  const hidden = heads * num(tcfg, "attention_head_dim", tf);
  const blocks = (vcfg.block_out_channels as number[] | undefined)?.length ?? 4;
  const latent = num(vcfg, "latent_channels", "vae_decoder/config.json");
  const dynamic = sched.use_dynamic_shifting === true;
  const dynamicShift = dynamic
    ? {
      base_image_seq_len: num(sched, "base_image_seq_len", "scheduler_config.json"),
      max_image_seq_len: num(sched, "max_image_seq_len", "scheduler_config.json"),
      base_shift: num(sched, "base_shift", "scheduler_config.json"),
      max_shift: num(sched, "max_shift", "scheduler_config.json"),
    }
    : undefined;
  const defaultSize = (ours.default_size as string | undefined) ?? "1024x1024";
  const [w, h] = defaultSize.split("x").map(Number);
  const factor = 2 ** (blocks - 1);
  const tokens = (w! / factor / 2) * (h! / factor / 2);
  const fixed = dynamic ? 1 : (sched.shift as number | undefined) ?? 1;
  const shift = shiftFor({ base_shift: fixed, dynamic_shift: dynamicShift }, tokens);
  const range = (ours.size_range as ManifestInput["size_range"]) ??
    { min: 256, max: 2048, multiple: 2 * factor };
  const input: ManifestInput = {
    id,
    description: (ours.description as string | undefined) ??
      `${String(index._class_name ?? "FluxPipeline")} (${
        guidance ? "guidance-distilled, dev-like" : "timestep-distilled, schnell-like"
      }) in the diffusers ONNX layout`,
    family: "flux",
    files: {
      ...FLUX_FILES,
      ...await transformerFiles(dir),
      ...(await fileExists(join(dir, INDICATOR)) ? { indicator: INDICATOR } : {}),
      ...(await fileExists(join(dir, CONDITIONING)) ? { conditioning: CONDITIONING } : {}),
    },
    rope_axes: (tcfg.axes_dims_rope as number[] | undefined) ?? [16, 56, 56],
    // TeaCache's published FLUX.1 fit (same indicator: the first double block's modulated
    // image input); ralu.json may give a model's own
    teacache_rescale: (ours.teacache_rescale as number[] | undefined) ?? FLUX_TEACACHE_RESCALE,
    latent_channels: latent,
    vae_scale_factor: factor,
    vae_scaling: (vcfg.scaling_factor as number | undefined) ?? 0.3611,
    vae_shift: (vcfg.shift_factor as number | undefined) ?? 0.1159,
    token_footprint_px: 2 * factor,
    max_text_tokens: (ours.max_sequence_length as number | undefined) ?? (guidance ? 512 : 256),
    text_dim: (t5cfg?.d_model as number | undefined) ?? num(tcfg, "joint_attention_dim", tf),
    pooled_dim: (clipcfg?.hidden_size as number | undefined) ??
      num(tcfg, "pooled_projection_dim", tf),
    base_shift: shift,
    ...(dynamicShift ? { dynamic_shift: dynamicShift } : {}),
    guidance_embed: guidance,
    default_steps: (ours.default_steps as number | undefined) ?? (guidance ? 50 : 4),
    default_guidance: (ours.default_guidance as number | undefined) ?? (guidance ? 3.5 : 0),
    default_size: defaultSize,
    sizes: (ours.sizes as string[] | undefined) ?? [defaultSize],
    size_range: range,
    architecture: {
      hidden,
      depth: num(tcfg, "num_layers", tf) + num(tcfg, "num_single_layers", tf),
      heads,
      mlp_ratio: 4,
    },
    preview: (ours.preview as ManifestInput["preview"]) ?? { weights: defaultPreview(latent) },
    // built-in presets are solved per size within NT-matching's usable limit; ralu.json's
    // are checked by the manifest schema (one with an explicit Z can still degenerate)
    presets: (ours.presets as ManifestInput["presets"]) ??
      (guidance ? DEV_PRESETS : SCHNELL_PRESETS),
    default_preset: (ours.default_preset as string | undefined) ?? (guidance ? "4x" : "distilled"),
  };
  return parseManifest(input);
}

/** Without a fitted projection (ralu.json `preview.weights`): channels 0–2 as R, G, B. */
export function defaultPreview(channels: number): number[][] {
  return [0, 1, 2].map((c) => {
    const row = new Array(channels + 1).fill(0);
    row[c % channels] = 0.5;
    return row;
  });
}
