/**
 * The DiT of one model and how a run feeds it. What does not change within a run (text
 * embeddings, pooled, guidance, text ids) is made once per run; image ids once per stage;
 * per step only the latent and the timestep move.
 *
 * On the WebGPU EP every input and output is a GPU buffer bound once, and — where the graph's
 * weights leave room for a session per shape — each (batch, image tokens, text tokens) a run
 * visits gets its own session with those dimensions fixed: its shape nodes fold away at load,
 * so no node runs on the CPU. ORT's graph capture is not used: with ORT-web 1.30 a replay
 * reads stale inputs (docs/benchmarks.md, "Graph capture"). On the wasm EP one session with
 * dynamic axes serves every shape (fixing them measured no faster there), fed tensors made
 * once per run.
 *
 * @example
 * ```ts ignore
 * const run = model.dit.run([cond], 1, gpu);
 * const v = await run.velocityOnDevice(x, ids, 0.9); // valid until the next velocity call
 * ```
 */
import type { LoadedGraph } from "../onnx/load_graph.ts";
import type { Bound, Ep, Session } from "../onnx/ort.ts";
import type { GpuOps } from "../kernels/gpu_ops.ts";
import { STORAGE } from "../gpu/context.ts";
import type { Conditioning, DitNames } from "./model.ts";
import type { Manifest } from "../config/manifest.ts";
import { reorderLanes, sd3Positions } from "./sd3.ts";
import { fluxRope } from "./flux_rope.ts";

/** Weight bytes all shape sessions of one DiT may hold together (each holds its own copy). */
export const STATIC_SHAPE_BUDGET_BYTES = 2 * 2 ** 30;
/** Shape sessions kept at most (a RALU run visits three shapes, base one). */
export const MAX_SHAPE_SESSIONS = 8;

/** One run's DiT: guided velocities, host arrays or device buffers. */
export interface DitRun {
  velocity(x: Float32Array, ids: Float32Array, sigma: number, unit?: number): Promise<Float32Array>;
  /**
   * WebGPU EP: the guided velocity of tokens `x` left on the device. `owned`: a pooled
   * buffer of the kernels' context the caller releases; otherwise it is the DiT's own output,
   * valid until this run's next velocity call.
   */
  velocityOnDevice(
    x: GPUBuffer,
    ids: Float32Array,
    sigma: number,
    unit?: number,
  ): Promise<{ buffer: GPUBuffer; owned: boolean }>;
}

interface Dims {
  /** Channels of a latent token (4 C). */
  token: number;
  text: number;
  pooled: number;
  /** The DiT's timestep is sigma times this (1 unless given). */
  timestepScale?: number;
  /** The DiT's lane order, where not ours (SD3's (dy, dx, c)). */
  tokenOrder?: Manifest["token_order"];
  /** Absolute positions (SD3): the DiT takes (row, col) per token instead of ids. */
  positions?: Manifest["positions"];
  /**
   * A FLUX step graph (tools/export/export_flux.py): the run's conditioning comes from this
   * session (text → context, pooled + guidance → vec), computed once per run, and RoPE tables
   * of these axes are fed per stage.
   */
  split?: { conditioning: Session; axes: number[]; width: number };
}

/** One input that says where the tokens are (ids, positions, RoPE tables), per stage. */
interface Place {
  name: string;
  dims: number[];
  data: Float32Array;
}

/** One shape's session and the buffers bound to it. */
interface ShapeEntry {
  session: Session;
  /** Whether the session is this shape's alone (released with the entry). */
  own: boolean;
  hidden: GPUBuffer;
  /** img_ids [n, 3]; SD3's positions [n, 2]; a step graph's RoPE cos and sin [L + n, D]. */
  places: GPUBuffer[];
  out: GPUBuffer;
  feeds: Record<string, Bound>;
  outputs: Record<string, Bound>;
  /** The ids (and their unit) last written to `places`. */
  placesFor?: { ids: Float32Array; unit: number };
}

/** Step-invariant inputs of one (batch, text length), shared by every shape's session. */
interface Shared {
  buffers: Record<string, GPUBuffer>;
  feeds: Record<string, Bound>;
  /** The run whose conditioning the buffers hold. */
  owner?: object;
}

export class Dit {
  /** Network evaluations since load (for metrics). */
  evaluations = 0;
  /** Shape sessions created since load (each shape once while it stays cached). */
  sessionsOpened = 0;
  readonly #shapes = new Map<string, Promise<ShapeEntry>>();
  readonly #shared = new Map<string, Shared>();
  #turn: Promise<unknown> = Promise.resolve();
  /** How many shape sessions this graph's weights leave room for (0: one dynamic session). */
  readonly maxShapeSessions: number;

