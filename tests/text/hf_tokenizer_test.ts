// CLIP-L and T5 tokenization against the golden ids quoted from public test suites, and the
// padding and truncation the text encoders need (which the tokenizer files leave unset).
import assert from "node:assert/strict";
import { HfTokenizer } from "../../src/text/hf_tokenizer.ts";
import { fromFileUrl } from "../../src/_file_url.ts";

const DATA = fromFileUrl(new URL("../../../shared/testdata/tokenizers/", import.meta.url).href);
interface Golden {
  tokenizer: "clip-l" | "t5";
  text: string;
  ids: number[];
  add_special_tokens: boolean;
  case: string;
}
const golden = JSON.parse(await Deno.readTextFile(DATA + "golden.json")) as Golden[];
const clip = await HfTokenizer.fromDir(DATA + "clip-l", { maxLength: 77 });
const t5 = await HfTokenizer.fromDir(DATA + "t5-v1_1-xxl", { maxLength: 512 });

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
    JSON.parse(Deno.readTextFileSync(DATA + "t5-v1_1-xxl/tokenizer.json")),
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
    JSON.parse(Deno.readTextFileSync(DATA + "t5-v1_1-xxl/tokenizer.json")),
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

Deno.test("a CLIP folder with only vocab.json + merges.txt (FLUX.1's tokenizer/) gives the same ids", async () => {
  const dir = await Deno.makeTempDir();
  for (const f of ["vocab.json", "merges.txt", "tokenizer_config.json"]) {
    await Deno.copyFile(`${DATA}clip-l/${f}`, `${dir}/${f}`);
  }
  const slow = await HfTokenizer.fromDir(dir, { maxLength: 77 });
  await Deno.remove(dir, { recursive: true });
  for (const g of golden.filter((g) => g.tokenizer === "clip-l")) {
    assert.deepEqual(slow.raw(g.text, g.add_special_tokens), g.ids, g.case);
  }
  const text = "A photo of an astronaut riding a horse on Mars, 4k, trending!! <|endoftext|>";
  assert.deepEqual(slow.encode(text).ids, clip.encode(text).ids);
  assert.equal(slow.padId, 49407);
});
