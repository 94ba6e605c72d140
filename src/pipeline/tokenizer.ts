/**
 * Word-level tokenizer for the default model's closed vocabulary (mirrors
 * tools/train/scenes.py `tokenize`): lower-case, split on non-letters, unknown words map
 * to `<unk>`, padded with `<pad>` (id 0) to the model's fixed length.
 *
 * @example
 * ```ts
 * import { WordTokenizer } from "./tokenizer.ts";
 * const tok = new WordTokenizer(["<pad>", "<unk>", "a", "red"], 8);
 * tok.encode("A red thing"); // BigInt64Array [2, 3, 1, 0, 0, 0, 0, 0]
 * ```
 */
export class WordTokenizer {
  readonly #ids: Map<string, number>;

  constructor(readonly vocab: string[], readonly length: number) {
    this.#ids = new Map(vocab.map((w, i) => [w, i]));
  }

  encode(text: string): BigInt64Array {
    const out = new BigInt64Array(this.length);
    const words = text.toLowerCase().match(/[a-z]+/g) ?? [];
    words.slice(0, this.length).forEach((w, i) => (out[i] = BigInt(this.#ids.get(w) ?? 1)));
    return out;
  }

  /** Words the model has never seen (for a helpful warning, not an error). */
  unknownWords(text: string): string[] {
    return (text.toLowerCase().match(/[a-z]+/g) ?? []).filter((w) => !this.#ids.has(w));
  }
}
