/**
 * What an ONNX graph file says about its weights, read from the protobuf without loading
 * it: the external-data files it names (with the bytes it needs from each), the bytes
 * stored inline, and the element types of its weights and inputs (to spot fp16 graphs
 * before a session is created).
 *
 * @example
 * ```ts
 * import { graphInfo } from "./graph_info.ts";
 * const info = graphInfo(await Deno.readFile("models/fixture/vae_decoder.onnx"));
 * info.externalFiles; // [] — the fixture keeps its weights inline
 * ```
 */

export interface GraphInfo {
  /** External-data file → bytes the graph reads from it (the end of its last tensor). */
  externalFiles: { location: string; bytes: number }[];
  /** Weight bytes stored inside the graph file itself. */
  inlineBytes: number;
  /** ONNX element types used by initializers and graph inputs (1 float, 10 float16, 16 bfloat16). */
  elementTypes: Set<number>;
  inputNames: string[];
  outputNames: string[];
  /** Element type of each graph input and output (by name). */
  types: Record<string, number>;
  /** The largest weight tensor (its bytes must fit one GPU storage binding on WebGPU). */
  largest: { name: string; bytes: number };
}

export const FLOAT16 = 10;
export const BFLOAT16 = 16;

type Field = { no: number; wire: number; value: number; bytes?: Uint8Array };

function* fields(buf: Uint8Array): Generator<Field> {
  let i = 0;
  const varint = (): number => {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (i >= buf.length) throw new Error("truncated protobuf");
      const b = buf[i++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const no = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) yield { no, wire, value: varint() };
    else if (wire === 1) (i += 8, yield { no, wire, value: 0 });
    else if (wire === 5) (i += 4, yield { no, wire, value: 0 });
    else if (wire === 2) {
      const len = varint();
      if (i + len > buf.length) throw new Error("truncated protobuf");
      yield { no, wire, value: len, bytes: buf.subarray(i, i + len) };
      i += len;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
}

const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);

function sub(buf: Uint8Array, no: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const f of fields(buf)) if (f.no === no && f.bytes) out.push(f.bytes);
  return out;
}

function valueInfo(v: Uint8Array): { name: string; elemType?: number } {
  let name = "";
  let elemType: number | undefined;
  for (const f of fields(v)) {
    if (f.no === 1) name = text(f.bytes);
    if (f.no === 2 && f.bytes) {
      for (const t of sub(f.bytes, 1)) { // TypeProto.tensor_type
        for (const g of fields(t)) if (g.no === 1 && g.wire === 0) elemType = g.value;
      }
    }
  }
  return elemType === undefined ? { name } : { name, elemType };
}

export function graphInfo(model: Uint8Array): GraphInfo {
  const graph = sub(model, 7)[0];
  if (!graph) throw new Error("not an ONNX model (no graph)");
  const files = new Map<string, number>();
  const elementTypes = new Set<number>();
  let inlineBytes = 0;
  const inputNames: string[] = [];
  const outputNames: string[] = [];
  const initNames = new Set<string>();
  const types: Record<string, number> = {};
  let largest = { name: "", bytes: 0 };
  for (const f of fields(graph)) {
    if (!f.bytes) continue;
    if (f.no === 5) {
      let location = "";
      let offset = 0;
      let length = -1;
      let external = false;
      let name = "";
      const inlineBefore = inlineBytes;
      for (const t of fields(f.bytes)) {
        if (t.no === 2 && t.wire === 0) elementTypes.add(t.value);
        else if (t.no === 8) name = text(t.bytes);
        else if (t.no === 14 && t.wire === 0) external = t.value === 1;
        else if (t.no === 13 && t.bytes) {
          let key = "";
          let value = "";
          for (const e of fields(t.bytes)) {
            if (e.no === 1) key = text(e.bytes);
            if (e.no === 2) value = text(e.bytes);
          }
          if (key === "location") location = value;
          if (key === "offset") offset = Number(value);
          if (key === "length") length = Number(value);
        } else if (t.wire === 2 && [4, 5, 6, 7, 9, 10, 11].includes(t.no)) inlineBytes += t.value;
      }
      initNames.add(name);
      const bytes = external ? length : inlineBytes - inlineBefore;
      if (bytes > largest.bytes) largest = { name, bytes };
      if (external) {
        if (length < 0) throw new Error(`initializer ${name}: external data without a length`);
        files.set(location, Math.max(files.get(location) ?? 0, offset + length));
      }
    } else if (f.no === 11) {
      const v = valueInfo(f.bytes);
      if (!initNames.has(v.name)) {
        inputNames.push(v.name);
        if (v.elemType !== undefined) (elementTypes.add(v.elemType), types[v.name] = v.elemType);
      }
    } else if (f.no === 12) {
      const v = valueInfo(f.bytes);
      outputNames.push(v.name);
      if (v.elemType !== undefined) types[v.name] = v.elemType;
    }
  }
  return {
    externalFiles: [...files].map(([location, bytes]) => ({ location, bytes })),
    inlineBytes,
    elementTypes,
    inputNames: inputNames.filter((n) => !initNames.has(n)),
    outputNames,
    types,
    largest,
  };
}
