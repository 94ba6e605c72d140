/**
 * The `tokenizer.json` of a CLIP tokenizer that ships only its slow files (`vocab.json` +
 * `merges.txt`, as FLUX.1's `tokenizer/` folder does): CLIP's normalizer (NFC, runs of
 * whitespace to one space, lower case), its split pattern with byte-level BPE and the
 * `</w>` word suffix, and start/end tokens around every prompt.
 *
 * @example
 * ```ts ignore
 * import { clipTokenizerJson } from "./clip_tokenizer_json.ts";
 * const json = clipTokenizerJson(vocab, await Deno.readTextFile("tokenizer/merges.txt"));
 * ```
 */
export function clipTokenizerJson(
  vocab: Record<string, number>,
  mergesTxt: string,
): Record<string, unknown> {
  const merges = mergesTxt.split("\n").filter((l) => l.length > 0 && !l.startsWith("#version"));
  const BOS = "<|startoftext|>", EOS = "<|endoftext|>";
  const id = (t: string) => {
    const v = vocab[t];
    if (v === undefined) throw new Error(`CLIP vocabulary has no ${t}`);
    return v;
  };
  const added = (content: string, normalized: boolean) => ({
    id: id(content),
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized,
    special: true,
  });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [added(BOS, true), added(EOS, false)],
    normalizer: {
      type: "Sequence",
      normalizers: [
        { type: "NFC" },
        { type: "Replace", pattern: { Regex: "\\s+" }, content: " " },
        { type: "Lowercase" },
      ],
    },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        {
          type: "Split",
          pattern: {
            Regex:
              "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
          },
          behavior: "Removed",
          invert: true,
        },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    post_processor: {
      type: "RobertaProcessing",
      sep: [EOS, id(EOS)],
      cls: [BOS, id(BOS)],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: EOS,
      continuing_subword_prefix: "",
      end_of_word_suffix: "</w>",
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}
