/**
 * Where a model's folder is and what kind it is: `models/<id>/` under the asset roots (or
 * under `--models-dir`), holding either our `manifest.json` or a diffusers/Optimum
 * `model_index.json` (FLUX.1, or SD3 / SD3.5 when it names StableDiffusion3Pipeline). Either
 * way the result is one {@link Manifest}.
 *
 * @example
 * ```ts ignore
 * import { findModelDir, readModelManifest } from "./model_dir.ts";
 * const dir = await findModelDir("fixture");
 * const manifest = await readModelManifest(dir!, "fixture");
 * ```
 */
import { join } from "node:path";
import { assetRoots } from "../assets.ts";
import { type Manifest, parseManifest } from "../config/manifest.ts";
import { fluxManifest, readJson } from "./flux_manifest.ts";
import { sd3Manifest } from "./sd3_manifest.ts";

export const MODEL_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Folders that hold model folders, most specific first. */
export function modelRoots(modelsDir?: string): string[] {
  return [
    ...new Set([...(modelsDir ? [modelsDir] : []), ...assetRoots().map((r) => join(r, "models"))]),
  ];
}

const exists = async (path: string) => {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
};

/** The absolute folder of model `id`, or undefined when no root has it. */
export async function findModelDir(id: string, modelsDir?: string): Promise<string | undefined> {
  if (!MODEL_ID.test(id) || id.includes("..")) return undefined;
  for (const root of modelRoots(modelsDir)) {
    const dir = join(root, id);
    if (await exists(join(dir, "manifest.json")) || await exists(join(dir, "model_index.json"))) {
      return dir;
    }
  }
  return undefined;
}

/** Model ids found under every root (folders with a manifest.json or model_index.json). */
export async function listModelIds(modelsDir?: string): Promise<string[]> {
  const ids = new Set<string>();
  for (const root of modelRoots(modelsDir)) {
    try {
      for await (const e of Deno.readDir(root)) {
        if (e.isDirectory && MODEL_ID.test(e.name)) ids.add(e.name);
      }
    } catch {
      // this root has no models folder
    }
  }
  return [...ids].sort();
}

export async function readModelManifest(dir: string, id: string): Promise<Manifest> {
  if (await exists(join(dir, "model_index.json"))) {
    const index = await readJson(dir, "model_index.json");
    const sd3 = String(index?._class_name ?? "").startsWith("StableDiffusion3");
    return await (sd3 ? sd3Manifest(dir, id) : fluxManifest(dir, id));
  }
  return parseManifest(JSON.parse(await Deno.readTextFile(join(dir, "manifest.json"))));
}
