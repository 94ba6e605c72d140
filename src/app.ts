/**
 * The Hono app: middleware (errors, auth, CORS, body limit, counters) and the routes.
 *
 * @example
 * ```ts ignore
 * import { createApp } from "./app.ts";
 * const res = await createApp(state).request("/health");
 * ```
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { errorBody, HttpError, toHttpError } from "./http/errors.ts";
import type { ServerState } from "./server_state.ts";
import { imagesRoutes } from "../routes/images.ts";
import { streamRoutes } from "../routes/stream.ts";
import { modelsRoutes } from "../routes/models.ts";
import { healthRoutes } from "../routes/health.ts";
import { uiRoutes } from "../routes/ui.ts";

export function createApp(state: ServerState): Hono {
  const app = new Hono();

  app.onError((err, c) => {
    const e = toHttpError(err);
    for (const [k, v] of Object.entries(e.headers)) c.header(k, v);
    return c.json(errorBody(e), e.status);
  });
  app.notFound((c) =>
    c.json(errorBody(new HttpError(404, `no route for ${c.req.method} ${c.req.path}`)), 404)
  );

  app.use("*", async (c, next) => {
    await next();
    const key = String(c.res.status);
    state.counters.requests.set(key, (state.counters.requests.get(key) ?? 0) + 1);
  });

  if (state.flags["cors-origin"].length > 0) {
    const origins = state.flags["cors-origin"];
    app.use(
      "*",
      cors({
        origin: origins.includes("*") ? "*" : origins,
        allowHeaders: ["Authorization", "Content-Type"],
      }),
    );
  }

  const key = state.flags["api-key"];
  if (key) {
    app.use("*", async (c, next) => {
      // the playground page holds no data; it asks for the key and sends it on every call
      const open = c.req.path === "/health" || (c.req.path === "/" && c.req.method === "GET");
      if (open || c.req.method === "OPTIONS") return await next();
      const auth = c.req.header("authorization") ?? "";
      if (auth !== `Bearer ${key}`) {
        throw new HttpError(401, "missing or wrong API key: send Authorization: Bearer <key>");
      }
      await next();
    });
  }

  app.use(
    "/v1/*",
    bodyLimit({
      maxSize: state.flags["body-limit"],
      onError: () => {
        throw new HttpError(413, `request body over ${state.flags["body-limit"]} bytes`);
      },
    }),
  );

  app.route("/", imagesRoutes(state));
  app.route("/", streamRoutes(state));
  app.route("/", modelsRoutes(state));
  app.route("/", healthRoutes(state));
  app.route("/", uiRoutes());
  return app;
}
