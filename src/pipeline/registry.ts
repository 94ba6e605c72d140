/**
 * The installed models (directories under `models/` with a manifest) and the loaded ones.
 *
 * @example
 * ```ts ignore
 * import { ModelRegistry } from "./registry.ts";
 * const reg = new ModelRegistry("default", "wasm");
 * const model = await reg.get(); // the default model
 * ```
 */
import type { Manifest } from "../config/manifest.ts";
import { HttpError } from "../http/errors.ts";
import type { Ep } from "../onnx/ort.ts";
import { type LoadedModel, loadModel } from "./model.ts";
import type { KernelMode } from "../kernels/select.ts";
import type { PrecisionMode } from "./precision.ts";
import { findModelDir, listModelIds, MODEL_ID, readModelManifest } from "./model_dir.ts";

export class ModelRegistry {
  readonly #loaded = new Map<string, Promise<LoadedModel>>();

  constructor(
    readonly defaultId: string,
    readonly ep: Ep,
    readonly kernels: KernelMode = "auto",
    /** A folder of model folders searched before the built-in `models/`. */
    readonly modelsDir?: string,
    readonly precision: PrecisionMode = "auto",
  ) {}

  /** Manifests of every installed model (ours and diffusers-layout FLUX folders). */
  async list(): Promise<Manifest[]> {
    const out: Manifest[] = [];
    for (const id of await listModelIds(this.modelsDir)) {
      const dir = await findModelDir(id, this.modelsDir);
      if (!dir) continue;
      try {
        out.push(await readModelManifest(dir, id));
      } catch {
        // a directory without a valid description is not a model
      }
    }
    return out;
  }

  /** The 404 for a model that is not installed, naming those that are. */
  async missing(id: string): Promise<HttpError> {
    const installed = (await this.list()).map((m) => m.id);
    return new HttpError(
      404,
      `model "${id}" does not exist; installed: ${installed.join(", ") || "none"}`,
      "model",
      "model_not_found",
    );
  }

  /** A loaded model; 404 for a name that is not installed (names never leave `models/`). */
  async get(id: string = this.defaultId): Promise<LoadedModel> {
    if (!MODEL_ID.test(id) || id.includes("..")) {
      throw await this.missing(id);
    }
    const current = await this.#loaded.get(id)?.catch(() => undefined);
    if (current && !current.usable) {
      // the GPU device was lost: drop the model, rebuild device, kernels and sessions
      this.#loaded.delete(id);
      await current.release().catch(() => undefined);
      console.error(`model ${id}: GPU device lost; reloading`);
    }
    if (!this.#loaded.has(id)) {
      if (!(await findModelDir(id, this.modelsDir))) {
        throw await this.missing(id);
      }
      const p = loadModel(id, this.ep, this.kernels, this.modelsDir, this.precision);
      p.catch(() => this.#loaded.delete(id));
      this.#loaded.set(id, p);
    }
    return await this.#loaded.get(id)!;
  }

  /** A model's manifest without loading it (API processes of a cluster validate with it). */
  async manifest(id: string = this.defaultId): Promise<Manifest> {
    const dir = await findModelDir(id, this.modelsDir); // undefined for ids that are not names
    if (!dir) throw await this.missing(id);
    return await readModelManifest(dir, id);
  }

  /** The models loaded so far (those still loading or failed are left out). */
  async loaded(): Promise<LoadedModel[]> {
    const all = await Promise.allSettled(this.#loaded.values());
    return all.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  }

  loadedIds(): string[] {
    return [...this.#loaded.keys()];
  }

  async releaseAll(): Promise<void> {
    for (const p of this.#loaded.values()) await (await p).release();
    this.#loaded.clear();
  }
}
