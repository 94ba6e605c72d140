/**
 * Compositional accuracy of an image against its scene: objects are found by colour
 * segmentation (pixels near a grammar colour, connected components), then each expected
 * object is scored for colour (a component of its colour exists), position (that
 * component's centroid is nearest to the expected grid cell), shape (fill ratio of the
 * bounding box: square ≈ 1, circle ≈ π/4, triangle ≈ 1/2) and size (box side).
 *
 * @example
 * ```ts ignore
 * import { evaluateImage } from "./evaluator.ts";
 * const s = evaluateImage(scene, rgba, 128, 128); // { color, shape, position, size, all }
 * ```
 */
import { grammar, type Scene } from "./scenes.ts";

export interface Component {
  color: string;
  area: number;
  cx: number;
  cy: number;
  w: number;
  h: number;
}

export interface Score {
  color: number;
  shape: number;
  position: number;
  size: number;
  /** Share of objects right on every attribute. */
  all: number;
  objects: number;
}

/** Max RGB distance from a grammar colour for a pixel to count as that colour. */
const COLOR_RADIUS = 70;
/** Smallest component kept, as a share of the image (a small circle is ~3.8%). */
const MIN_AREA = 0.006;

const names = Object.keys(grammar.colors);

/** Per pixel, the index of the grammar colour within COLOR_RADIUS (nearest), else -1. */
function labelPixels(rgba: Uint8Array, w: number, h: number): Int16Array {
  const label = new Int16Array(w * h).fill(-1);
  for (let p = 0; p < w * h; p++) {
    let best = -1, bestD = COLOR_RADIUS;
    names.forEach((name, i) => {
      const c = grammar.colors[name]!;
      const d = Math.hypot(rgba[p * 4]! - c[0], rgba[p * 4 + 1]! - c[1], rgba[p * 4 + 2]! - c[2]);
      if (d < bestD) [best, bestD] = [i, d];
    });
    label[p] = best;
  }
  return label;
}

/** Connected components of one grammar colour each (`label`: labelPixels, if already made). */
export function segment(
  rgba: Uint8Array,
  w: number,
  h: number,
  label: Int16Array = labelPixels(rgba, w, h),
): Component[] {
  const seen = new Uint8Array(w * h);
  const out: Component[] = [];
  for (let start = 0; start < w * h; start++) {
    if (seen[start] || label[start]! < 0) continue;
    const l = label[start]!;
    const stack = [start];
    seen[start] = 1;
    let area = 0, sx = 0, sy = 0, x0 = w, x1 = 0, y0 = h, y1 = 0;
    while (stack.length) {
      const p = stack.pop()!;
      const x = p % w, y = (p - x) / w;
      area++;
      sx += x;
      sy += y;
      x0 = Math.min(x0, x), x1 = Math.max(x1, x), y0 = Math.min(y0, y), y1 = Math.max(y1, y);
      for (const q of [p - 1, p + 1, p - w, p + w]) {
        if (q < 0 || q >= w * h || seen[q] || label[q] !== l) continue;
        if ((q === p - 1 && x === 0) || (q === p + 1 && x === w - 1)) continue;
        seen[q] = 1;
        stack.push(q);
      }
    }
    if (area < MIN_AREA * w * h) continue;
    out.push({
      color: names[l]!,
      area,
      cx: (sx / area + 0.5) / w,
      cy: (sy / area + 0.5) / h,
      w: (x1 - x0 + 1) / w,
      h: (y1 - y0 + 1) / h,
    });
  }
  return out;
}

/** Share of its bounding box a component fills: square ≈ 1, circle ≈ π/4, triangle ≈ 1/2. */
function fillRatio(c: Component, imgW: number, imgH: number): number {
  return c.area / (c.w * imgW * c.h * imgH);
}

export function classifyShape(c: Component, imgW: number, imgH: number): string {
  const fill = fillRatio(c, imgW, imgH);
  return fill > 0.88 ? "square" : fill > 0.64 ? "circle" : "triangle";
}

/** Mean RGB of the pixels labelled no grammar colour (the background). */
function backgroundMean(rgba: Uint8Array, label: Int16Array): [number, number, number] {
  const sum: [number, number, number] = [0, 0, 0];
  let n = 0;
  for (let p = 0; p < label.length; p++) {
    if (label[p]! >= 0) continue;
    for (let c = 0; c < 3; c++) sum[c] = sum[c]! + rgba[p * 4 + c]!;
    n++;
  }
  return sum.map((v) => v / Math.max(1, n)) as [number, number, number];
}

/** Tolerances under which two renderings count as one composition. */
export const SAME = { centre: 0.07, areaRatio: 1.6, fill: 0.15, matchedArea: 0.9, background: 25 };

