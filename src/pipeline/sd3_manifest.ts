/**
 * A Stable Diffusion 3 / 3.5 folder in the diffusers layout, exported by
 * tools/export/export_sd3.py, read into the manifest the pipeline runs on: `model_index.json`
 * (StableDiffusion3Pipeline), the scheduler's shift, the components' `config.json`, and an
 * optional `ralu.json` (presets, preview projection, sizes, defaults, `positions_low`). The
 * DiT is token-level: SD3's patch tokens in (dy, dx, c) order, timesteps in scheduler units,
 * absolute (row, col) positions in its sin-cos table, which bounds the sizes it takes.
 *
 * @example
 * ```ts ignore
 * import { sd3Manifest } from "./sd3_manifest.ts";
 * const m = await sd3Manifest("/models/sd3-tiny", "sd3-tiny");
 * ```
 */
import { join } from "node:path";
import { type Manifest, type ManifestInput, parseManifest } from "../config/manifest.ts";
import { defaultPreview, fileExists, num, readJson, transformerFiles } from "./flux_manifest.ts";

/** The components and where their graphs are, relative to the model folder. */
export const SD3_FILES = {
  transformer: "transformer/model.onnx",
  text_encoder: "text_encoder/model.onnx",
  text_encoder_2: "text_encoder_2/model.onnx",
  vae_decoder: "vae_decoder/model.onnx",
} as const;
const T5 = "text_encoder_3/model.onnx";

/** CLIP's fixed length; each CLIP's hidden states fill these rows of the conditioning. */
export const SD3_CLIP_TOKENS = 77;

/** RALU presets for SD3 (RALU.md §4, the paper's 2x and 3x). */
const PRESETS = {
  "2x": { N: [5, 6, 9], e: [0.2, 0.3, 1.0], r: 0.3 },
  "3x": { N: [3, 3, 6], e: [0.25, 0.3, 1.0], r: 0.2 },
};

export async function sd3Manifest(dir: string, id: string): Promise<Manifest> {
  const index = (await readJson(dir, "model_index.json"))!;
  const sched = (await readJson(dir, "scheduler/scheduler_config.json"))!;
  const tcfg = (await readJson(dir, "transformer/config.json"))!;
  const vcfg = (await readJson(dir, "vae_decoder/config.json"))!;
  const ours = (await readJson(dir, "ralu.json", false)) ?? {};
  const tf = "transformer/config.json";
  const patch = (tcfg.patch_size as number | undefined) ?? 2;
  if (patch !== 2) throw new Error(`${tf}: patch_size ${patch}; RALU's tokens are 2x2 patches`);
  const latent = num(vcfg, "latent_channels", "vae_decoder/config.json");
  const cin = (tcfg.in_channels as number | undefined) ?? 16;
  if (cin !== latent) {
    throw new Error(`${tf}: in_channels ${cin} but the VAE has ${latent} latent channels`);
  }
  const heads = num(tcfg, "num_attention_heads", tf);
  const tableMax = num(tcfg, "pos_embed_max_size", tf);
  const blocks = (vcfg.block_out_channels as number[] | undefined)?.length ?? 4;
  const factor = 2 ** (blocks - 1);
  const hasT5 = await fileExists(join(dir, T5));
  const t5Tokens = (ours.max_sequence_length as number | undefined) ?? 256;
  const defaultSize = (ours.default_size as string | undefined) ?? "1024x1024";
  const reach = tableMax * 2 * factor; // the table's width in pixels
  const input: ManifestInput = {
    id,
    description: (ours.description as string | undefined) ??
      `${String(index._class_name)} (${tcfg.qk_norm ? "SD3.5" : "SD3"}, ${
        hasT5 ? "with" : "without"
      } T5) in the diffusers ONNX layout`,
    family: "sd3",
    files: {
      ...SD3_FILES,
      ...await transformerFiles(dir),
      ...(hasT5 ? { text_encoder_3: T5 } : {}),
    },
    latent_channels: latent,
    vae_scale_factor: factor,
    vae_scaling: (vcfg.scaling_factor as number | undefined) ?? 1.5305,
    vae_shift: (vcfg.shift_factor as number | undefined) ?? 0.0609,
    token_footprint_px: 2 * factor,
    // both CLIPs' 77 rows, then T5's (diffusers: 77 rows of zeros without T5)
    max_text_tokens: SD3_CLIP_TOKENS + (hasT5 ? t5Tokens : SD3_CLIP_TOKENS),
    text_dim: num(tcfg, "joint_attention_dim", tf),
    pooled_dim: num(tcfg, "pooled_projection_dim", tf),
    base_shift: (sched.shift as number | undefined) ?? 3,
    timestep_scale: (sched.num_train_timesteps as number | undefined) ?? 1000,
    token_order: "dy_dx_c",
    positions: {
      max: tableMax,
      low: (ours.positions_low as "half" | "full" | undefined) ?? "half",
    },
    default_steps: (ours.default_steps as number | undefined) ?? 28,
    default_guidance: (ours.default_guidance as number | undefined) ?? 7,
    default_size: defaultSize,
    sizes: (ours.sizes as string[] | undefined) ?? [defaultSize],
    size_range: (ours.size_range as ManifestInput["size_range"]) ??
      { min: Math.min(256, reach), max: reach, multiple: 2 * factor },
    architecture: {
      hidden: heads * num(tcfg, "attention_head_dim", tf),
      depth: num(tcfg, "num_layers", tf),
      heads,
      mlp_ratio: 4,
    },
    preview: (ours.preview as ManifestInput["preview"]) ?? { weights: defaultPreview(latent) },
    presets: (ours.presets as ManifestInput["presets"]) ?? PRESETS,
    default_preset: (ours.default_preset as string | undefined) ?? "2x",
  };
  const m = parseManifest(input);
  const r = m.size_range!;
  if (r.max > reach) {
    throw new Error(
      `ralu.json: size_range.max ${r.max} is beyond the position table's reach (${tableMax} patches = ${reach} px)`,
    );
  }
  return m;
}
