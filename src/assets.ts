/**
 * The one place that finds files the server ships with: models, shaders and the ORT
 * wasm binary. It looks, in order, under `$RALU_HOME`, beside the main module (which is
 * where `deno compile --include` puts embedded files), and under the working directory.
 *
 * @example
 * ```ts
 * import { readAsset } from "./assets.ts";
 * const wgsl = await readAsset("shaders/euler.wgsl");
 * ```
 */
import { dirname, isAbsolute, join, normalize } from "node:path";
import { fromFileUrl } from "./_file_url.ts";

/** Roots searched for assets, most specific first. */
export function assetRoots(): string[] {
  const roots: string[] = [];
  const home = Deno.env.get("RALU_HOME");
  if (home) roots.push(home);
  roots.push(dirname(dirname(fromFileUrl(import.meta.url))));
  roots.push(Deno.cwd());
  return [...new Set(roots)];
}

/** Rejects absolute paths and `..` so a request can never name a file outside the roots. */
export function safeRelative(path: string): string {
  const norm = normalize(path).replaceAll("\\", "/");
  if (isAbsolute(norm) || norm.startsWith("../") || norm === ".." || norm.includes("/../")) {
    throw new Error(`asset path escapes the asset roots: ${path}`);
  }
  return norm;
}

/** Absolute path of the first root that has `path`, or undefined. */
export async function findAsset(path: string): Promise<string | undefined> {
  const rel = safeRelative(path);
  for (const root of assetRoots()) {
    const full = join(root, rel);
    try {
      await Deno.stat(full);
      return full;
    } catch {
      // not under this root
    }
  }
  return undefined;
}

/** Reads an asset's bytes; throws a clear error naming every root it tried. */
export async function readAsset(path: string): Promise<Uint8Array> {
  const full = await findAsset(path);
  if (!full) throw new Error(`asset not found: ${path} (looked in ${assetRoots().join(", ")})`);
  return await Deno.readFile(full);
}

/** Reads an asset as UTF-8 text. */
export async function readAssetText(path: string): Promise<string> {
  return new TextDecoder().decode(await readAsset(path));
}

/** Lists the sub-directories of an asset directory (e.g. the installed models). */
export async function listAssetDirs(path: string): Promise<string[]> {
  const names = new Set<string>();
  for (const root of assetRoots()) {
    try {
      for await (const e of Deno.readDir(join(root, safeRelative(path)))) {
        if (e.isDirectory) names.add(e.name);
      }
    } catch {
      // not under this root
    }
  }
  return [...names].sort();
}
