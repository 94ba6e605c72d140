/**
 * `GET /` — the playground: one self-contained page (no other hosts) that submits jobs,
 * streams their events (previews, the stage timeline, RALU's edge map and selected
 * tokens), cancels, compares with `base` at the same seed, and keeps a history. Events
 * are read with `fetch` (not EventSource) so an API key can go as a Bearer header.
 */
import { Hono } from "hono";

const STYLE = `
[hidden]{display:none!important}
:root{--ink:#1d2430;--muted:#5b6575;--line:#d9dee7;--panel:#fff;--bg:#f3f5f8;--accent:#2563eb;
font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--ink);background:var(--bg)}
body{margin:0}main{max-width:72rem;margin:0 auto;padding:1.25rem 1rem 3rem}
header{display:flex;align-items:baseline;gap:.75rem;flex-wrap:wrap;margin-bottom:1rem}
h1{font-size:1.35rem;margin:0}header p{margin:0;color:var(--muted)}h2{font-size:1.05rem;margin:0 0 .6rem}
.card{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:1rem;margin-bottom:1rem}
form{display:grid;grid-template-columns:repeat(auto-fill,minmax(9.5rem,1fr));gap:.7rem 1rem;align-items:end}
form .wide{grid-column:1/-1}label{display:flex;flex-direction:column;font-size:.8rem;color:var(--muted);gap:.2rem}
textarea,input,select{font:inherit;color:var(--ink);border:1px solid var(--line);border-radius:6px;padding:.35rem .5rem;background:#fff}
textarea{width:100%;box-sizing:border-box;resize:vertical}.seed{display:flex;gap:.3rem}.seed input{flex:1;min-width:0}
fieldset{grid-column:1/-1;display:flex;gap:1rem;border:1px solid var(--line);border-radius:6px}
button{font:inherit;border:1px solid var(--line);border-radius:6px;padding:.4rem .9rem;background:#fff;color:var(--ink);cursor:pointer}
button:disabled{opacity:.45;cursor:default}button.primary{background:var(--accent);border-color:var(--accent);color:#fff;font-weight:600}
button.icon{display:inline-flex;align-items:center;justify-content:center;padding:.3rem .45rem}button.icon svg{width:20px;height:20px}
.actions{display:flex;gap:.5rem}
button:focus-visible,select:focus-visible,input:focus-visible,textarea:focus-visible{outline:2px solid var(--accent);outline-offset:1px}
#error{color:#b00020;min-height:1.2em;margin:.3rem 0}#status{min-height:1.2em;margin:.3rem 0;font-weight:600}
#timeline{display:flex;gap:.5rem;list-style:none;padding:0;margin:0 0 .6rem;flex-wrap:wrap}
#timeline li{flex:1;min-width:12rem;border:1px solid var(--line);border-radius:6px;padding:.4rem .6rem;color:var(--muted);background:#fafbfc}
#timeline li.active{border-color:var(--accent);color:var(--accent);font-weight:600;background:#eef4ff}
#timeline li.done{color:var(--ink);border-color:#9aa4b2}
.meter{font-variant-numeric:tabular-nums;color:var(--muted);min-height:1.3em;margin:0 0 .8rem}
.story{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:1rem}
figure{margin:0}figcaption{font-size:.85rem;color:var(--muted);margin-top:.4rem}figcaption b{color:var(--ink)}
.frame{position:relative;aspect-ratio:1;width:100%;border:1px solid var(--line);border-radius:8px;overflow:hidden;
background:repeating-linear-gradient(45deg,#f6f7f9 0 10px,#eef0f3 10px 20px)}
.frame::before{content:attr(data-empty);position:absolute;inset:0;display:flex;align-items:center;justify-content:center;color:#9aa4b2;font-size:.85rem}
.frame img,.frame canvas{position:absolute;inset:0;width:100%;height:100%;image-rendering:pixelated}
img:not([src]){display:none}
#cost{margin:.8rem 0 .4rem}
.cmp{position:relative;width:min(100%,480px);aspect-ratio:1;border-radius:8px;overflow:hidden;border:1px solid var(--line)}
.cmp img{position:absolute;inset:0;width:100%;height:100%;image-rendering:pixelated}
#history{display:flex;flex-wrap:wrap;gap:.5rem}#history button{padding:0;border:1px solid var(--line);border-radius:6px;overflow:hidden}
#history img{width:72px;height:72px;display:block;image-rendering:pixelated}
`;

