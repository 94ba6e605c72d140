/**
 * SIGTERM on the real server process with a running job, queued jobs and a client that
 * trickles its body: bounded exit (grace + 1 s), exit code 0, and every accepted job ends
 * with an answer — the queued ones a retryable 503.
 */
import assert from "node:assert/strict";
import { spawnServer } from "../_helpers.ts";

Deno.test({
  name:
    "SIGTERM: running + queued jobs + a trickling body; exit 0 within grace + 1 s, every job answered",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const grace = 1;
    const server = await spawnServer("--shutdown-grace", String(grace));
    const url = new URL(server.url);
    const json = { "content-type": "application/json" };
    // a long running job and two queued behind it
    const jobs = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${server.url}/v1/images/jobs`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ prompt: "x", size: "128x128", steps: 200, n: 4, seed: i }),
      });
      assert.equal(res.status, 202);
      jobs.push(await res.json());
    }
    // plain requests waiting on queued jobs, answered when they end
    const plain = fetch(`${server.url}/v1/images/generations`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ prompt: "x", size: "128x128", steps: 200, seed: 9 }),
    });
    // a client that announces 100 bytes and sends 5
    const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
    await conn.write(new TextEncoder().encode(
      `POST /v1/images/generations HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"pro`,
    ));
    while ((await (await fetch(`${server.url}/health`)).json()).running === null) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const t0 = performance.now();
    const code = await server.stop();
    const seconds = (performance.now() - t0) / 1000;
    assert.equal(code, 0);
    assert.ok(seconds <= grace + 1.5, `exited after ${seconds.toFixed(2)} s`);
    const answered = await plain;
    assert.equal(answered.status, 503);
    assert.equal((await answered.json()).error.code, "shutting_down");
    assert.ok(Number(answered.headers.get("retry-after")) >= 1);
    try {
      conn.close();
    } catch { /* closed by the exit */ }
  },
});

Deno.test({
  name:
    "SIGTERM cuts a running job short: a plain request gets 503 shutting_down with Retry-After; a stream and a job's events end with an error of that code",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const body = { prompt: "x", size: "128x128", steps: 200, n: 4, seed: 1 };
    const json = { "content-type": "application/json" };
    for (const mode of ["plain", "stream", "job"] as const) {
      // the default model: slow enough that 4 x 200 steps are still running at the SIGTERM
      const server = await spawnServer("--shutdown-grace", "1", "--model", "default");
      const answer = mode === "job"
        ? fetch(`${server.url}/v1/images/jobs`, {
          method: "POST",
          headers: json,
          body: JSON.stringify(body),
        })
          .then(async (r) => fetch(`${server.url}${(await r.json()).events_url}`))
        : fetch(`${server.url}/v1/images/generations`, {
          method: "POST",
          headers: json,
          body: JSON.stringify({ ...body, stream: mode === "stream" }),
        });
      while ((await (await fetch(`${server.url}/health`)).json()).running === null) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const stopped = server.stop();
      const res = await answer;
      if (mode === "plain") {
        const e = (await res.json()).error;
        assert.equal(res.status, 503, JSON.stringify(e));
        assert.equal(e.code, "shutting_down");
        assert.ok(Number(res.headers.get("retry-after")) >= 1);
      } else {
        const text = await res.text();
        const error = text.split("\n\n").find((b) => b.startsWith("event: error"));
        assert.ok(error, `${mode}: ${text.slice(-300)}`);
        const data = JSON.parse(error.split("\n").find((l) => l.startsWith("data:"))!.slice(5));
        assert.equal(data.error.code, "shutting_down", mode);
      }
      assert.equal(await stopped, 0);
    }
  },
});
