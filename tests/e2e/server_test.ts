/**
 * End to end: the real server process, driven by the official `openai` client and by a
 * raw fetch reader of the job SSE stream.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { decode } from "fast-png";
import { decodeBase64 } from "../../src/http/base64.ts";
import { spawnServer as startServer } from "../_helpers.ts";

/** Reads SSE events from a fetch body until `until` says stop. */
async function sseEvents(
  res: Response,
  until: (event: string) => boolean,
  onEvent: (event: string) => void = () => {},
): Promise<{ event: string; data: string }[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: { event: string; data: string }[] = [];
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let idx;
    while ((idx = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, idx);
      buf = buf.slice(idx + 2);
      const event = block.match(/^event: ?(.*)$/m)?.[1] ?? "message";
      const data = [...block.matchAll(/^data: ?(.*)$/gm)].map((m) => m[1]).join("\n");
      events.push({ event, data });
      onEvent(event);
      if (until(event)) {
        await reader.cancel();
        return events;
      }
    }
  }
  return events;
}

const e2e = { sanitizeResources: false, sanitizeOps: false } as const;

Deno.test(
  "the openai client generates images, also streaming; job SSE, cancel and SIGTERM work",
  e2e,
  async (t) => {
    const server = await startServer("--api-key", "test-key-123");
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "test-key-123" });

    await t.step("images.generate returns a PNG of the requested size", async () => {
      const res = await client.images.generate(
        {
          prompt: "a red circle",
          size: "64x64",
          seed: 1,
          steps: 3,
        } as unknown as OpenAI.ImageGenerateParamsNonStreaming,
      );
      const png = decode(decodeBase64(res.data![0]!.b64_json!));
      assert.equal(png.width, 64);
    });

    await t.step(
      "images.generate with stream: true yields partial images then completed",
      async () => {
        const stream = await client.images.generate(
          {
            prompt: "a blue square",
            size: "64x64",
            stream: true,
            partial_images: 2,
            steps: 6,
          } as unknown as OpenAI.ImageGenerateParamsStreaming,
        );
        const types: string[] = [];
        for await (const ev of stream) types.push(ev.type);
        assert.deepEqual(types, [
          "image_generation.partial_image",
          "image_generation.partial_image",
          "image_generation.completed",
        ]);
      },
    );

    await t.step("a wrong key is refused by the client with 401", async () => {
      const bad = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "wrong" });
      await assert.rejects(
        () => bad.images.generate({ prompt: "x" }),
        (e: unknown) => (e as { status: number }).status === 401,
      );
    });

    const auth = { authorization: "Bearer test-key-123", "content-type": "application/json" };

    await t.step("a raw fetch reader follows a job's SSE stream to completion", async () => {
      const job = await (await fetch(`${server.url}/v1/images/jobs`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({
          prompt: "a green triangle",
          size: "128x128",
          seed: 2,
          acceleration: { method: "ralu", preset: "7x" },
          preview_every: 2,
        }),
      })).json();
      const res = await fetch(`${server.url}${job.events_url}`, { headers: auth });
      assert.equal(res.headers.get("content-type"), "text/event-stream");
      const events = await sseEvents(res, (e) => e === "completed" || e === "error");
      const names = events.map((e) => e.event);
      assert.equal(names.at(-1), "completed");
      for (const n of ["queued", "started", "stage", "step", "preview", "edge_mask"]) {
        assert.ok(names.includes(n), n);
      }
      const stages = events.filter((e) => e.event === "stage").map((e) =>
        JSON.parse(e.data).tokens
      );
      assert.deepEqual(stages, [64, 64 - 6 + 24, 256]);
    });

    await t.step("DELETE stops a running job", async () => {
      const body = JSON.stringify({ prompt: "x", size: "128x128", steps: 200, n: 4 });
      const job =
        await (await fetch(`${server.url}/v1/images/jobs`, { method: "POST", headers: auth, body }))
          .json();
      const res = await fetch(`${server.url}${job.events_url}`, { headers: auth });
      let deleted: Promise<Response> | undefined;
      const events = await sseEvents(res, (e) => e === "completed" || e === "error", (e) => {
        // cancel as soon as the first step is reported: the job is running
        if (e === "step" && !deleted) {
          deleted = fetch(`${server.url}/v1/images/jobs/${job.id}`, {
            method: "DELETE",
            headers: auth,
          });
        }
      });
      assert.equal((await (await deleted!).json()).cancelled, true);
      assert.equal(events.at(-1)!.event, "error");
      assert.equal(JSON.parse(events.at(-1)!.data).error.code, "cancelled");
      assert.ok(events.filter((e) => e.event === "step").length < 800);
    });

    await t.step("a client that disconnects cancels its generation", async () => {
      const ac = new AbortController();
      const pending = fetch(`${server.url}/v1/images/generations`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ prompt: "x", size: "128x128", steps: 200, n: 4 }),
        signal: ac.signal,
      }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
      ac.abort();
      await pending;
      for (let i = 0; i < 100; i++) {
        const m = await (await fetch(`${server.url}/metrics`, { headers: auth })).text();
        if (/ralu_jobs_total\{outcome="cancelled"\} 2/.test(m)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.fail("the abandoned job was not cancelled");
    });

    await t.step("SIGTERM shuts down gracefully (exit 0)", async () => {
      assert.equal(await server.stop(), 0);
    });
  },
);
