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
import { join } from "node:path";
import type { Manifest } from "../config/manifest.ts";
import type { Ep, Session } from "../onnx/ort.ts";
import { type GraphLoad, type LoadedGraph, loadGraph } from "../onnx/load_graph.ts";
import type { PromptTokenizer } from "../text/hf_tokenizer.ts";
import { HfTokenizer } from "../text/hf_tokenizer.ts";
import { WordTokenizer } from "../text/word_tokenizer.ts";
import { GpuOps } from "../kernels/gpu_ops.ts";
import { type KernelMode, type Kernels, selectKernels } from "../kernels/select.ts";
import type { Backend } from "../samplers/backend.ts";
import type { TeaIndicator } from "../samplers/tea_cache.ts";
import { cpuBackend } from "../samplers/cpu_backend.ts";
import { gpuBackend } from "../samplers/gpu_backend.ts";
import { affine } from "../kernels/euler_cpu.ts";
import { Dit } from "./dit.ts";
import { imageTokens, parseSize } from "../config/manifest.ts";
import { raluStageTokens } from "../samplers/ralu_params.ts";
import { probeAdapter } from "../onnx/ort.ts";
import { findModelDir, readModelManifest } from "./model_dir.ts";
import { joinSd3 } from "./sd3.ts";
import { SD3_CLIP_TOKENS } from "./sd3_manifest.ts";
import { choosePrecision, type PrecisionChoice, type PrecisionMode } from "./precision.ts";

export interface Conditioning {
  /** `[L, D_txt]` */
  text: Float32Array;
  /** `[D_pooled]` */
  pooled: Float32Array;
  /** Notes for the response (a truncated prompt). */
  warnings: string[];
}

/** One text encoder: its tokenizer, its session, and which of its outputs feed the DiT. */
export interface TextEncoder {
  component: string;
  tokenizer: PromptTokenizer;
  session: Session;
  /** Output used as the DiT's `encoder_hidden_states` (SD3: joined, see sd3.ts). */
  text?: string;
  /** Output used as the DiT's `pooled_projections`. */
  pooled?: string;
}

/** A text encoder's outputs for one prompt: `[S, width]` hidden states and the pooled vector. */
interface EncoderOutput {
  text?: Float32Array;
  width: number;
  pooled?: Float32Array;
}

/** The DiT's tensor names as its graph spells them (Optimum and BFL exports differ in outputs). */
export interface DitNames {
  hidden: string;
  context: string;
  pooled: string;
  timestep: string;
  /** FLUX-style ids `[n, 3]` of image and text tokens (absent where positions are taken). */
  imgIds?: string;
  txtIds?: string;
  /** SD3: (row, col) `[n, 2]` of image tokens in the position table. */
  positions?: string;
  /** A FLUX step graph's RoPE tables `[L + n, D]` (its context and pooled are then `context`, `vec`). */
  ropeCos?: string;
  ropeSin?: string;
  guidance?: string;
  out: string;
}

/** What was loaded, from where, and its size (for /health and the startup log). */
export interface LoadedComponent {
  component: string;
  file: string;
  bytes: number;
  data_files: number;
  fp16: boolean;
  warnings: string[];
}

/** Prompts whose conditioning a model keeps. */
export const PROMPT_CACHE = 32;

export class LoadedModel {
  readonly #prompts = new Map<string, Promise<Conditioning>>();
  /** Network evaluations since load (for metrics). */
  get evaluations(): number {
    return this.dit.evaluations;
  }

  constructor(
    readonly manifest: Manifest,
    readonly ep: Ep,
    private readonly encoders: TextEncoder[],
    /** The DiT and how runs feed it. */
    readonly dit: Dit,
    private readonly vae: Session,
    private readonly vaeNames: { input: string; output: string },
    /** Where RALU's kernels run for this model. */
    readonly kernels: Kernels,
    readonly components: LoadedComponent[] = [],
    /** TeaCache's indicator graph, where the model has one. */
    readonly indicator?: Session,
    /** The transformer graph's precision, and why it was chosen. */
    readonly precision?: PrecisionChoice,
  ) {}

  get id(): string {
    return this.manifest.id;
  }

  /** False once the GPU device its kernels (and, on the WebGPU EP, sessions) run on is lost. */
  get usable(): boolean {
    return !(this.kernels instanceof GpuOps && this.kernels.lost);
  }

