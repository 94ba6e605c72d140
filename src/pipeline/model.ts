/**
 * A loaded model: its manifest, tokenizer and three ONNX sessions, behind the small
 * surface the samplers need (text conditioning, velocity, decode).
 *
 * @example
 * ```ts
 * import { loadModel } from "./model.ts";
 * const m = await loadModel("fixture", "wasm");
 * const cond = await m.encodePrompt("a red circle");
 * ```
 */
import { type Manifest, parseManifest } from "../config/manifest.ts";
import { readAsset, readAssetText, safeRelative } from "../assets.ts";
import { createSession, type Ep, type Session } from "../onnx/ort.ts";
import { WordTokenizer } from "./tokenizer.ts";
import { GpuOps } from "../kernels/gpu_ops.ts";
import { type KernelMode, type Kernels, selectKernels } from "../kernels/select.ts";
import type { Backend } from "../samplers/backend.ts";
import { cpuBackend } from "../samplers/cpu_backend.ts";
import { gpuBackend } from "../samplers/gpu_backend.ts";
import { affine } from "../kernels/euler_cpu.ts";

export interface Conditioning {
  /** `[L, D_txt]` */
  text: Float32Array;
  /** `[D_txt]` */
  pooled: Float32Array;
}

export class LoadedModel {
  /** Network evaluations since load (for metrics). */
  evaluations = 0;

  constructor(
    readonly manifest: Manifest,
    readonly ep: Ep,
    readonly tokenizer: WordTokenizer,
    private readonly textEncoder: Session,
    private readonly transformer: Session,
    private readonly vae: Session,
    /** Where RALU's kernels run for this model. */
    readonly kernels: Kernels,
  ) {}

  get id(): string {
    return this.manifest.id;
  }

  /** False once the GPU device its kernels (and, on the WebGPU EP, sessions) run on is lost. */
  get usable(): boolean {
    return !(this.kernels instanceof GpuOps && this.kernels.lost);
  }

  async encodePrompt(prompt: string): Promise<Conditioning> {
    const ids = this.tokenizer.encode(prompt);
    const out = await this.textEncoder.run({ input_ids: { data: ids, dims: [1, ids.length] } });
    return { text: out.last_hidden_state!.data, pooled: out.pooled_output!.data };
  }

  /**
   * Velocity (noise − data) for `n` packed tokens at noise level `sigma`, one per
   * conditioning, in a single batched call (guidance's two branches cost one run).
   */
  /**
   * One run's backend: the DiT with guidance `g` over `conds` ([cond] or [cond, uncond]),
   * the VAE, and the kernels — CPU arrays, or GPU buffers on the kernel device. On the
   * WebGPU EP with GPU kernels the DiT and VAE read and write those buffers directly.
   */
  backend(conds: Conditioning[], g: number): Backend {
    const arrays = {
      velocity: async (x: Float32Array, ids: Float32Array, sigma: number) => {
        const [vc, vu] = await this.velocity(x, ids, sigma, conds) as [Float32Array, Float32Array?];
        if (!vu) return vc;
        const out = new Float32Array(vc.length);
        for (let i = 0; i < vc.length; i++) out[i] = vu[i]! + g * (vc[i]! - vu[i]!);
        return out;
      },
      decode: (latent: Float32Array, h: number, w: number) => this.decode(latent, h, w),
    };
    const gpu = this.kernels;
    if (!(gpu instanceof GpuOps)) return cpuBackend(arrays.velocity, arrays.decode);
    if (this.ep !== "webgpu") return gpuBackend(gpu, { arrays });
    return gpuBackend(gpu, {
      velocity: (x, ids, sigma) => this.velocityOnDevice(x, ids, sigma, conds, g, gpu),
      decode: (latent, h, w) => this.decodeOnDevice(latent, h, w, gpu),
    });
  }

  async velocity(
    tokens: Float32Array,
    ids: Float32Array,
    sigma: number,
    conds: Conditioning[],
  ): Promise<Float32Array[]> {
    const m = this.manifest;
    const n = ids.length / 3;
    const L = m.max_text_tokens;
    const B = conds.length;
    const batched = (parts: Float32Array[]) => {
      const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
      let o = 0;
      for (const p of parts) {
        out.set(p, o);
        o += p.length;
      }
      return out;
    };
    this.evaluations += B;
    const out = await this.transformer.run({
      hidden_states: {
        data: batched(conds.map(() => tokens)),
        dims: [B, n, 4 * m.latent_channels],
      },
      encoder_hidden_states: { data: batched(conds.map((c) => c.text)), dims: [B, L, m.text_dim] },
      pooled_projections: { data: batched(conds.map((c) => c.pooled)), dims: [B, m.text_dim] },
      timestep: { data: new Float32Array(B).fill(sigma), dims: [B] },
      img_ids: { data: ids, dims: [n, 3] },
      txt_ids: { data: new Float32Array(L * 3), dims: [L, 3] },
    });
    const v = out.out_hidden_states!.data;
    return conds.map((_, b) => v.subarray(b * tokens.length, (b + 1) * tokens.length));
  }

