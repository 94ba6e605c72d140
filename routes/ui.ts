/** `GET /` — a one-page client: prompt box, live previews over the job SSE, final image. */
import { Hono } from "hono";

const PAGE = `<!doctype html><meta charset="utf-8"><title>RALU image server</title>
<style>body{font:15px system-ui;margin:2rem;max-width:48rem}img{image-rendering:pixelated;width:256px;height:256px;border:1px solid #ccc;margin:4px}</style>
<h1>RALU image server</h1>
<form id="f"><input id="p" size="60" value="a large red circle in the center on a plain beige background">
<select id="m"><option>base</option><option>ralu</option><option>naive</option><option>bottleneck</option></select>
<select id="x"><option>4x</option><option>7x</option></select>
<label><input id="a" type="checkbox"> anchored noise</label>
<input id="s" type="number" value="0" style="width:5em"> <button>Generate</button></form>
<div><img id="pv" alt="preview"><img id="mask" alt="edge mask"><img id="out" alt="result"></div><pre id="log"></pre>
<script>
const $ = (id) => document.getElementById(id);
$("f").onsubmit = async (ev) => {
  ev.preventDefault(); $("log").textContent = "";
  const body = { prompt: $("p").value, seed: Number($("s").value), acceleration: { method: $("m").value, preset: $("x").value } };
  if ($("a").checked && ["ralu", "naive"].includes($("m").value)) body.acceleration.noise = "anchored";
  if ($("m").value === "base") delete body.acceleration;
  const r = await fetch("/v1/images/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const job = await r.json(); if (!r.ok) { $("log").textContent = job.error.message; return; }
  const es = new EventSource(job.events_url);
  const log = (t) => ($("log").textContent += t + "\\n");
  es.addEventListener("step", (e) => { const d = JSON.parse(e.data); log("stage " + d.stage + " step " + d.step + "/" + d.total + " sigma " + d.sigma.toFixed(3) + " tokens " + d.tokens); });
  es.addEventListener("preview", (e) => ($("pv").src = "data:image/png;base64," + JSON.parse(e.data).b64_png));
  es.addEventListener("edge_mask", (e) => ($("mask").src = "data:image/png;base64," + JSON.parse(e.data).b64_png));
  es.addEventListener("completed", (e) => { const d = JSON.parse(e.data); $("out").src = "data:image/png;base64," + d.images[0].b64_json; log(JSON.stringify(d.cost)); es.close(); });
  es.addEventListener("error", (e) => { if (e.data) log(e.data); es.close(); });
};
</script>`;

export function uiRoutes(): Hono {
  const app = new Hono();
  app.get("/", (c) => c.html(PAGE));
  return app;
}