  /**
   * The prompt's conditioning, from a bounded cache (the empty prompt of guidance's second
   * branch, a prompt sent again); the arrays are shared and never written.
   */
  encodePrompt(prompt: string): Promise<Conditioning> {
    const hit = this.#prompts.get(prompt);
    if (hit) {
      this.#prompts.delete(prompt); // most recently used last
      this.#prompts.set(prompt, hit);
      return hit;
    }
    const made = this.#encode(prompt);
    this.#prompts.set(prompt, made);
    made.catch(() => this.#prompts.delete(prompt));
    if (this.#prompts.size > PROMPT_CACHE) this.#prompts.delete(this.#prompts.keys().next().value!);
    return made;
  }

  async #encode(prompt: string): Promise<Conditioning> {
    const warnings: string[] = [];
    const outs: EncoderOutput[] = [];
    for (const e of this.encoders) {
      const t = e.tokenizer.encode(prompt);
      if (t.truncated > 0) {
        warnings.push(
          `prompt truncated for ${e.component}: ${t.promptTokens} tokens, ${t.truncated} beyond its ${e.tokenizer.length}-token limit were dropped`,
        );
      }
      const out = await e.session.run({ input_ids: { data: t.ids, dims: [1, t.ids.length] } });
      const text = e.text ? out[e.text]! : undefined;
      outs.push({
        ...(text ? { text: text.data } : {}),
        width: text?.dims.at(-1) ?? 0,
        ...(e.pooled ? { pooled: out[e.pooled]!.data } : {}),
      });
    }
    if (this.manifest.family === "sd3") {
      const [l, g, t5] = outs as [EncoderOutput, EncoderOutput, EncoderOutput?];
      const clip = (o: EncoderOutput) => ({ hidden: o.text!, width: o.width, pooled: o.pooled! });
      const m = this.manifest;
      return { ...joinSd3([clip(l), clip(g)], t5?.text, m.text_dim, SD3_CLIP_TOKENS), warnings };
    }
    const text = outs.find((o) => o.text)!.text!;
    const pooled = outs.find((o) => o.pooled)!.pooled!;
    return { text, pooled, warnings };
  }

  usesCfg(guidance: number): boolean {
    return usesCfg(this.manifest, guidance);
  }

  /**
   * TeaCache's indicator for one run (the conditional branch's prompt and guidance `g`), or
   * undefined where the model has no indicator graph. Latents come as host token arrays.
   */
  teaIndicator(cond: Conditioning, g: number): TeaIndicator | undefined {
    const s = this.indicator;
    if (!s) return undefined;
    const m = this.manifest;
    const token = 4 * m.latent_channels;
    const has = new Set(s.inputNames);
    const one = (v: number) => ({ data: Float32Array.of(v), dims: [1] });
    const shared: Record<string, { data: Float32Array; dims: number[] }> = {};
    if (has.has("encoder_hidden_states")) {
      shared.encoder_hidden_states = {
        data: cond.text,
        dims: [1, cond.text.length / m.text_dim, m.text_dim],
      };
    }
    if (has.has("pooled_projections")) {
      shared.pooled_projections = { data: cond.pooled, dims: [1, cond.pooled.length] };
    }
    if (has.has("guidance")) shared.guidance = one(g);
    // a step graph's indicator takes the run's vec (its conditioning graph's, once)
    let vec: Promise<Float32Array> | undefined;
    return {
      rescale: m.teacache_rescale ?? [1, 0],
      run: async (x, sigma, prev, prevSigma) => {
        if (has.has("vec")) {
          vec ??= this.dit.vecOf(cond, g);
          const v = await vec;
          shared.vec = { data: v, dims: [1, v.length] };
        }
        const dims = [1, x.length / token, token];
        const out = await s.run({
          ...shared,
          hidden_states: { data: x, dims },
          timestep: one(sigma),
          prev_hidden_states: { data: prev, dims },
          prev_timestep: one(prevSigma),
        });
        return out.rel_l1!.data[0]!;
      },
    };
  }

  /**
   * One run's backend: the DiT with guidance `g` over `conds` ([cond] or [cond, uncond]),
   * the VAE, and the kernels — CPU arrays, or GPU buffers on the kernel device. On the
   * WebGPU EP with GPU kernels the DiT and VAE read and write those buffers directly.
   */
  backend(conds: Conditioning[], g: number, size?: { width: number; height: number }): Backend {
    const gpu = this.kernels;
    const f = 2 * this.manifest.vae_scale_factor;
    const grid = size && { rows: size.height / f, cols: size.width / f };
    const run = this.dit.run(conds, g, gpu instanceof GpuOps ? gpu : undefined, grid);
    const decode = (latent: Float32Array, h: number, w: number) => this.decode(latent, h, w);
    if (!(gpu instanceof GpuOps)) return cpuBackend(run.velocity, decode);
    // graphs with fp16 inputs (older exports) take host arrays, converted by the session;
    // model_fp16.onnx takes fp32 buffers like model.onnx
    if (this.ep !== "webgpu" || this.dit.halfInputs) {
      return gpuBackend(gpu, { arrays: { velocity: run.velocity, decode } });
    }
    return gpuBackend(gpu, {
      velocity: run.velocityOnDevice,
      decode: (latent, h, w) => this.decodeOnDevice(latent, h, w, gpu),
    });
  }

  /**
   * WebGPU EP: opens the DiT sessions a request at the default size visits (base; each
   * preset's three RALU stages), with the default guidance's batch. Returns their count.
   */
  async warmUp(): Promise<number> {
    const m = this.manifest;
    if (this.ep !== "webgpu" || !(this.kernels instanceof GpuOps)) return 0;
    const { width, height } = parseSize(m.default_size);
    const full = imageTokens(m, width, height);
    const B = usesCfg(m, m.default_guidance) ? 2 : 1;
    const counts = new Set([full]);
    for (const p of Object.values(m.presets)) {
      for (const n of raluStageTokens(full, p.r)) counts.add(n);
    }
    const shapes = [...counts].map((n) => [B, n, m.max_text_tokens] as [number, number, number]);
    await this.dit.prepare(shapes, this.kernels.device);
    return this.dit.shapes.length;
  }

  /** Model-space latent `[C, h, w]` → image `[3, f h, f w]` in [-1, 1]. */
  async decode(latent: Float32Array, h: number, w: number): Promise<Float32Array> {
    const m = this.manifest;
    const out = await this.vae.run({
      [this.vaeNames.input]: {
        data: affine(latent, 1 / m.vae_scaling, m.vae_shift),
        dims: [1, m.latent_channels, h, w],
      },
    });
    return out[this.vaeNames.output]!.data;
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
        [this.vaeNames.input]: { buffer: raw, dims: [1, m.latent_channels, h, w] },
      });
      const sample = out[this.vaeNames.output]!;
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
    await Promise.all([
      ...this.encoders.map((e) => e.session.release()),
      this.dit.release(),
      this.vae.release(),
      this.indicator?.release(),
    ]);
  }
}

