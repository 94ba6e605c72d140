/**
 * `GET /` — the playground: one self-contained page (no other hosts) that submits jobs,
 * streams their events (previews, the stage timeline, RALU's edge map and selected
 * tokens), cancels, compares with `base` at the same seed, and keeps a history. Events
 * are read with `fetch` (not EventSource) so an API key can go as a Bearer header.
 */
import { Hono } from "hono";

const STYLE = `
[hidden]{display:none!important}
:root{font:15px system-ui,sans-serif;color:#222}body{margin:1.5rem auto;max-width:64rem;padding:0 1rem}
h1{font-size:1.4rem}h2{font-size:1.1rem}form{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end}
label{display:flex;flex-direction:column;font-size:.85rem;gap:.15rem}textarea{width:36rem;max-width:90vw}
input[type=number]{width:6rem}fieldset{display:flex;gap:.5rem;border:1px solid #ccc}
button{padding:.35rem .8rem;font:inherit}button:focus-visible,select:focus-visible,input:focus-visible,textarea:focus-visible{outline:2px solid #06c}
#error{color:#b00020;min-height:1.2em}#status{min-height:1.2em}
#timeline{display:flex;gap:.5rem;list-style:none;padding:0}#timeline li{border:1px solid #bbb;border-radius:4px;padding:.3rem .6rem;color:#888}
#timeline li.active{border-color:#06c;color:#06c;font-weight:600}#timeline li.done{color:#222;border-color:#222}
.frames{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0}figcaption{font-size:.8rem;color:#555}
.stack{position:relative;width:256px;height:256px}.stack img,.stack canvas{position:absolute;inset:0}
img.px,.stack img{width:256px;height:256px;image-rendering:pixelated;background:#eee;border:1px solid #ccc}
.cmp{position:relative;width:384px;height:384px}.cmp img{position:absolute;inset:0;width:384px;height:384px;image-rendering:pixelated}
#history{display:flex;flex-wrap:wrap;gap:.4rem}#history button{padding:0;border:1px solid #ccc}#history img{width:64px;height:64px;display:block;image-rendering:pixelated}
`;