  constructor(
    readonly ep: Ep,
    private readonly graph: LoadedGraph,
    private readonly names: DitNames,
    private readonly dims: Dims,
  ) {
    const room = Math.floor(STATIC_SHAPE_BUDGET_BYTES / Math.max(1, graph.info.bytes));
    this.maxShapeSessions = ep === "webgpu" && room >= 2 ? Math.min(MAX_SHAPE_SESSIONS, room) : 0;
  }

  get fp16(): boolean {
    return this.graph.info.fp16;
  }

  /** Whether the graph takes fp16 inputs (not model_fp16.onnx's fp32 ones). */
  get halfInputs(): boolean {
    return this.graph.info.halfInputs.size > 0;
  }

  /**
   * The run's DiT over `conds` ([cond] or [cond, uncond]) with guidance `g`; `grid` is the
   * run's full-resolution token grid (needed by absolute positions).
   */
  run(
    conds: Conditioning[],
    g: number,
    gpu?: GpuOps,
    grid?: { rows: number; cols: number },
  ): DitRun {
    const B = conds.length;
    const L = conds[0]!.text.length / this.dims.text;
    const n = this.names;
    const host = this.graph.session;
    const d = this.dims;
    // what does not change within the run, batched once (one branch: the arrays themselves);
    // a step graph takes it through its conditioning graph, once
    const guidance = new Float32Array(B).fill(g);
    const prepared = this.#conditioning(conds, guidance);
    const [ctxWidth, pooledWidth] = d.split ? [d.split.width, d.split.width] : [d.text, d.pooled];
    // host feeds made once per run; places once per stage (the samplers pass one ids array per stage)
    let fixed: Record<string, Bound> | undefined;
    let ids: { of: Float32Array; unit: number; feeds: Record<string, Bound> } | undefined;
    const lanes = (d.tokenOrder ?? "c_dy_dx") !== "c_dy_dx";
    const places = (idsArr: Float32Array, unit: number) => this.#places(idsArr, unit, L, grid);
    const run = {
      velocity: async (x: Float32Array, idsArr: Float32Array, sigma: number, unit = 1) => {
        if (!fixed) {
          const { context, pooled } = await prepared;
          fixed = {
            [n.context]: host.bind(n.context, { data: context, dims: [B, L, ctxWidth] }),
            [n.pooled]: host.bind(n.pooled, { data: pooled, dims: [B, pooledWidth] }),
            ...(n.txtIds
              ? { [n.txtIds]: host.bind(n.txtIds, { data: new Float32Array(L * 3), dims: [L, 3] }) }
              : {}),
            ...(n.guidance
              ? {
                [n.guidance]: host.bind(n.guidance, { data: guidance, dims: [B] }),
              }
              : {}),
          };
        }
        const count = idsArr.length / 3;
        if (ids?.of !== idsArr || ids.unit !== unit) {
          const feeds = Object.fromEntries(
            places(idsArr, unit).map((p) => [p.name, host.bind(p.name, p)]),
          );
          ids = { of: idsArr, unit, feeds };
        }
        this.evaluations += B;
        const xin = lanes ? reorderLanes(x, d.token / 4) : x;
        const t = sigma * (d.timestepScale ?? 1);
        const out = await host.runBound({
          ...fixed,
          ...ids.feeds,
          [n.timestep]: host.bind(n.timestep, { data: new Float32Array(B).fill(t), dims: [B] }),
          [n.hidden]: host.bind(n.hidden, {
            data: B === 1 ? xin : concat(conds.map(() => xin)),
            dims: [B, count, this.dims.token],
          }),
        });
        const raw = out[n.out]!.data;
        const v = lanes ? reorderLanes(raw, d.token / 4, true) : raw;
        if (B === 1) return v;
        // classifier-free guidance: uncond + g (cond - uncond)
        const guided = new Float32Array(x.length);
        for (let i = 0; i < x.length; i++) {
          const vc = v[i]!, vu = v[x.length + i]!;
          guided[i] = vu + g * (vc - vu);
        }
        return guided;
      },
      velocityOnDevice: async (x: GPUBuffer, idsArr: Float32Array, sigma: number, unit = 1) => {
        if (!gpu) throw new Error("velocityOnDevice needs the kernels' GPU context");
        const count = idsArr.length / 3;
        const e = await this.#shape(B, count, L, gpu.device);
        const shared = this.#sharedFor(B, L, gpu.device);
        const { context, pooled } = await prepared;
        const values = count * this.dims.token;
        const C = d.token / 4;
        // bound buffers are shared between runs and shapes: one run's writes and run at a time
        return await this.#serial(async () => {
          await e.session.runBound({ ...shared.feeds, ...e.feeds }, e.outputs, () => {
            const q = gpu.device.queue;
            // SD3 takes its own lane order: reordered on the device, then copied per branch
            const src = lanes ? gpu.k.reorderLanes.run(x, C, values) : x;
            const enc = gpu.device.createCommandEncoder({ label: "dit input" });
            for (let b = 0; b < B; b++) {
              enc.copyBufferToBuffer(src, 0, e.hidden, b * values * 4, values * 4);
            }
            q.submit([enc.finish()]);
            if (src !== x) gpu.ctx.release(src);
            if (shared.owner !== run) {
              shared.owner = run;
              write(q, shared.buffers[n.context]!, context);
              write(q, shared.buffers[n.pooled]!, pooled);
              if (n.guidance) write(q, shared.buffers[n.guidance]!, guidance);
            }
            if (e.placesFor?.ids !== idsArr || e.placesFor.unit !== unit) {
              e.placesFor = { ids: idsArr, unit };
              places(idsArr, unit).forEach((p, i) => write(q, e.places[i]!, p.data));
            }
            const t = sigma * (d.timestepScale ?? 1);
            write(q, shared.buffers[n.timestep]!, new Float32Array(B).fill(t));
          });
          this.evaluations += B;
          // the output leaves in our lane order, guided, before the next evaluation can run
          const v = lanes ? gpu.k.reorderLanes.run(e.out, C, B * values, true) : e.out;
          if (B === 1) return { buffer: v, owned: v !== e.out };
          const guided = gpu.k.cfgCombine.run(v, g, values);
          if (v !== e.out) gpu.ctx.release(v);
          return { buffer: guided, owned: true };
        });
      },
    };
    return run;
  }

  /**
   * Opens the sessions of these shapes now (`[B, image tokens, text tokens]`), so the first
   * request does not wait for them; nothing where one session serves every shape.
   */
  async prepare(shapes: [number, number, number][], device: GPUDevice): Promise<void> {
    if (!this.maxShapeSessions) return;
    for (const [B, count, L] of shapes.slice(0, this.maxShapeSessions)) {
      await this.#shape(B, count, L, device);
    }
  }

  /** The shapes with a session now, as `B:n:L`, least recently used first. */
  get shapes(): string[] {
    return [...this.#shapes.keys()];
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#turn.then(fn);
    this.#turn = next.catch(() => undefined);
    return next;
  }

  /** The session and bound buffers of one shape: made at most once, kept up to the bound. */
  #shape(B: number, count: number, L: number, device: GPUDevice): Promise<ShapeEntry> {
    const key = `${B}:${count}:${L}`;
    let entry = this.#shapes.get(key);
    if (entry) {
      // most recently used last
      this.#shapes.delete(key);
      this.#shapes.set(key, entry);
      return entry;
    }
    entry = this.#makeShape(B, count, L, device);
    this.#shapes.set(key, entry);
    const bound = Math.max(1, this.maxShapeSessions);
    if (this.#shapes.size > bound) {
      const [oldKey, old] = this.#shapes.entries().next().value!;
      this.#shapes.delete(oldKey);
      // after the evaluations already queued: a run that holds the entry finishes first
      void this.#serial(async () => this.#dispose(await old)).catch(() => {});
    }
    entry.catch(() => this.#shapes.delete(key));
    return entry;
  }

  async #makeShape(B: number, count: number, L: number, device: GPUDevice): Promise<ShapeEntry> {
    const n = this.names;
    const own = this.maxShapeSessions > 0;
    const session = own
      ? await this.graph.open({ dims: { B, n: count, L, S: L + count } })
      : this.graph.session;
    if (own) this.sessionsOpened++;
    const bytes = B * count * this.dims.token * 4;
    const buffer = (size: number, label: string) =>
      device.createBuffer({ size: Math.max(16, Math.ceil(size / 16) * 16), usage: STORAGE, label });
    const hidden = buffer(bytes, "dit hidden_states");
    const out = buffer(bytes, "dit output");
    const dims = [B, count, this.dims.token];
    // the shapes of this stage's place inputs (their values come per stage)
    const layout = this.#places(new Float32Array(count * 3), 1, L, { rows: 1, cols: 1 }, true);
    const places = layout.map((p) => buffer(p.data.byteLength, `dit ${p.name}`));
    return {
      session,
      own,
      hidden,
      places,
      out,
      feeds: {
        [n.hidden]: session.bind(n.hidden, { buffer: hidden, dims }),
        ...Object.fromEntries(
          layout.map((
            p,
            i,
          ) => [p.name, session.bind(p.name, { buffer: places[i]!, dims: p.dims })]),
        ),
      },
      outputs: { [n.out]: session.bind(n.out, { buffer: out, dims }) },
    };
  }

  /**
   * The inputs that say where tokens with ids `idsArr` (unit: full-resolution tokens per id
   * step) are: img_ids; SD3's table positions (the run's `grid` crops them); a step graph's RoPE
   * tables of [text, image]. `shapeOnly`: the right sizes, values unused.
   */
  #places(
    idsArr: Float32Array,
    unit: number,
    L: number,
    grid: { rows: number; cols: number } | undefined,
    shapeOnly = false,
  ): Place[] {
    const n = this.names, d = this.dims, count = idsArr.length / 3;
    if (d.split) {
      const all = new Float32Array((L + count) * 3);
      all.set(idsArr, L * 3); // text ids are zeros
      const D = d.split.axes.reduce((a, v) => a + v, 0);
      const { cos, sin } = shapeOnly
        ? { cos: new Float32Array((L + count) * D), sin: new Float32Array((L + count) * D) }
        : fluxRope(all, d.split.axes);
      return [
        { name: n.ropeCos!, dims: [L + count, D], data: cos },
        { name: n.ropeSin!, dims: [L + count, D], data: sin },
      ];
    }
    if (d.positions) {
      if (!grid) throw new Error("a DiT with absolute positions needs the run's grid");
      const data = shapeOnly
        ? new Float32Array(count * 2)
        : sd3Positions(idsArr, unit, grid, d.positions);
      return [{ name: n.positions!, dims: [count, 2], data }];
    }
    return [{ name: n.imgIds!, dims: [count, 3], data: idsArr }];
  }

  /**
   * The run's step-invariant inputs: the conditioning arrays batched, or, for a step graph,
   * its conditioning graph's context and vec (one evaluation per run).
   */
  async #conditioning(
    conds: Conditioning[],
    guidance: Float32Array,
  ): Promise<{ context: Float32Array; pooled: Float32Array }> {
    const context = concat(conds.map((c) => c.text));
    const pooled = concat(conds.map((c) => c.pooled));
    const split = this.dims.split;
    if (!split) return { context, pooled };
    const B = conds.length, L = context.length / B / this.dims.text;
    const s = split.conditioning;
    const out = await s.run({
      encoder_hidden_states: { data: context, dims: [B, L, this.dims.text] },
      pooled_projections: { data: pooled, dims: [B, this.dims.pooled] },
      ...(s.inputNames.includes("guidance") ? { guidance: { data: guidance, dims: [B] } } : {}),
    });
    return { context: out.context!.data, pooled: out.vec!.data };
  }

  /** A step graph's vec for one branch (TeaCache's indicator takes it). */
  async vecOf(cond: Conditioning, g: number): Promise<Float32Array> {
    return (await this.#conditioning([cond], Float32Array.of(g))).pooled;
  }

  #sharedFor(B: number, L: number, device: GPUDevice): Shared {
    const key = `${B}:${L}`;
    let s = this.#shared.get(key);
    if (s) return s;
    const n = this.names, d = this.dims, session = this.graph.session;
    const [ctxWidth, pooledWidth] = d.split ? [d.split.width, d.split.width] : [d.text, d.pooled];
    const shapes: [string, number[]][] = [
      [n.context, [B, L, ctxWidth]],
      [n.pooled, [B, pooledWidth]],
      [n.timestep, [B]],
      ...(n.txtIds ? [[n.txtIds, [L, 3]] as [string, number[]]] : []),
      ...(n.guidance ? [[n.guidance, [B]] as [string, number[]]] : []),
    ];
    const buffers: Record<string, GPUBuffer> = {};
    const feeds: Record<string, Bound> = {};
    for (const [name, dims] of shapes) {
      const size = dims.reduce((a, v) => a * v, 4);
      buffers[name] = device.createBuffer({
        size: Math.max(16, Math.ceil(size / 16) * 16),
        usage: STORAGE,
        label: `dit ${name}`,
      });
      feeds[name] = session.bind(name, { buffer: buffers[name]!, dims });
    }
    // text ids are zeros (FLUX's contract); a new buffer already holds zeros
    s = { buffers, feeds };
    this.#shared.set(key, s);
    return s;
  }

  async #dispose(e: ShapeEntry): Promise<void> {
    if (e.own) await e.session.release();
    e.hidden.destroy();
    for (const b of e.places) b.destroy();
    e.out.destroy();
  }

  async #dropShapes(): Promise<void> {
    const entries = await Promise.allSettled([...this.#shapes.values()]);
    this.#shapes.clear();
    for (const r of entries) if (r.status === "fulfilled") await this.#dispose(r.value);
  }

  async release(): Promise<void> {
    await this.dims.split?.conditioning.release();
    await this.#dropShapes();
    for (const s of this.#shared.values()) for (const b of Object.values(s.buffers)) b.destroy();
    this.#shared.clear();
    await this.graph.session.release();
  }
}

function write(q: GPUQueue, buf: GPUBuffer, data: Float32Array): void {
  q.writeBuffer(buf, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
}

/** The arrays one after another (a batch along the first axis). */
export function concat(parts: Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  parts.reduce((o, p) => (out.set(p, o), o + p.length), 0);
  return out;
}
