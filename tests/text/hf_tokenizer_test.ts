// CLIP-L and T5 tokenization against the golden ids quoted from public test suites, and the
// padding and truncation the text encoders need (which the tokenizer files leave unset).
import assert from "node:assert/strict";
import { HfTokenizer } from "../../src/text/hf_tokenizer.ts";
import { fromFileUrl } from "../../src/_file_url.ts";

const here = (p: string) => fromFileUrl(new URL(p, import.meta.url).href);
// the miniature's copies of FLUX.1's tokenizers: CLIP-L as vocab.json + merges.txt, T5 as tokenizer.json
const CLIP_DIR = here("../../models/flux-tiny/tokenizer");
const T5_DIR = here("../../models/flux-tiny/tokenizer_2");
const SHARED = here("../../../shared/testdata/tokenizers/");
const HAVE_SHARED = await Deno.stat(SHARED + "clip-l/tokenizer.json").then(() => true, () => false);
interface Golden {
  tokenizer: "clip-l" | "t5";
  text: string;
  ids: number[];
  add_special_tokens: boolean;
  case: string;
}
const golden = JSON.parse(
  await Deno.readTextFile(here("../data/tokenizers/golden.json")),
) as Golden[];
const clip = await HfTokenizer.fromDir(CLIP_DIR, { maxLength: 77 });
const t5 = await HfTokenizer.fromDir(T5_DIR, { maxLength: 512 });
const t5Json = () => JSON.parse(Deno.readTextFileSync(`${T5_DIR}/tokenizer.json`));

Deno.test("every golden id sequence is reproduced (26 CLIP-L, 31 T5)", () => {
  assert.equal(golden.filter((g) => g.tokenizer === "clip-l").length, 26);
  assert.equal(golden.filter((g) => g.tokenizer === "t5").length, 31);
  for (const g of golden) {
    const tok = g.tokenizer === "clip-l" ? clip : t5;
    assert.deepEqual(tok.raw(g.text, g.add_special_tokens), g.ids, `${g.tokenizer} ${g.case}`);
  }
});

Deno.test("padding: CLIP-L to 77 with its end token 49407, T5 with 0; specials stay in place", () => {
  const c = clip.encode("a red circle");
  assert.equal(c.ids.length, 77);
  assert.deepEqual([...c.ids.slice(0, 6)].map(Number), [49406, 320, 736, 7117, 49407, 49407]);
  assert.ok(c.ids.slice(4).every((x) => x === 49407n));
  assert.equal(c.truncated, 0);
  const t = new HfTokenizer(
    t5Json(),
    {},
    256,
  );
  const e = t.encode("How are you doing?");
  assert.equal(e.ids.length, 256);
  assert.deepEqual([...e.ids.slice(0, 7)].map(Number), [571, 33, 25, 692, 58, 1, 0]);
  assert.ok(e.ids.slice(6).every((x) => x === 0n));
  assert.equal(e.promptTokens, 5);
});

Deno.test("truncation keeps the start and end tokens and counts what it dropped", () => {
  const long = Array.from({ length: 100 }, () => "red").join(" ");
  const c = clip.encode(long);
  assert.equal(c.ids.length, 77);
  assert.equal(c.ids[0], 49406n);
  assert.equal(c.ids[76], 49407n);
  assert.ok(c.ids.slice(1, 76).every((x) => x === 736n));
  assert.equal(c.promptTokens, 100);
  assert.equal(c.truncated, 25);
  const s = new HfTokenizer(
    t5Json(),
    { pad_token: "<pad>" },
    8,
  );
  const e = s.encode("How are you doing? Very well, thank you.");
  assert.deepEqual([...e.ids].map(Number), [
    ...t5.raw("How are you doing? Very well, thank you.", false).slice(0, 7),
    1,
  ]);
  assert.ok(e.truncated > 0);
});

Deno.test({
  name:
    "CLIP from vocab.json + merges.txt (FLUX.1's tokenizer/) equals the published tokenizer.json",
  ignore: !HAVE_SHARED,
}, async () => {
  const fast = await HfTokenizer.fromDir(SHARED + "clip-l", { maxLength: 77 });
  for (const g of golden.filter((g) => g.tokenizer === "clip-l")) {
    assert.deepEqual(fast.raw(g.text, g.add_special_tokens), g.ids, g.case);
  }
  for (
    const text of [
      "A photo of an astronaut riding a horse on Mars, 4k, trending!! <|endoftext|>",
      "naïve café — 12 €, ümlaut & emoji 🎨 tabs\tand\nnewlines",
    ]
  ) assert.deepEqual(clip.encode(text).ids, fast.encode(text).ids, text);
  assert.equal(clip.padId, 49407);
});
