/** A corrupt or missing model file stops the server at startup with a message naming it. */
import assert from "node:assert/strict";

async function serveWith(mutate: (dir: string) => Promise<void>) {
  const home = await Deno.makeTempDir();
  const dir = `${home}/models/bad`;
  await Deno.mkdir(dir, { recursive: true });
  for await (const e of Deno.readDir("models/fixture")) {
    await Deno.copyFile(`models/fixture/${e.name}`, `${dir}/${e.name}`);
  }
  const manifest = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
  await Deno.writeTextFile(`${dir}/manifest.json`, JSON.stringify({ ...manifest, id: "bad" }));
  await mutate(dir);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "serve", "--model", "bad", "--ep", "wasm", "--port", "0"],
    env: { RALU_HOME: home },
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(home, { recursive: true });
  return { code: out.code, err: new TextDecoder().decode(out.stderr) };
}

Deno.test("a truncated transformer.onnx or a missing vae_decoder.onnx: exit 2 naming the file", async () => {
  const corrupt = await serveWith(async (dir) => {
    const bytes = await Deno.readFile(`${dir}/transformer.onnx`);
    await Deno.writeFile(`${dir}/transformer.onnx`, bytes.slice(0, 500));
  });
  assert.equal(corrupt.code, 2);
  assert.match(
    corrupt.err,
    /cannot start: model "bad": \S*models\/bad\/transformer\.onnx: not a loadable ONNX model/,
  );
  assert.doesNotMatch(corrupt.err, /\n\s+at /, "no stack trace");
  const missing = await serveWith((dir) => Deno.remove(`${dir}/vae_decoder.onnx`));
  assert.equal(missing.code, 2);
  assert.match(missing.err, /models\/bad\/vae_decoder\.onnx/);
});