/** A die, drawn: renders without an emoji font. */
const DICE =
  `<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><rect x="3" y="3" width="18" height="18" rx="4" fill="none" stroke="currentColor" stroke-width="2"/><circle cx="8.5" cy="8.5" r="1.6" fill="currentColor"/><circle cx="15.5" cy="15.5" r="1.6" fill="currentColor"/><circle cx="12" cy="12" r="1.6" fill="currentColor"/><circle cx="15.5" cy="8.5" r="1.6" fill="currentColor"/><circle cx="8.5" cy="15.5" r="1.6" fill="currentColor"/></svg>`;

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

function cacheSettings() {
  const v = $("cache").value;
  if (!v) return undefined;
  if (v.startsWith("tea:")) return { method: "teacache", threshold: Number(v.slice(4)) };
  const [interval, order, warmup] = v.split(",").map(Number);
  return { method: "taylorseer", interval, order, warmup };
}
function acceleration() {
  const [method, preset] = $("method").value.split("-");
  const cache = method === "base" || method === "ralu" ? cacheSettings() : undefined;
  if (method === "base") return cache ? { method, cache } : undefined;
  const acc = { method };
  if (cache) acc.cache = cache;
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
  if ((!acc || acc.method === "base") && $("steps").value) body.steps = Number($("steps").value);
  return body;
}

function resetView() {
  for (const li of $("timeline").children) { li.className = ""; li.querySelector("span").textContent = ""; }
  $("counter").textContent = ""; $("cost").textContent = ""; $("preview").removeAttribute("src");
  $("edges").removeAttribute("src"); $("result").removeAttribute("src"); $("download").hidden = true;
  $("compare").disabled = true; $("comparison").hidden = true;
  const ctx = $("overlay").getContext("2d"); ctx.clearRect(0, 0, $("overlay").width, $("overlay").height);
}

