/**
 * Word-level tokenizer for the default model's closed vocabulary (mirrors
 * tools/train/scenes.py `tokenize`): lower-case, split on non-letters, unknown words map
 * to `<unk>`, padded with `<pad>` (id 0) to the model's fixed length.
 *
 * @example
 * ```ts
 * import { WordTokenizer } from "./word_tokenizer.ts";
 * const tok = new WordTokenizer(["<pad>", "<unk>", "a", "red"], 8);
 * tok.encode("A red thing").ids; // BigInt64Array [2, 3, 1, 0, 0, 0, 0, 0]
 * ```
 */
import type { PromptTokenizer, TokenizedPrompt } from "./hf_tokenizer.ts";

export class WordTokenizer implements PromptTokenizer {
  readonly #ids: Map<string, number>;

  constructor(readonly vocab: string[], readonly length: number) {
    this.#ids = new Map(vocab.map((w, i) => [w, i]));
  }

  encode(text: string): TokenizedPrompt {
    const ids = new BigInt64Array(this.length);
    const words = text.toLowerCase().match(/[a-z]+/g) ?? [];
    words.slice(0, this.length).forEach((w, i) => (ids[i] = BigInt(this.#ids.get(w) ?? 1)));
    return {
      ids,
      promptTokens: words.length,
      truncated: Math.max(0, words.length - this.length),
    };
  }
}
