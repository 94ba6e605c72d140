/**
 * PNG figures through maintained libraries: vega-lite → vega → SVG, rasterised by
 * resvg (wasm). Text uses DejaVu Sans from the system's fonts.
 *
 * @example
 * ```ts ignore
 * import { scatterPng } from "./plots.ts";
 * await Deno.writeFile("plot.png", await scatterPng(points, "speedup", "psnr", "PSNR vs speed"));
 * ```
 */
import * as vega from "vega";
import * as vl from "vega-lite";
import { initWasm, Resvg } from "@resvg/resvg-wasm";
import { Buffer } from "node:buffer";
import { PNG } from "pngjs";
import { encodeBase64 } from "../src/http/base64.ts";
import { encodeImage } from "../src/pipeline/image_codec.ts";

const FONT_DIRS = [
  "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
  "/usr/share/fonts/TTF/DejaVuSans.ttf",
  "/Library/Fonts/Arial.ttf",
];
let ready: Promise<Uint8Array[]> | undefined;

function init(): Promise<Uint8Array[]> {
  ready ??= (async () => {
    const url = import.meta.resolve("@resvg/resvg-wasm");
    const wasm = new URL(url.replace(/index\.(m?js)$/, "index_bg.wasm"));
    await initWasm(await Deno.readFile(wasm));
    const fonts: Uint8Array[] = [];
    for (const f of FONT_DIRS) {
      try {
        fonts.push(await Deno.readFile(f));
      } catch { /* not on this system */ }
    }
    return fonts;
  })();
  return ready;
}

/**
 * RGBA8 pixels → the smallest PNG a figure needs: RGB where every pixel is opaque, per-row
 * adaptive filters, deflate level 9 (pngjs). Figures live in docs/, whose size counts against
 * what a device call may send (64 MiB); resvg's and fast-png's unfiltered RGBA is about twice
 * as large for the same pixels.
 */
export function compactPng(rgba: Uint8Array, width: number, height: number): Uint8Array {
  let opaque = true;
  for (let i = 3; i < rgba.length && opaque; i += 4) opaque = rgba[i] === 255;
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return new Uint8Array(
    PNG.sync.write(png, { colorType: opaque ? 2 : 6, filterType: -1, deflateLevel: 9 }),
  );
}

export async function svgToPng(svg: string): Promise<Uint8Array> {
  const fonts = await init();
  const image = new Resvg(svg, {
    font: { fontBuffers: fonts, defaultFontFamily: "DejaVu Sans", loadSystemFonts: false },
  }).render();
  return compactPng(image.pixels, image.width, image.height);
}

export async function vegaLitePng(spec: vl.TopLevelSpec): Promise<Uint8Array> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  return await svgToPng(await view.toSVG(2));
}

export function scatterPng(
  points: Record<string, unknown>[],
  x: string,
  y: string,
  title: string,
  xTitle: string,
  yTitle: string,
): Promise<Uint8Array> {
  return vegaLitePng({
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title,
    width: 360,
    height: 240,
    data: { values: points },
    layer: [
      {
        mark: { type: "point", filled: true, size: 90 },
        encoding: {
          x: { field: x, type: "quantitative", title: xTitle },
          y: { field: y, type: "quantitative", title: yTitle, scale: { zero: false } },
          color: { field: "method", type: "nominal" },
          shape: { field: "family", type: "nominal" },
        },
      },
      {
        mark: { type: "text", dy: -10, fontSize: 9 },
        encoding: {
          x: { field: x, type: "quantitative" },
          y: { field: y, type: "quantitative" },
          text: { field: "method" },
        },
      },
    ],
  } as vl.TopLevelSpec);
}

/**
 * A quality measure against wall-clock speedup: base-k as a line (its frontier), each
 * accelerated row as a labelled point.
 */
export function frontierPng(
  base: Record<string, unknown>[],
  points: Record<string, unknown>[],
  y: string,
  title: string,
  yTitle: string,
): Promise<Uint8Array> {
  const x = {
    field: "wall",
    type: "quantitative",
    title: "wall-clock speedup vs base-50 (x)",
    scale: { type: "log", nice: false, padding: 12 },
  };
  const yEnc = { field: y, type: "quantitative", title: yTitle, scale: { zero: false } };
  return vegaLitePng({
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title,
    width: 520,
    height: 320,
    layer: [
      {
        data: { values: base },
        mark: { type: "line", point: true, color: "#888" },
        encoding: { x, y: yEnc, order: { field: "wall", type: "quantitative" } },
      },
      {
        data: { values: base },
        mark: { type: "text", dy: 10, fontSize: 8, color: "#666" },
        encoding: { x, y: yEnc, text: { field: "method" } },
      },
      {
        data: { values: points },
        mark: { type: "point", filled: true, size: 80 },
        encoding: {
          x,
          y: yEnc,
          color: {
            field: "method",
            type: "nominal",
            scale: { scheme: "tableau20" },
            legend: { labelFontSize: 9, labelLimit: 320 },
          },
          shape: { field: "family", type: "nominal" },
        },
      },
    ],
  } as vl.TopLevelSpec);
}

/** A grid of RGBA images (rows × columns) with row and column labels, one PNG. */
export function gridPng(
  cells: Uint8Array[][],
  w: number,
  h: number,
  rowLabels: string[],
  colLabels: string[],
  scale = 2,
): Promise<Uint8Array> {
  const cw = w * scale, ch = h * scale, left = 120, top = 20, gap = 6, capH = 64;
  const width = left + colLabels.length * (cw + gap);
  const height = top + rowLabels.length * (ch + gap) + capH;
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}"><rect width="100%" height="100%" fill="white"/>`,
  ];
  colLabels.forEach((l, j) => {
    const x = left + j * (cw + gap);
    const words = l.split(" ");
    const lines: string[] = [];
    for (const word of words) {
      if (lines.length && (lines.at(-1)! + " " + word).length * 5.2 < cw) {
        lines[lines.length - 1] += " " + word;
      } else lines.push(word);
    }
    lines.slice(0, 6).forEach((line, k) =>
      parts.push(
        `<text x="${x}" y="${
          top + rowLabels.length * (ch + gap) + 10 + k * 9
        }" font-size="8" font-family="DejaVu Sans">${esc(line)}</text>`,
      )
    );
  });
  rowLabels.forEach((l, i) => {
    parts.push(
      `<text x="4" y="${top + i * (ch + gap) + ch / 2}" font-size="12" font-family="DejaVu Sans">${
        esc(l)
      }</text>`,
    );
    cells[i]!.forEach((rgba, j) => {
      const png = encodeBase64(encodeImage(rgba, w, h, "png"));
      parts.push(
        `<image x="${left + j * (cw + gap)}" y="${
          top + i * (ch + gap)
        }" width="${cw}" height="${ch}" style="image-rendering:pixelated" xlink:href="data:image/png;base64,${png}"/>`,
      );
    });
  });
  parts.push("</svg>");
  return svgToPng(parts.join(""));
}