const SCRIPT = `
const $ = (id) => document.getElementById(id);
let current = null; // { id, acceleration, body, result }
let lastDone = null;
const history = [];

function headers(json) {
  const h = json ? { "content-type": "application/json" } : {};
  const key = sessionStorage.getItem("ralu-key");
  if (key) h.authorization = "Bearer " + key;
  return h;
}
function showError(msg) { $("error").textContent = msg || ""; }
async function api(path, init) {
  const res = await fetch(path, init);
  if (res.status === 401) { $("keybox").hidden = false; $("key").focus(); }
  if (!res.ok && res.headers.get("content-type")?.includes("json")) {
    const body = await res.json();
    throw new Error(body.error ? body.error.message : res.statusText);
  }
  if (!res.ok) throw new Error(res.status + " " + res.statusText);
  return res;
}
async function* events(url) {
  const res = await api(url, { headers: headers(false) });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.indexOf("\\n\\n")) >= 0) {
      const block = buf.slice(0, i); buf = buf.slice(i + 2);
      let event = "message", data = "";
      for (const line of block.split("\\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (data) yield { event, data: JSON.parse(data) };
    }
  }
}

async function loadModels() {
  try {
    const list = (await (await api("/v1/models", { headers: headers(false) })).json()).data;
    $("model").innerHTML = "";
    for (const m of list) {
      const o = document.createElement("option");
      o.value = m.id; o.textContent = m.id + (m.default ? " (default)" : "");
      o.dataset.sizes = m.sizes.join(","); o.selected = m.default;
      $("model").append(o);
    }
    fillSizes();
    showError("");
  } catch (e) { showError(e.message); }
}
function fillSizes() {
  const o = $("model").selectedOptions[0];
  $("size").innerHTML = "";
  for (const s of (o ? o.dataset.sizes : "").split(",").filter(Boolean)) {
    const opt = document.createElement("option"); opt.textContent = s; $("size").append(opt);
  }
}

function acceleration() {
  const [method, preset] = $("method").value.split("-");
  if (method === "base") return undefined;
  const acc = { method };
  if (preset === "custom") {
    acc.N = $("N").value.split(",").map(Number);
    acc.e = [...$("e").value.split(",").map(Number), 1];
    acc.r = Number($("r").value);
  } else acc.preset = preset;
  if ($("noise").value) acc.noise = $("noise").value;
  return acc;
}
function requestBody(acc) {
  const body = { prompt: $("prompt").value, model: $("model").value, size: $("size").value, seed: Number($("seed").value) };
  if ($("guidance").value) body.guidance = Number($("guidance").value);
  if (acc) body.acceleration = acc;
  else if ($("steps").value) body.steps = Number($("steps").value);
  return body;
}

function resetView() {
  for (const li of $("timeline").children) { li.className = ""; li.querySelector("span").textContent = ""; }
  $("counter").textContent = ""; $("cost").textContent = ""; $("preview").removeAttribute("src");
  $("edges").removeAttribute("src"); $("result").removeAttribute("src"); $("download").hidden = true;
  $("compare").disabled = true; $("comparison").hidden = true;
  const ctx = $("overlay").getContext("2d"); ctx.clearRect(0, 0, 256, 256);
}

function drawTokens(d) {
  const c = $("overlay"), ctx = c.getContext("2d");
  ctx.clearRect(0, 0, c.width, c.height);
  ctx.strokeStyle = "#ff2d55"; ctx.lineWidth = 1.5;
  const w = c.width / d.cols, h = c.height / d.rows;
  for (const t of d.tokens) ctx.strokeRect((t % d.cols) * w + 0.75, Math.floor(t / d.cols) * h + 0.75, w - 1.5, h - 1.5);
}

async function run(body, onEvent) {
  const res = await api("/v1/images/jobs", { method: "POST", headers: headers(true), body: JSON.stringify(body) });
  const job = await res.json();
  current = { id: job.id };
  $("cancel").disabled = false;
  let result = null;
  try {
    for await (const ev of events(job.events_url)) {
      onEvent(ev);
      if (ev.event === "completed") result = ev.data;
      if (ev.event === "error") throw new Error((ev.data.error || ev.data).message || "failed");
    }
  } finally {
    $("cancel").disabled = true;
    current = null;
  }
  return result;
}

async function generate(ev) {
  ev.preventDefault();
  showError(""); resetView();
  const acc = acceleration();
  const body = requestBody(acc);
  const t0 = performance.now();
  let timer = 0;
  $("go").disabled = true;
  try {
    const result = await run(body, (e) => {
      const d = e.data;
      if (e.event === "queued") $("status").textContent = "queued, position " + d.position;
      if (e.event === "started") {
        $("status").textContent = "running";
        timer = setInterval(() => { $("elapsed").textContent = ((performance.now() - t0) / 1000).toFixed(1) + " s"; }, 100);
      }
      if (e.event === "stage") {
        for (const li of $("timeline").children) {
          const s = Number(li.dataset.stage);
          li.className = s < d.stage ? "done" : s === d.stage ? "active" : "";
          if (s === d.stage) li.querySelector("span").textContent = " · " + d.tokens + " tokens, " + d.resolution;
        }
        $("timeline").dataset.stage = d.stage;
      }
      if (e.event === "step") {
        $("counter").textContent = "stage " + d.stage + " · step " + d.step + "/" + d.total + " · sigma " + d.sigma.toFixed(3) + " · " + d.tokens + " tokens";
      }
      if (e.event === "preview") $("preview").src = "data:image/png;base64," + d.b64_png;
      if (e.event === "edge_mask") { $("edges").src = "data:image/png;base64," + d.b64_png; drawTokens(d); }
    });
    const img = result.images[0];
    const src = "data:image/" + img.format + ";base64," + img.b64_json;
    $("result").src = src;
    for (const li of $("timeline").children) if (li.className === "active") li.className = "done";
    const c = result.cost;
    $("cost").textContent = "total " + result.timings.total_ms.toFixed(0) + " ms · " + c.token_steps + " token-steps (" +
      c.speedup_token_steps.toFixed(2) + "x fewer than base-" + c.base.steps + ") · FLOPs " + c.speedup_flops.toFixed(2) + "x fewer";
    $("download").href = src; $("download").hidden = false;
    $("status").textContent = "done";
    lastDone = { body, result, src };
    $("compare").disabled = !acc;
    addHistory(body, src);
  } catch (e) {
    showError(e.message);
    $("status").textContent = "stopped";
  } finally {
    clearInterval(timer);
    $("go").disabled = false;
  }
}

async function compare() {
  if (!lastDone) return;
  const base = { ...lastDone.body };
  delete base.acceleration;
  $("compare").disabled = true;
  $("status").textContent = "running base with seed " + base.seed;
  try {
    const r = await run(base, () => {});
    const img = r.images[0];
    $("cmpBase").src = "data:image/" + img.format + ";base64," + img.b64_json;
    addHistory(base, $("cmpBase").src);
    $("cmpAcc").src = lastDone.src;
    $("comparison").hidden = false;
    slide();
    const speed = r.timings.total_ms / lastDone.result.timings.total_ms;
    $("cmpText").textContent = "measured: base " + r.timings.total_ms.toFixed(0) + " ms, " + lastDone.body.acceleration.method + " " +
      lastDone.result.timings.total_ms.toFixed(0) + " ms — " + speed.toFixed(2) + "x faster in wall time, " +
      lastDone.result.cost.speedup_token_steps.toFixed(2) + "x fewer token-steps";
    $("status").textContent = "compared";
  } catch (e) { showError(e.message); }
  finally { $("compare").disabled = false; }
}
function slide() { $("cmpAcc").style.clipPath = "inset(0 0 0 " + $("slider").value + "%)"; }

function addHistory(body, src) {
  history.unshift({ body, src });
  const b = document.createElement("button");
  b.type = "button";
  b.title = (body.acceleration ? body.acceleration.method : "base") + ", seed " + body.seed + ": " + body.prompt;
  b.setAttribute("aria-label", "result " + history.length + ": " + b.title);
  const im = document.createElement("img"); im.src = src; im.alt = "";
  b.append(im);
  b.onclick = () => { $("result").src = src; };
  $("history").prepend(b);
}

$("form").addEventListener("submit", generate);
$("cancel").onclick = async () => {
  if (!current) return;
  // "cancelling" first: the job's error event ("stopped") may arrive before the DELETE's answer
  $("status").textContent = "cancelling";
  try { await api("/v1/images/jobs/" + current.id, { method: "DELETE", headers: headers(false) }); }
  catch (e) { showError(e.message); }
};
$("dice").onclick = () => { $("seed").value = String(Math.floor(Math.random() * 2 ** 31)); };
$("method").onchange = () => { $("custom").hidden = $("method").value !== "ralu-custom"; $("steps").disabled = $("method").value !== "base"; };
$("model").onchange = fillSizes;
$("compare").onclick = compare;
$("slider").oninput = slide;
$("savekey").onclick = () => { sessionStorage.setItem("ralu-key", $("key").value); $("keybox").hidden = true; loadModels(); };
loadModels();
`;

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>RALU playground</title><style>${STYLE}</style></head>
<body><main>
<h1>RALU image server — playground</h1>
<div id="keybox" hidden><label>API key <input id="key" type="password" autocomplete="off"></label>
<button id="savekey" type="button">Use key</button></div>
<form id="form" aria-label="generation settings">
<label>Prompt <textarea id="prompt" rows="2">a large red circle in the center on a plain beige background</textarea></label>
<label>Model <select id="model"></select></label>
<label>Size <select id="size"></select></label>
<label>Seed <input id="seed" type="number" min="0" value="1"></label>
<button id="dice" type="button" aria-label="random seed">🎲 seed</button>
<label>Steps (base) <input id="steps" type="number" min="1" max="200" placeholder="default"></label>
<label>Guidance <input id="guidance" type="number" min="0" max="20" step="0.5" placeholder="default"></label>
<label>Method <select id="method">
<option value="base">base</option><option value="ralu-4x" selected>ralu 4x</option><option value="ralu-7x">ralu 7x</option>
<option value="ralu-custom">ralu custom (N, e, r)</option><option value="naive-4x">naive 4x</option>
<option value="naive-7x">naive 7x</option><option value="bottleneck-4x">bottleneck 4x</option><option value="bottleneck-7x">bottleneck 7x</option>
</select></label>
<fieldset id="custom" hidden><legend>custom RALU</legend>
<label>N <input id="N" value="5,6,7"></label><label>e1, e2 <input id="e" value="0.3,0.45"></label>
<label>r <input id="r" value="0.3"></label></fieldset>
<label>Noise <select id="noise"><option value="">preset's</option><option>fresh</option><option>anchored</option></select></label>
<button id="go" type="submit">Generate</button>
<button id="cancel" type="button" disabled>Cancel</button>
</form>
<p id="status" role="status" aria-live="polite"></p>
<p id="error" role="alert"></p>
<section aria-label="progress">
<ol id="timeline" aria-label="stages"><li data-stage="1">stage 1 · low res<span></span></li>
<li data-stage="2">stage 2 · mixed<span></span></li><li data-stage="3">stage 3 · full res<span></span></li></ol>
<p><span id="counter"></span> <span id="elapsed"></span></p>
<div class="frames">
<figure><div class="stack"><img id="preview" alt="live preview"><canvas id="overlay" width="256" height="256" aria-hidden="true"></canvas></div>
<figcaption>preview (red: tokens upsampled at stage 2)</figcaption></figure>
<figure><img id="edges" class="px" alt="stage-2 edge map"><figcaption>edge map at stage 2</figcaption></figure>
<figure><img id="result" class="px" alt="result"><figcaption>result</figcaption></figure>
</div>
<p id="cost"></p>
<p><a id="download" download="ralu.png" hidden>Download the image</a>
<button id="compare" type="button" disabled>Compare with base</button></p>
</section>
<section id="comparison" hidden aria-label="comparison with base">
<h2>Against base, same seed</h2>
<div class="cmp"><img id="cmpBase" alt="base result"><img id="cmpAcc" alt="accelerated result"></div>
<label>Left: base · right: accelerated <input id="slider" type="range" min="0" max="100" value="50"></label>
<p id="cmpText"></p>
</section>
<section aria-label="history"><h2>This session</h2><div id="history"></div></section>
</main>
<script>${SCRIPT}</script></body></html>`;

export function uiRoutes(): Hono {
  const app = new Hono();
  app.get("/", (c) => c.html(PAGE));
  return app;
}