/** Classifier-free guidance runs two branches; a guidance-embedding DiT takes the scale as input. */
export function usesCfg(m: Manifest, guidance: number): boolean {
  return !m.guidance_embed && guidance > 1;
}

/** A model directory that cannot be loaded; the message names the file and why. */
export class ModelLoadError extends Error {
  override name = "ModelLoadError";
}

/** The one name of `names` among `spellings` (first match), or a ModelLoadError. */
function pick(names: string[], spellings: string[], what: string, file: string): string {
  const hit = spellings.find((s) => names.includes(s));
  if (!hit) {
    throw new ModelLoadError(
      `${file}: no ${what} (looked for ${spellings.join(" / ")}; the graph has ${
        names.join(", ")
      })`,
    );
  }
  return hit;
}

export async function loadModel(
  id: string,
  ep: Ep,
  kernels: KernelMode = "auto",
  modelsDir?: string,
  precisionMode: PrecisionMode = "auto",
): Promise<LoadedModel> {
  const dir = await findModelDir(id, modelsDir);
  if (!dir) {
    throw new ModelLoadError(
      `model "${id}": no models/${id}/ with a manifest.json or model_index.json`,
    );
  }
  /** Reads (and builds from) one file of the model, naming that file when it fails. */
  const step = async <T>(file: string, what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ModelLoadError) throw err;
      const first = String(err instanceof Error ? err.message : err).split("\n")[0];
      const cause = err instanceof Deno.errors.NotFound ? "not found" : `${what}: ${first}`;
      throw new ModelLoadError(`model "${id}": ${join(dir, file)}: ${cause}`);
    }
  };
  const manifest = await step(
    "manifest.json",
    "not a valid model description",
    () => readModelManifest(dir, id),
  );
  const f = manifest.files;
  const adapter = ep === "webgpu" ? await probeAdapter() : undefined;
  const components: LoadedComponent[] = [];
  // sessions are created one after another: ORT's wasm init is not re-entrant
  const graph = (component: string, file: string) =>
    step(file, "not a loadable ONNX model", async () => {
      const loaded = await loadGraph(join(dir, file), ep, {
        shaderF16: adapter?.features.has("shader-f16"),
        maxBinding: adapter?.limits.maxStorageBufferBindingSize,
      });
      components.push(describe(component, loaded.info));
      return loaded;
    });
  const encoders: TextEncoder[] = [];
  if (manifest.family === "sd3") {
    encoders.push(...await sd3Encoders(manifest, dir, graph, step));
  } else if (manifest.family === "flux") {
    const clip = await graph("text_encoder", f.text_encoder);
    const t5 = await graph("text_encoder_2", f.text_encoder_2!);
    encoders.push({
      component: "text_encoder",
      tokenizer: await step(
        "tokenizer/",
        "not a CLIP tokenizer",
        () => HfTokenizer.fromDir(join(dir, "tokenizer"), { maxLength: 77 }),
      ),
      session: clip.session,
      pooled: pick(
        clip.info.outputNames,
        ["pooler_output", "text_embeds"],
        "pooled output",
        f.text_encoder,
      ),
    }, {
      component: "text_encoder_2",
      tokenizer: await step(
        "tokenizer_2/",
        "not a T5 tokenizer",
        () =>
          HfTokenizer.fromDir(join(dir, "tokenizer_2"), { maxLength: manifest.max_text_tokens }),
      ),
      session: t5.session,
      text: pick(
        t5.info.outputNames,
        ["last_hidden_state"],
        "hidden-state output",
        f.text_encoder_2!,
      ),
    });
  } else {
    const vocab = await step(
      f.vocab ?? "vocab.json",
      "not a JSON vocabulary",
      async () =>
        JSON.parse(await Deno.readTextFile(join(dir, f.vocab ?? "vocab.json"))) as string[],
    );
    const te = await graph("text_encoder", f.text_encoder);
    encoders.push({
      component: "text_encoder",
      tokenizer: new WordTokenizer(vocab, manifest.max_text_tokens),
      session: te.session,
      text: pick(te.info.outputNames, ["last_hidden_state"], "hidden-state output", f.text_encoder),
      pooled: pick(
        te.info.outputNames,
        ["pooled_output", "pooler_output"],
        "pooled output",
        f.text_encoder,
      ),
    });
  }
  const precision = await step(
    f.transformer,
    "no transformer graph",
    () =>
      Promise.resolve(choosePrecision(
        {
          // a folder whose only transformer graph is fp16 names it in both fields
          fp32: f.transformer === f.transformer_fp16 ? undefined : f.transformer,
          fp16: f.transformer_fp16,
        },
        ep,
        adapter?.features.has("shader-f16"),
        precisionMode,
      )),
  );
  const dit = await graph("transformer", precision.file);
  const ins = dit.info.inputNames;
  // a FLUX step graph takes the run's conditioning (from conditioning.onnx) and RoPE tables
  const split = ins.includes("rope_cos");
  const names: DitNames = {
    hidden: pick(ins, ["hidden_states"], "latent input", precision.file),
    context: pick(
      ins,
      split ? ["context"] : ["encoder_hidden_states"],
      "text input",
      precision.file,
    ),
    pooled: pick(ins, split ? ["vec"] : ["pooled_projections"], "pooled input", precision.file),
    timestep: pick(ins, ["timestep"], "timestep input", precision.file),
    ...(split
      ? { ropeCos: "rope_cos", ropeSin: pick(ins, ["rope_sin"], "RoPE sin input", precision.file) }
      : manifest.positions
      ? { positions: pick(ins, ["positions"], "positions input", precision.file) }
      : {
        imgIds: pick(ins, ["img_ids"], "image ids input", precision.file),
        txtIds: pick(ins, ["txt_ids"], "text ids input", precision.file),
      }),
    out: pick(
      dit.info.outputNames,
      ["out_hidden_states", "latent", "sample"],
      "velocity output",
      precision.file,
    ),
  };
  if (manifest.guidance_embed && !split) {
    names.guidance = pick(
      ins,
      ["guidance"],
      "guidance input (the config has guidance embeds)",
      precision.file,
    );
  }
  const vae = await graph("vae_decoder", f.vae_decoder);
  const vaeNames = {
    input: pick(
      vae.info.inputNames,
      ["latent_sample", "latent", "z"],
      "latent input",
      f.vae_decoder,
    ),
    output: pick(vae.info.outputNames, ["sample", "image"], "image output", f.vae_decoder),
  };
  // a FLUX folder's config does not count its parameters; its weight bytes do
  manifest.architecture.parameters ??= Math.round(dit.info.bytes / (dit.info.fp16 ? 2 : 4));
  const token = 4 * manifest.latent_channels;
  const indicator = f.indicator ? (await graph("indicator", f.indicator)).session : undefined;
  let conditioning: Session | undefined;
  if (split) {
    if (!f.conditioning) {
      throw new ModelLoadError(
        `model "${id}": ${precision.file} takes rope_cos (a step graph) but the folder has no transformer/conditioning.onnx beside it`,
      );
    }
    conditioning = (await graph("conditioning", f.conditioning)).session;
  }
  return new LoadedModel(
    manifest,
    ep,
    encoders,
    new Dit(ep, dit, names, {
      token,
      text: manifest.text_dim,
      pooled: manifest.pooled_dim ?? manifest.text_dim,
      timestepScale: manifest.timestep_scale,
      tokenOrder: manifest.token_order,
      positions: manifest.positions,
      ...(conditioning
        ? {
          split: {
            conditioning,
            axes: manifest.rope_axes ?? [16, 56, 56],
            width: manifest.architecture.hidden,
          },
        }
        : {}),
    }),
    vae.session,
    vaeNames,
    await selectKernels(kernels, ep),
    components,
    indicator,
    { ...precision, precision: dit.info.fp16 ? "fp16" : "fp32" },
  );
}

