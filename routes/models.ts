/** `GET /v1/models` and `GET /v1/models/:id`, in the OpenAI list shape. */
import { Hono } from "hono";
import type { Manifest } from "../src/config/manifest.ts";
import type { ServerState } from "../src/server_state.ts";

function modelObject(m: Manifest, isDefault: boolean) {
  return {
    id: m.id,
    object: "model",
    created: 0,
    owned_by: "local",
    description: m.description,
    default: isDefault,
    family: m.family,
    sizes: m.sizes,
    default_size: m.default_size,
    size_range: m.size_range ?? null,
    default_steps: m.default_steps,
    default_guidance: m.default_guidance,
    /** The DiT takes guidance as an input (no classifier-free guidance, no negative prompt). */
    guidance_embed: m.guidance_embed,
    presets: Object.keys(m.presets),
  };
}

export function modelsRoutes(state: ServerState): Hono {
  const app = new Hono();
  app.get("/v1/models", async (c) => {
    const list = await state.registry.list();
    return c.json({
      object: "list",
      data: list.map((m) => modelObject(m, m.id === state.registry.defaultId)),
    });
  });
  app.get("/v1/models/:id", async (c) => {
    const m = (await state.registry.list()).find((x) => x.id === c.req.param("id"));
    if (!m) throw await state.registry.missing(c.req.param("id"));
    return c.json(modelObject(m, m.id === state.registry.defaultId));
  });
  return app;
}
