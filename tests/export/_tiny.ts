// Shared by the export-form tests: the FLUX miniature's transformer, deterministic inputs for
// it (and for other DiT graphs by input name), its output on an EP, re-exporting it, and the
// Python the tools need.
import { loadGraph } from "../../src/onnx/load_graph.ts";
import type { Ep } from "../../src/onnx/ort.ts";
import { randomFloats } from "../kernels/_gpu.ts";

export const PYTHON = "/usr/bin/python3"; // Debian's, with python3-onnx and python3-numpy
const probe = await new Deno.Command(PYTHON, { args: ["-c", "import onnx, numpy"] })
  .output().catch(() => undefined);
export const HAVE_ONNX = probe?.success === true;

export const TINY = "models/flux-tiny/transformer/model.onnx";
export const TINY_DIMS: [number, number, number] = [64, 8, 8];

/** What tools/export/fuse_graph.py prints. */
export interface Fused {
  fused: Record<string, number>;
  before: Record<string, number>;
  after: Record<string, number>;
}

/** DiT inputs for n image tokens, L text tokens, deterministic; `timestep` in (0, 1]. */
function ditFeeds(
  names: readonly string[],
  token: number,
  text: number,
  pooled: number,
  timestep: number,
) {
  const n = 16, L = 8;
  const ids = (count: number, off: number) =>
    Float32Array.from({ length: count * 3 }, (_, i) => (i % 3 === 0 ? 0 : Math.floor(i / 3) + off));
  const all: Record<string, { data: Float32Array; dims: number[] }> = {
    hidden_states: { data: randomFloats(n * token, 1), dims: [1, n, token] },
    encoder_hidden_states: { data: randomFloats(L * text, 2), dims: [1, L, text] },
    pooled_projections: { data: randomFloats(pooled, 3), dims: [1, pooled] },
    timestep: { data: Float32Array.of(timestep), dims: [1] },
    guidance: { data: Float32Array.of(3.5), dims: [1] },
    img_ids: { data: ids(n, 0.5), dims: [n, 3] },
    txt_ids: { data: new Float32Array(L * 3), dims: [L, 3] },
    // a FLUX step graph's (the miniature's: width 32, heads of 16)
    context: { data: randomFloats(L * 32, 4), dims: [1, L, 32] },
    vec: { data: randomFloats(32, 5), dims: [1, 32] },
    rope_cos: { data: randomFloats((L + n) * 16, 6).map(Math.cos), dims: [L + n, 16] },
    rope_sin: { data: randomFloats((L + n) * 16, 6).map(Math.sin), dims: [L + n, 16] },
  };
  return Object.fromEntries(names.map((k) => [k, all[k]!]));
}

/** A DiT graph's first output on `ep` for the inputs above. */
export async function outputOf(
  file: string,
  ep: Ep,
  dims: [number, number, number],
  timestep = 0.6,
): Promise<Float32Array> {
  const { session } = await loadGraph(file, ep);
  try {
    const out = await session.run(ditFeeds(session.inputNames, ...dims, timestep));
    return Object.values(out)[0]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** max |a - ref| / max |ref|. */
export function relDiff(a: Float32Array, ref: Float32Array): number {
  let worst = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i]! - ref[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return worst / Math.max(scale, 1e-6);
}

/** Runs `PYTHON args`: what it printed, or an error with the end of its stderr. */
export async function python(...args: string[]): Promise<string> {
  const r = await new Deno.Command(PYTHON, { args, stdout: "piped", stderr: "piped" }).output();
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr).slice(-2000));
  return new TextDecoder().decode(r.stdout);
}

/** The FLUX miniature's transformer exported again into `dir`, with exporter flags `extra`. */
export async function exportTiny(dir: string, ...extra: string[]): Promise<void> {
  await python(
    "tools/export/export_flux.py",
    "--tiny",
    dir,
    "--tokenizers",
    "models/flux-tiny",
    "--components",
    "transformer",
    ...extra,
  );
}