  /**
   * WebGPU EP: the same as {@link velocity} with the latent already on ORT's device and
   * the guided velocity left there (a pooled buffer of `gpu`, released by the caller).
   */
  async velocityOnDevice(
    x: GPUBuffer,
    ids: Float32Array,
    sigma: number,
    conds: Conditioning[],
    guidance: number,
    gpu: GpuOps,
  ): Promise<GPUBuffer> {
    const m = this.manifest;
    const n = ids.length / 3;
    const L = m.max_text_tokens;
    const B = conds.length;
    const count = n * 4 * m.latent_channels;
    const batch = gpu.ctx.empty(B * count * 4, "dit batch");
    for (let b = 0; b < B; b++) gpu.ctx.copyInto(x, batch, count * 4, b * count * 4);
    const cat = (parts: Float32Array[]) => {
      const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
      parts.reduce((o, p) => (out.set(p, o), o + p.length), 0);
      return out;
    };
    this.evaluations += B;
    const out = await this.transformer.runOnDevice({
      hidden_states: { buffer: batch, dims: [B, n, 4 * m.latent_channels] },
      encoder_hidden_states: { data: cat(conds.map((c) => c.text)), dims: [B, L, m.text_dim] },
      pooled_projections: { data: cat(conds.map((c) => c.pooled)), dims: [B, m.text_dim] },
      timestep: { data: new Float32Array(B).fill(sigma), dims: [B] },
      img_ids: { data: ids, dims: [n, 3] },
      txt_ids: { data: new Float32Array(L * 3), dims: [L, 3] },
    });
    gpu.ctx.release(batch);
    const v = out.out_hidden_states!;
    let guided: GPUBuffer;
    if (B === 2) {
      guided = gpu.k.cfgCombine.run(v.buffer, guidance, count);
    } else {
      guided = gpu.ctx.empty(count * 4, "v");
      gpu.ctx.copyInto(v.buffer, guided, count * 4, 0);
    }
    // the copy/combine is queued before ORT may reuse the output buffer
    v.dispose();
    return guided;
  }

  /** Model-space latent `[C, h, w]` → image `[3, f h, f w]` in [-1, 1]. */
  async decode(latent: Float32Array, h: number, w: number): Promise<Float32Array> {
    const m = this.manifest;
    const out = await this.vae.run({
      latent_sample: {
        data: affine(latent, 1 / m.vae_scaling, m.vae_shift),
        dims: [1, m.latent_channels, h, w],
      },
    });
    return out.sample!.data;
  }

  /**
   * WebGPU EP: {@link decode} of a latent already on ORT's device; the image stays there
   * (a pooled buffer of `gpu`, released by the caller).
   */
  async decodeOnDevice(latent: GPUBuffer, h: number, w: number, gpu: GpuOps): Promise<GPUBuffer> {
    const m = this.manifest;
    const count = m.latent_channels * h * w;
    const raw = gpu.k.affine.run(latent, 1 / m.vae_scaling, m.vae_shift, count);
    try {
      const out = await this.vae.runOnDevice({
        latent_sample: { buffer: raw, dims: [1, m.latent_channels, h, w] },
      });
      const sample = out.sample!;
      const bytes = sample.dims.reduce((a, d) => a * d, 1) * 4;
      const image = gpu.ctx.empty(bytes, "decoded");
      gpu.ctx.copyInto(sample.buffer, image, bytes, 0);
      sample.dispose(); // the copy is queued before ORT may reuse its buffer
      return image;
    } finally {
      gpu.ctx.release(raw);
    }
  }

  async release(): Promise<void> {
    await Promise.all([this.textEncoder.release(), this.transformer.release(), this.vae.release()]);
  }
}

/** A model directory that cannot be loaded; the message names the file and why. */
export class ModelLoadError extends Error {
  override name = "ModelLoadError";
}

export async function loadModel(
  id: string,
  ep: Ep,
  kernels: KernelMode = "auto",
): Promise<LoadedModel> {
  const dir = `models/${safeRelative(id)}/`;
  /** Reads (and builds from) one file of the model, naming that file when it fails. */
  const step = async <T>(file: string, what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      const first = String(err instanceof Error ? err.message : err).split("\n")[0];
      const cause = err instanceof Deno.errors.NotFound ? "not found" : `${what}: ${first}`;
      throw new ModelLoadError(`model "${id}": ${dir}${file}: ${cause}`);
    }
  };
  const manifest = await step(
    "manifest.json",
    "not a valid manifest",
    async () => parseManifest(JSON.parse(await readAssetText(dir + "manifest.json"))),
  );
  const f = manifest.files;
  const vocab = await step(
    f.vocab,
    "not a JSON vocabulary",
    async () => JSON.parse(await readAssetText(dir + f.vocab)) as string[],
  );
  // sessions are created one after another: ORT's wasm init is not re-entrant
  const session = (file: string) =>
    step(
      file,
      "not a loadable ONNX model",
      async () => createSession(await readAsset(dir + file), ep),
    );
  const textEncoder = await session(f.text_encoder);
  const transformer = await session(f.transformer);
  const vaeSession = await session(f.vae_decoder);
  return new LoadedModel(
    manifest,
    ep,
    new WordTokenizer(vocab, manifest.max_text_tokens),
    textEncoder,
    transformer,
    vaeSession,
    await selectKernels(kernels, ep),
  );
}
