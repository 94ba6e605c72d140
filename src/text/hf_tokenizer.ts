/**
 * A Hugging Face `tokenizer.json` tokenizer (CLIP's BPE, T5's Unigram) read with
 * `@huggingface/tokenizers`, plus what that library leaves out: padding to the text
 * encoder's fixed length and truncation that keeps the special tokens.
 *
 * @example
 * ```ts ignore
 * import { HfTokenizer } from "./hf_tokenizer.ts";
 * const clip = await HfTokenizer.fromDir("models/flux-tiny/tokenizer/", { maxLength: 77 });
 * clip.encode("a red circle").ids; // BigInt64Array(77) [49406, 320, 736, 7117, 49407, 49407, …]
 * ```
 */
import { Tokenizer } from "@huggingface/tokenizers";
import { join } from "node:path";
import { clipTokenizerJson } from "./clip_tokenizer_json.ts";

export interface TokenizedPrompt {
  /** `[length]`: special tokens, the prompt's tokens, padding. */
  ids: BigInt64Array;
  /** Tokens of the prompt itself (without special tokens) before truncation. */
  promptTokens: number;
  /** Prompt tokens dropped because the encoder's length was reached (0 when none). */
  truncated: number;
}

export interface PromptTokenizer {
  readonly length: number;
  encode(text: string): TokenizedPrompt;
}

export interface HfTokenizerOptions {
  /** The encoder's fixed sequence length (CLIP 77; T5 256 for schnell, 512 for dev). */
  maxLength: number;
  /** Padding id; by default the `pad_token` of tokenizer_config.json. */
  padId?: number;
}

type Json = Record<string, unknown>;

export class HfTokenizer implements PromptTokenizer {
  readonly #tok: Tokenizer;
  readonly #prefix: number[];
  readonly #suffix: number[];
  readonly padId: number;

  constructor(tokenizerJson: Json, config: Json, readonly length: number, padId?: number) {
    this.#tok = new Tokenizer(tokenizerJson, config);
    // the post-processor's special tokens around a prompt ("a" is one token in CLIP and T5)
    const plain = this.raw("a", false);
    const full = this.raw("a", true);
    const at = indexOf(full, plain);
    if (at < 0) throw new Error("tokenizer: cannot place the prompt among its special tokens");
    this.#prefix = full.slice(0, at);
    this.#suffix = full.slice(at + plain.length);
    const pad = padId ?? this.#tokenId(config.pad_token) ?? 0;
    this.padId = pad;
    if (this.#prefix.length + this.#suffix.length >= length) {
      throw new Error(`tokenizer: length ${length} leaves no room for a prompt`);
    }
  }

  /**
   * Reads `tokenizer.json` (and `tokenizer_config.json` when present) from a directory; a
   * CLIP folder with only `vocab.json` + `merges.txt` is converted.
   */
  static async fromDir(dir: string, opts: HfTokenizerOptions): Promise<HfTokenizer> {
    let json: Json;
    try {
      json = JSON.parse(await Deno.readTextFile(join(dir, "tokenizer.json"))) as Json;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      json = clipTokenizerJson(
        JSON.parse(await Deno.readTextFile(join(dir, "vocab.json"))),
        await Deno.readTextFile(join(dir, "merges.txt")),
      );
    }
    let config: Json = {};
    try {
      config = JSON.parse(await Deno.readTextFile(join(dir, "tokenizer_config.json"))) as Json;
    } catch (err) {
      // tokenizer_config.json is optional: padding then defaults to id 0
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return new HfTokenizer(json, config, opts.maxLength, opts.padId);
  }

  /** Ids exactly as the tokenizer gives them (no padding, no truncation). */
  raw(text: string, addSpecialTokens = true): number[] {
    return this.#tok.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  encode(text: string): TokenizedPrompt {
    const body = this.raw(text, false);
    const room = this.length - this.#prefix.length - this.#suffix.length;
    const kept = body.slice(0, room);
    const ids = new BigInt64Array(this.length).fill(BigInt(this.padId));
    [...this.#prefix, ...kept, ...this.#suffix].forEach((id, i) => (ids[i] = BigInt(id)));
    return { ids, promptTokens: body.length, truncated: body.length - kept.length };
  }

  #tokenId(token: unknown): number | undefined {
    const content = typeof token === "string"
      ? token
      : (token as { content?: string } | undefined)?.content;
    if (content === undefined) return undefined;
    // a vocabulary entry as transformers' convert_tokens_to_ids reads it (CLIP-G's pad "!" is
    // id 0; encoding "!" as text would give "!</w>", 256)
    const id = this.#tok.token_to_id(content);
    if (id !== undefined) return id;
    const ids = this.raw(content, false);
    return ids.length === 1 ? ids[0] : undefined;
  }
}

function indexOf(haystack: number[], needle: number[]): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
