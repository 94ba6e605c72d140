/**
 * The procedural scene grammar (tools/train/grammar.json) on the TypeScript side: sample
 * held-out scenes, caption them exactly as the trainer does, and render ground truth.
 *
 * @example
 * ```ts ignore
 * import { heldOutScenes, caption } from "./scenes.ts";
 * const scenes = heldOutScenes(64, 2026);
 * caption(scenes[0]!);
 * ```
 */
import { readAssetText } from "../src/assets.ts";

export interface Grammar {
  shapes: string[];
  colors: Record<string, [number, number, number]>;
  sizes: Record<string, number>;
  positions: Record<string, [number, number]>;
  backgrounds: Record<string, [number, number, number]>;
  max_objects: number;
  max_tokens: number;
}

export interface SceneObject {
  shape: string;
  color: string;
  size: string;
  position: string;
}

export interface Scene {
  objects: SceneObject[];
  background: string;
  background2: string;
}

export const grammar: Grammar = JSON.parse(await readAssetText("tools/train/grammar.json"));

/** Small seeded PRNG (mulberry32) so held-out sets are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(rand: () => number, list: T[]): T {
  return list[Math.floor(rand() * list.length)]!;
}

export function sampleScene(rand: () => number): Scene {
  const count = 1 + Math.floor(rand() * grammar.max_objects);
  const places = Object.keys(grammar.positions);
  const chosen: string[] = [];
  while (chosen.length < count) {
    const p = pick(rand, places);
    if (!chosen.includes(p)) chosen.push(p);
  }
  const objects = chosen.map((position) => ({
    shape: pick(rand, grammar.shapes),
    color: pick(rand, Object.keys(grammar.colors)),
    size: pick(rand, Object.keys(grammar.sizes)),
    position,
  }));
  const bgs = Object.keys(grammar.backgrounds);
  const background = pick(rand, bgs);
  const background2 = rand() < 0.5 ? pick(rand, bgs) : background;
  return { objects, background, background2 };
}

/**
 * Colour segmentation cannot split two touching objects of one colour, so evaluation
 * scenes keep same-coloured objects off neighbouring cells (diagonals included).
 */
export function evaluable(scene: Scene): boolean {
  return scene.objects.every((a, i) =>
    scene.objects.every((b, j) => {
      if (j <= i || a.color !== b.color) return true;
      const [ax, ay] = grammar.positions[a.position]!, [bx, by] = grammar.positions[b.position]!;
      return Math.hypot(ax - bx, ay - by) > 0.45;
    })
  );
}

/** Evaluable scenes from a seeded generator other than the trainer's (numpy's). */
export function heldOutScenes(count: number, seed = 2026): Scene[] {
  const rand = prng(seed);
  const out: Scene[] = [];
  while (out.length < count) {
    const s = sampleScene(rand);
    if (evaluable(s)) out.push(s);
  }
  return out;
}

export function caption(scene: Scene): string {
  const parts = scene.objects.map((o) => `a ${o.size} ${o.color} ${o.shape} ${o.position}`);
  let text = parts.length === 1
    ? parts[0]!
    : `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)}`;
  text += scene.background2 !== scene.background
    ? ` on a ${scene.background} and ${scene.background2} gradient background`
    : ` on a plain ${scene.background} background`;
  return text;
}

function inside(shape: string, x: number, y: number, cx: number, cy: number, r: number): boolean {
  if (shape === "circle") return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
  if (shape === "square") return Math.abs(x - cx) <= r * 0.886 && Math.abs(y - cy) <= r * 0.886;
  const R = r * 1.2, top = cy - R, base = cy + R * 0.5, half = R * 0.866;
  const t = (y - top) / (base - top);
  return y <= base && t >= 0 && Math.abs(x - cx) <= half * t;
}

/** Ground-truth RGBA rendering (2x2 supersampled), as the trainer draws scenes. */
export function renderScene(scene: Scene, size: number): Uint8Array {
  const ss = 2, n = size * ss;
  const acc = new Float32Array(size * size * 3);
  const top = grammar.backgrounds[scene.background]!,
    bottom = grammar.backgrounds[scene.background2]!;
  for (let py = 0; py < n; py++) {
    for (let px = 0; px < n; px++) {
      const x = (px + 0.5) / n, y = (py + 0.5) / n;
      let c = [0, 1, 2].map((k) => top[k]! * (1 - y) + bottom[k]! * y);
      for (const o of scene.objects) {
        const [cx, cy] = grammar.positions[o.position]!;
        if (inside(o.shape, x, y, cx, cy, grammar.sizes[o.size]!)) {
          c = [...grammar.colors[o.color]!];
        }
      }
      const p = (Math.floor(py / ss) * size + Math.floor(px / ss)) * 3;
      for (let k = 0; k < 3; k++) acc[p + k]! += c[k]! / (ss * ss);
    }
  }
  const out = new Uint8Array(size * size * 4);
  for (let p = 0; p < size * size; p++) {
    for (let k = 0; k < 3; k++) out[p * 4 + k] = Math.round(acc[p * 3 + k]!);
    out[p * 4 + 3] = 255;
  }
  return out;
}