function drawTokens(d) {
  const c = $("overlay"), ctx = c.getContext("2d");
  ctx.clearRect(0, 0, c.width, c.height);
  ctx.strokeStyle = "#e11d48"; ctx.lineWidth = 2.5;
  const w = c.width / d.cols, h = c.height / d.rows;
  for (const t of d.tokens) ctx.strokeRect((t % d.cols) * w + 1.25, Math.floor(t / d.cols) * h + 1.25, w - 2.5, h - 2.5);
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
        $("counter").textContent = "stage " + d.stage + " · step " + d.step + "/" + d.total + " · sigma " + d.sigma.toFixed(3) + " · " + d.tokens + " tokens" + (d.cached ? " · cached (no DiT call)" : "");
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
      c.speedup_token_steps.toFixed(2) + "x fewer than base-" + c.base.steps + ") · FLOPs " + c.speedup_flops.toFixed(2) + "x fewer" +
      (c.cached_steps ? " · " + c.cached_steps + " of " + c.steps + " steps from the cache" : "");
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
<header><h1>RALU image server</h1><p>region-adaptive latent upsampling: most steps at half resolution, edges first</p></header>
<div id="keybox" class="card" hidden><label>API key <input id="key" type="password" autocomplete="off"></label>
<button id="savekey" type="button">Use key</button></div>
<section class="card" aria-label="settings">
<form id="form" aria-label="generation settings">
<label class="wide">Prompt <textarea id="prompt" rows="2">a large red circle in the center on a plain beige background</textarea></label>
<label>Model <select id="model"></select></label>
<label>Size <select id="size"></select></label>
<label>Seed <span class="seed"><input id="seed" type="number" min="0" value="1">
<button id="dice" class="icon" type="button" aria-label="random seed" title="random seed">${DICE}</button></span></label>
<label>Method <select id="method">
<option value="base">base</option><option value="ralu-4x" selected>ralu 4x</option><option value="ralu-7x">ralu 7x</option>
<option value="ralu-custom">ralu custom (N, e, r)</option><option value="naive-4x">naive 4x</option>
<option value="naive-7x">naive 7x</option><option value="bottleneck-4x">bottleneck 4x</option><option value="bottleneck-7x">bottleneck 7x</option>
</select></label>
<label>Steps (base) <input id="steps" type="number" min="1" max="200" placeholder="default"></label>
<label>Guidance <input id="guidance" type="number" min="0" max="20" step="0.5" placeholder="default"></label>
<label>Cache (base, ralu) <select id="cache"><option value="">none</option>
<option value="2,1,2">TaylorSeer: DiT every 2nd step, order 1</option>
<option value="3,2,3">TaylorSeer: DiT every 3rd step, order 2</option>
<option value="tea:0.04">TeaCache: threshold 0.04 (default model)</option>
<option value="tea:0.1">TeaCache: threshold 0.1 (default model)</option>
<option value="tea:0.4">TeaCache: threshold 0.4 (FLUX.1)</option></select></label>
<label>Noise <select id="noise"><option value="">preset's</option><option>fresh</option><option>anchored</option></select></label>
<fieldset id="custom" hidden><legend>custom RALU</legend>
<label>N <input id="N" value="5,6,7"></label><label>e1, e2 <input id="e" value="0.3,0.45"></label>
<label>r <input id="r" value="0.3"></label></fieldset>
<div class="actions"><button id="go" class="primary" type="submit">Generate</button>
<button id="cancel" type="button" disabled>Cancel</button></div>
</form>
<p id="status" role="status" aria-live="polite"></p>
<p id="error" role="alert"></p>
</section>
<section class="card" aria-label="progress">
<ol id="timeline" aria-label="stages"><li data-stage="1">1 · low resolution<span></span></li>
<li data-stage="2">2 · mixed: edges upsampled<span></span></li><li data-stage="3">3 · full resolution<span></span></li></ol>
<p class="meter"><span id="counter"></span> <span id="elapsed"></span></p>
<div class="story">
<figure><div class="frame" data-empty="live preview appears here"><img id="preview" alt="live preview">
<canvas id="overlay" width="512" height="512" aria-hidden="true"></canvas></div>
<figcaption><b>1 · Live preview</b> — outlined: the tokens RALU upsampled early at stage 2</figcaption></figure>
<figure><div class="frame" data-empty="edge map at stage 2"><img id="edges" alt="stage-2 edge map"></div>
<figcaption><b>2 · Edge map</b> — Canny on the stage-1 estimate: where aliasing would show</figcaption></figure>
<figure><div class="frame" data-empty="result"><img id="result" alt="result"></div>
<figcaption><b>3 · Result</b></figcaption></figure>
</div>
<p id="cost"></p>
<p class="actions"><a id="download" download="ralu.png" hidden>Download the image</a>
<button id="compare" type="button" disabled>Compare with base</button></p>
</section>
<section id="comparison" class="card" hidden aria-label="comparison with base">
<h2>Against base, same seed</h2>
<div class="cmp"><img id="cmpBase" alt="base result"><img id="cmpAcc" alt="accelerated result"></div>
<label>Left: base · right: accelerated <input id="slider" type="range" min="0" max="100" value="50"></label>
<p id="cmpText"></p>
</section>
<section class="card" aria-label="history"><h2>This session</h2><div id="history"></div></section>
</main>
<script>${SCRIPT}</script></body></html>`;

export function uiRoutes(): Hono {
  const app = new Hono();
  app.get("/", (c) => c.html(PAGE));
  return app;
}
