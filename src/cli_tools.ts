/** Extra commands for people tuning RALU: `schedule` and `edges`. */
import { parseArgs } from "node:util";
import { ntMatchingFor } from "./schedule/nt_matching.ts";
import { stagePlan } from "./schedule/stages.ts";
import { grayLevel } from "./kernels/canny_cpu.ts";

function numbers(s: string | undefined, name: string): number[] {
  if (!s) throw new TypeError(`missing argument --${name}`);
  const v = s.split(",").map(Number);
  if (v.some((x) => !Number.isFinite(x))) throw new TypeError(`bad argument --${name}: ${s}`);
  return v;
}

function schedule(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      N: { type: "string" },
      e: { type: "string" },
      h0: { type: "string" },
      json: { type: "boolean" },
    },
  });
  const N = numbers(values.N, "N");
  const e = numbers(values.e, "e");
  const h0 = values.h0 ? Number(values.h0) : 3;
  const sol = ntMatchingFor(N, e, h0); // what a run of this plan uses
  const plan = stagePlan(N, e, sol.h, sol.Z);
  const out = {
    h: sol.h,
    Z: sol.Z,
    c: 1 / (sol.Z * sol.Z),
    js_distance: sol.distance,
    limited: sol.limited ?? false,
    boundaries: plan.boundaries,
    sigmas: plan.sigmas.map((s) => [...s]),
  };
  if (values.json) {
    console.log(JSON.stringify(out));
  } else {
    console.log(
      `h = ${sol.h.map((v) => v.toFixed(4)).join(", ")}   Z = ${sol.Z.toFixed(4)}   (c = ${
        out.c.toFixed(5)
      }, JS distance ${sol.distance.toExponential(3)})${
        sol.limited
          ? "\n  Z is at its usable limit: a lower distance exists only with the last stage restarting from nearly pure noise"
          : ""
      }`,
    );
    plan.boundaries.forEach((b, k) =>
      console.log(
        `boundary ${k + 1}: e = ${b.e}  s = ${b.s.toFixed(5)}  alpha = ${
          b.alpha.toFixed(5)
        }  beta = ${b.beta.toFixed(5)}`,
      )
    );
  }
  return Promise.resolve();
}

/** Gray levels of a PNG: a gray image's values as they are, colour by BT.601 (Q14). */
export function pngGray(
  png: { width: number; height: number; channels: number; data: ArrayLike<number>; depth: number },
): Uint8Array {
  const n = png.width * png.height;
  const out = new Uint8Array(n);
  const scale = png.depth === 16 ? 1 / 257 : 1;
  for (let p = 0; p < n; p++) {
    const at = (k: number) => Math.round(png.data[p * png.channels + k]! * scale);
    out[p] = png.channels <= 2 ? at(0) : grayLevel(at(0), at(1), at(2));
  }
  return out;
}

async function edges(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      in: { type: "string" },
      out: { type: "string" },
      ratio: { type: "string" },
      patches: { type: "string" },
      footprint: { type: "string" },
      kernels: { type: "string" },
    },
  });
  if (!values.in || !values.out) {
    throw new TypeError("missing argument: edges needs --in and --out");
  }
  const { decode } = await import("fast-png");
  const { encodeGrayPng, encodeImage } = await import("./pipeline/image_codec.ts");
  const { selectKernels } = await import("./kernels/select.ts");
  const { canny, edgeScores } = await import("./kernels/canny_cpu.ts");
  const { topkMask } = await import("./kernels/topk_cpu.ts");
  const { GpuOps } = await import("./kernels/gpu_ops.ts");
  const png = decode(await Deno.readFile(values.in));
  const { width: w, height: h } = png;
  const gray = pngGray(png);
  const ops = await selectKernels(
    (values.kernels as "auto" | "gpu" | "cpu" | undefined) ?? "auto",
    "wasm",
  );
  const map = ops instanceof GpuOps ? await ops.cannyHostGray(gray, w, h) : canny(gray, w, h);
  await Deno.writeFile(values.out, encodeGrayPng(map.map((v) => v * 255), w, h));
  const count = map.reduce((a, b) => a + b, 0);
  console.log(`wrote ${values.out}: ${count} edge pixels of ${w * h} (${ops.name} kernels)`);
  if (values.patches) {
    const fp = Number(values.footprint ?? 16);
    const ratio = Number(values.ratio ?? 0.3);
    if (w % fp || h % fp) {
      throw new TypeError(`image size ${w}x${h} is not a multiple of the token footprint ${fp}`);
    }
    const scores = edgeScores(map, w, h, fp);
    const k = Math.floor(scores.length * ratio);
    const mask = topkMask(scores, k);
    const rgba = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const p = y * w + x;
        const sel = mask[Math.floor(y / fp) * (w / fp) + Math.floor(x / fp)] === 1;
        const g = gray[p]!;
        rgba.set(
          sel
            ? [Math.round(g * 0.5 + 127), Math.round(g * 0.5), Math.round(g * 0.5), 255]
            : [g, g, g, 255],
          p * 4,
        );
        if (map[p]) rgba.set([255, 255, 0, 255], p * 4);
      }
    }
    await Deno.writeFile(values.patches, encodeImage(rgba, w, h, "png"));
    console.log(
      `wrote ${values.patches}: ${k} of ${scores.length} tokens selected (ratio ${ratio}, ${fp}px tokens)`,
    );
  }
}

export const tools: Record<string, (args: string[]) => Promise<void>> = { schedule, edges };
