import assert from "node:assert/strict";
import { noGpu } from "../kernels/_gpu.ts";

Deno.test({
  name:
    "a lost GPU device is detected; device, kernels and sessions are rebuilt; the next job succeeds",
  ignore: noGpu,
  fn: async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "tests/reliability/_device_loss.ts"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!;
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.deepEqual(JSON.parse(text), { first: 200, second: 200, rebuilt: true });
    assert.match(new TextDecoder().decode(out.stderr), /GPU device lost; reloading/);
  },
});
