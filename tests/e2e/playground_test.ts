/// <reference lib="dom" />
/**
 * The playground page in a real browser: Debian's Chromium, headless, driven by
 * puppeteer-core (no browser download). Skipped where /usr/bin/chromium (or $CHROMIUM) is
 * missing; `.ci/run` installs it, so CI always runs it.
 */
import assert from "node:assert/strict";
import puppeteer from "puppeteer-core";
import { fixtureApp, ortTest, slowDown } from "../_helpers.ts";

const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";
const noChromium = await Deno.stat(CHROMIUM).then(() => false, () => true);

/** Headless Chromium on this server's URL; the caller closes it. */
function launch() {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu"],
  });
}

Deno.test({
  name:
    "playground: ralu 4x streams previews, the stage timeline, the edge map and the image; compare; cancel",
  ...ortTest,
  ignore: noChromium,
  fn: async () => {
    // the default model: the screenshots in README and docs/ show a real picture
    const { app, state } = await fixtureApp({ model: "default" });
    const model = await state.registry.get();
    const restore = slowDown(model, 40); // slow enough to watch (and screenshot) a run
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
    const url = `http://127.0.0.1:${server.addr.port}/`;
    const browser = await launch();
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 1100, height: 1000 });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(url);
      await page.waitForFunction(() => document.querySelectorAll("#model option").length > 0);
      assert.equal(await page.$eval("#model", (e) => (e as HTMLSelectElement).value), "default");
      await page.select("#size", "128x128");
      // before any run: no image slot shows a broken-image box, and the dice is a drawing
      const idle = await page.evaluate(() => ({
        shownEmpty: [...document.querySelectorAll("img")].filter((i) =>
          !i.getAttribute("src") && getComputedStyle(i).display !== "none"
        ).map((i) => i.id),
        diceSvg: !!document.querySelector("#dice svg"),
        diceText: document.querySelector("#dice")!.textContent ?? "",
        diceWidth: document.querySelector("#dice svg")!.getBoundingClientRect().width,
      }));
      assert.deepEqual(idle.shownEmpty, []);
      assert.ok(idle.diceSvg && idle.diceWidth > 10, JSON.stringify(idle));
      assert.ok([...idle.diceText].every((c) => c.charCodeAt(0) < 128), "no emoji in the dice");
      await page.select("#method", "ralu-4x");
      // every control has a label a keyboard or screen-reader user can reach
      const unlabelled = await page.$$eval(
        "input, select, textarea",
        (els) => els.filter((e) => !e.closest("label")).map((e) => e.id),
      );
      assert.deepEqual(unlabelled, []);

      // 1. Generate: previews, timeline to stage 3, the edge map with tokens, the image
      await page.click("#go");
      await page.waitForFunction(() => document.querySelector("#preview")!.getAttribute("src"));
      await page.waitForFunction(() =>
        document.querySelector<HTMLElement>("#timeline")!.dataset.stage === "3"
      );
      await page.screenshot({ path: "docs/playground_running.png" });
      await page.waitForFunction(() => document.querySelector("#result")!.getAttribute("src"), {
        timeout: 30_000,
      });
      const view = await page.evaluate(() => ({
        edges: document.querySelector("#edges")!.getAttribute("src") ?? "",
        stage2: document.querySelector("#timeline li[data-stage='2'] span")!.textContent,
        stage3: document.querySelector("#timeline li[data-stage='3']")!.className,
        cost: document.querySelector("#cost")!.textContent,
        status: document.querySelector("#status")!.textContent,
        history: document.querySelectorAll("#history img").length,
      }));
      assert.match(view.edges, /^data:image\/png;base64,/);
      assert.match(view.stage2!, /121 tokens/); // 64 - 19 + 4 x 19
      assert.equal(view.stage3, "done");
      assert.match(view.cost!, /token-steps \(4\.\d+x fewer than base-50\)/);
      assert.equal(view.status, "done");
      assert.equal(view.history, 1);

      // 2. Compare with base: same seed, side by side, measured speedup
      await page.click("#compare");
      await page.waitForFunction(
        () => !document.querySelector<HTMLElement>("#comparison")!.hidden,
        {
          timeout: 60_000,
        },
      );
      const text = await page.$eval("#cmpText", (e) => e.textContent ?? "");
      assert.match(text, /x faster in wall time/);
      await page.screenshot({ path: "docs/playground.png", fullPage: true });

      // 3. Cancel a long base run: it stops and says so
      await page.select("#method", "base");
      await page.$eval("#steps", (e) => ((e as HTMLInputElement).value = "200"));
      await page.click("#go");
      await page.waitForFunction(() =>
        document.querySelector("#status")!.textContent === "running"
      );
      await page.click("#cancel");
      await page.waitForFunction(
        () => document.querySelector("#status")!.textContent === "stopped",
        {
          timeout: 30_000, // a bound, not a timing claim: a loaded CI box is slow
        },
      );
      assert.match(await page.$eval("#error", (e) => e.textContent ?? ""), /cancel/i);
      assert.equal(
        await page.$$eval("#history img", (els) => els.length),
        2,
        "base of the compare",
      );
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      restore();
      await server.shutdown();
    }
  },
});

Deno.test({
  name: "playground: with --api-key the page asks for the key and sends it as a Bearer header",
  ...ortTest,
  ignore: noChromium,
  fn: async () => {
    const { app } = await fixtureApp({ "api-key": "s3cret-key" });
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
    const browser = await launch();
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${server.addr.port}/`);
      await page.waitForFunction(() => !document.querySelector<HTMLElement>("#keybox")!.hidden);
      assert.match(await page.$eval("#error", (e) => e.textContent ?? ""), /API key/);
      await page.type("#key", "s3cret-key");
      await page.click("#savekey");
      await page.waitForFunction(() => document.querySelectorAll("#model option").length > 0);
      assert.equal(await page.$eval("#error", (e) => e.textContent), "");
      assert.equal(await page.evaluate(() => sessionStorage.getItem("ralu-key")), "s3cret-key");
    } finally {
      await browser.close();
      await server.shutdown();
    }
  },
});