function describe(component: string, info: GraphLoad): LoadedComponent {
  return {
    component,
    file: info.file,
    bytes: info.bytes,
    data_files: info.dataFiles.length,
    fp16: info.fp16,
    warnings: info.warnings,
  };
}

type GraphFn = (component: string, file: string) => Promise<LoadedGraph>;
type StepFn = <T>(file: string, what: string, fn: () => Promise<T>) => Promise<T>;

/** A CLIP graph's penultimate layer: ours, or Optimum's `hidden_states.k` (k = layers - 1). */
function penultimate(names: string[], file: string): string {
  if (names.includes("penultimate_hidden_state")) return "penultimate_hidden_state";
  const layers = names.map((n) => /^hidden_states\.(\d+)$/.exec(n)?.[1]).filter((k) => k)
    .map(Number).sort((a, b) => a - b);
  if (layers.length >= 2) return `hidden_states.${layers.at(-2)}`;
  return pick(names, ["penultimate_hidden_state"], "penultimate hidden-state output", file);
}

/** SD3's CLIP-L and CLIP-G (penultimate layer, projected pooled) and, when present, T5. */
async function sd3Encoders(
  m: Manifest,
  dir: string,
  graph: GraphFn,
  step: StepFn,
): Promise<TextEncoder[]> {
  const f = m.files;
  const out: TextEncoder[] = [];
  const clips = [["text_encoder", "tokenizer"], ["text_encoder_2", "tokenizer_2"]] as const;
  for (const [component, tok] of clips) {
    const file = f[component]!;
    const g = await graph(component, file);
    out.push({
      component,
      // CLIP-G's tokenizer_config pads with "!" (id 0), CLIP-L's with its end token
      tokenizer: await step(
        `${tok}/`,
        "not a CLIP tokenizer",
        () => HfTokenizer.fromDir(join(dir, tok), { maxLength: SD3_CLIP_TOKENS }),
      ),
      session: g.session,
      text: penultimate(g.info.outputNames, file),
      pooled: pick(g.info.outputNames, ["text_embeds"], "projected pooled output", file),
    });
  }
  if (f.text_encoder_3) {
    const g = await graph("text_encoder_3", f.text_encoder_3);
    out.push({
      component: "text_encoder_3",
      tokenizer: await step(
        "tokenizer_3/",
        "not a T5 tokenizer",
        () =>
          HfTokenizer.fromDir(join(dir, "tokenizer_3"), {
            maxLength: m.max_text_tokens - SD3_CLIP_TOKENS,
          }),
      ),
      session: g.session,
      text: pick(
        g.info.outputNames,
        ["last_hidden_state"],
        "hidden-state output",
        f.text_encoder_3,
      ),
    });
  }
  return out;
}
