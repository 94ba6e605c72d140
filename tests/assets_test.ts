import assert from "node:assert/strict";
import { safeRelative } from "../src/assets.ts";

Deno.test("asset paths cannot leave the asset roots", () => {
  assert.equal(safeRelative("models/default/manifest.json"), "models/default/manifest.json");
  for (const bad of ["../etc/passwd", "/etc/passwd", "models/../../x", ".."]) {
    assert.throws(() => safeRelative(bad), /escapes/);
  }
});

Deno.test("a model copied into another directory loads through $RALU_HOME, from any working directory", async () => {
  const home = await Deno.makeTempDir();
  const cwd = await Deno.makeTempDir();
  await Deno.mkdir(`${home}/models/copied`, { recursive: true });
  for await (const f of Deno.readDir("models/fixture")) {
    await Deno.copyFile(`models/fixture/${f.name}`, `${home}/models/copied/${f.name}`);
  }
  const manifest = JSON.parse(await Deno.readTextFile(`${home}/models/copied/manifest.json`));
  await Deno.writeTextFile(
    `${home}/models/copied/manifest.json`,
    JSON.stringify({ ...manifest, id: "copied" }),
  );
  const main = new URL("../main.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      main,
      "generate",
      "--model",
      "copied",
      "--ep",
      "wasm",
      "--prompt",
      "a red circle",
      "--out",
      `${cwd}/x.png`,
      "--size",
      "32x32",
      "--steps",
      "2",
    ],
    cwd,
    env: { RALU_HOME: home },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const png = await Deno.readFile(`${cwd}/x.png`);
  assert.deepEqual([...png.slice(1, 4)], [80, 78, 71]); // "PNG"
  await Deno.remove(home, { recursive: true });
  await Deno.remove(cwd, { recursive: true });
});