/**
 * Whether `b` shows the same composition as `a` — "a person would call it the same
 * picture", made measurable. Objects are paired one-to-one by colour when their centroids
 * lie within SAME.centre of the side, their areas within a factor SAME.areaRatio and their
 * bounding-box fills (the shape) within SAME.fill; the paired objects must hold at least
 * SAME.matchedArea of all object pixels in both images (a stray speck may go unpaired, a
 * dropped or moved object may not), and the backgrounds' mean colours must lie within
 * SAME.background in RGB. Pixel-level differences (PSNR, SSIM) are measured elsewhere.
 */
export function sameComposition(a: Uint8Array, b: Uint8Array, w: number, h: number): boolean {
  const la = labelPixels(a, w, h), lb = labelPixels(b, w, h);
  const ca = segment(a, w, h, la), cb = segment(b, w, h, lb);
  const used = new Set<Component>();
  let paired = 0;
  for (const x of ca) {
    const match = cb.find((y) =>
      !used.has(y) && y.color === x.color &&
      Math.hypot(x.cx - y.cx, x.cy - y.cy) <= SAME.centre &&
      Math.max(x.area / y.area, y.area / x.area) <= SAME.areaRatio &&
      Math.abs(fillRatio(x, w, h) - fillRatio(y, w, h)) <= SAME.fill
    );
    if (!match) continue;
    used.add(match);
    paired += x.area + match.area;
  }
  const total = [...ca, ...cb].reduce((sum, c) => sum + c.area, 0);
  if (total > 0 && paired < SAME.matchedArea * total) return false;
  const [ba, bb] = [backgroundMean(a, la), backgroundMean(b, lb)];
  return Math.hypot(ba[0] - bb[0], ba[1] - bb[1], ba[2] - bb[2]) <= SAME.background;
}

function nearestPosition(cx: number, cy: number): string {
  let best = "", bestD = Infinity;
  for (const [name, [x, y]] of Object.entries(grammar.positions)) {
    const d = Math.hypot(cx - x, cy - y);
    if (d < bestD) [best, bestD] = [name, d];
  }
  return best;
}

/**
 * The component each caption object is read from, in the scene's order: the unused component
 * of its colour nearest its expected place, or undefined when none is left.
 */
export function matchObjects(scene: Scene, comps: Component[]): (Component | undefined)[] {
  const used = new Set<Component>();
  return scene.objects.map((o) => {
    const [ex, ey] = grammar.positions[o.position]!;
    const candidates = comps.filter((c) => c.color === o.color && !used.has(c));
    if (!candidates.length) return undefined;
    const c = candidates.reduce((
      a,
      b,
    ) => (Math.hypot(a.cx - ex, a.cy - ey) <= Math.hypot(b.cx - ex, b.cy - ey) ? a : b));
    used.add(c);
    return c;
  });
}

/** Scores one image against its scene (`comps`: segment's result, if already made). */
export function evaluateImage(
  scene: Scene,
  rgba: Uint8Array,
  w: number,
  h: number,
  comps: Component[] = segment(rgba, w, h),
): Score {
  const s = { color: 0, shape: 0, position: 0, size: 0, all: 0, objects: scene.objects.length };
  const [small, large] = [grammar.sizes.small!, grammar.sizes.large!];
  const matched = matchObjects(scene, comps);
  for (const [i, o] of scene.objects.entries()) {
    const c = matched[i];
    if (!c) continue;
    s.color++;
    const pos = nearestPosition(c.cx, c.cy) === o.position;
    const shape = classifyShape(c, w, h) === o.shape;
    const side = Math.sqrt(c.area / (w * h));
    const size =
      (Math.abs(side - 1.6 * small) < Math.abs(side - 1.6 * large) ? "small" : "large") === o.size;
    s.position += pos ? 1 : 0;
    s.shape += shape ? 1 : 0;
    s.size += size ? 1 : 0;
    s.all += pos && shape && size ? 1 : 0;
  }
  const n = scene.objects.length;
  return {
    color: s.color / n,
    shape: s.shape / n,
    position: s.position / n,
    size: s.size / n,
    all: s.all / n,
    objects: n,
  };
}

/** Mean of scores weighted by object count. */
export function meanScore(scores: Score[]): Score {
  const n = scores.reduce((a, s) => a + s.objects, 0) || 1;
  const avg = (k: keyof Score) => scores.reduce((a, s) => a + s[k] * s.objects, 0) / n;
  return {
    color: avg("color"),
    shape: avg("shape"),
    position: avg("position"),
    size: avg("size"),
    all: avg("all"),
    objects: n,
  };
}
