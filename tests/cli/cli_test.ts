import assert from "node:assert/strict";
import { decode, encode } from "fast-png";

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("schedule --json prints h (3 values), Z and the boundary values", async () => {
  const r = await cli("schedule", "--N", "5,6,7", "--e", "0.3,0.45,1.0", "--h0", "3", "--json");
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.h.length, 3);
  assert.ok(Math.abs(j.Z - 6.317) / 6.317 < 0.03);
  assert.ok(Math.abs(j.h[0] - 5.019) / 5.019 < 0.03);
  assert.equal(j.boundaries.length, 2);
  assert.ok(Math.abs(j.boundaries[0].alpha + j.boundaries[0].s - 1) < 1e-12);
});

Deno.test("edges writes the Canny map of a gray PNG and the selected-patch overlay", async () => {
  const w = 64, h = 64;
  const gray = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) gray[y * w + x] = (x - 20) ** 2 + (y - 20) ** 2 < 100 ? 230 : 20;
  }
  const dir = await Deno.makeTempDir();
  await Deno.writeFile(
    `${dir}/in.png`,
    encode({ width: w, height: h, data: gray, channels: 1, depth: 8 }),
  );
  const r = await cli(
    "edges",
    "--in",
    `${dir}/in.png`,
    "--out",
    `${dir}/e.png`,
    "--ratio",
    "0.25",
    "--patches",
    `${dir}/o.png`,
  );
  assert.equal(r.code, 0, r.stderr);
  const e = decode(await Deno.readFile(`${dir}/e.png`));
  assert.equal(e.channels, 1);
  const on = [...e.data].filter((v) => v === 255).length;
  assert.ok(on > 20 && on < 200, `${on} edge pixels on a circle of radius 10`);
  assert.ok([...e.data].every((v) => v === 0 || v === 255));
  // edge pixels only near the circle
  for (let i = 0; i < e.data.length; i++) {
    if (e.data[i] === 255) {
      const x = i % w, y = Math.floor(i / w);
      assert.ok(Math.abs(Math.hypot(x - 20, y - 20) - 10) < 2.5, `edge at ${x},${y}`);
    }
  }
  const o = decode(await Deno.readFile(`${dir}/o.png`));
  assert.equal(o.width, w);
  assert.match(r.stdout, /4 of 16 tokens selected/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("bad flags exit 2 with a message; --help prints usage", async () => {
  const bad = await cli("serve", "--port", "99999");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--port/);
  const help = await cli("--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--api-key/);
});
