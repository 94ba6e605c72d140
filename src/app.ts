/**
 * The Hono app: middleware (errors, auth, CORS, origin and content type, counters) and the
 * routes; bodies are read, bounded and timed by `readJson` (src/jobs/submit.ts).
 *
 * @example
 * ```ts ignore
 * import { createApp } from "./app.ts";
 * const res = await createApp(state).request("/health");
 * ```
 */
import { Hono } from "hono";
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
    // 499 (a job its client cancelled) is not in Hono's status table; it is a real status line
    return c.json(errorBody(e), e.status as 400);
  });
  app.notFound((c) => {
    // a known path with another method is a 405 naming the methods it takes
    const allow = allowedMethods(app, c.req.path);
    if (allow.length > 0) {
      c.header("Allow", allow.join(", "));
      return c.json(
        errorBody(
          new HttpError(
            405,
            `${c.req.method} is not allowed on ${c.req.path}; use ${allow.join(", ")}`,
          ),
        ),
        405,
      );
    }
    return c.json(errorBody(new HttpError(404, `no route for ${c.req.method} ${c.req.path}`)), 404);
  });

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

  // Cross-site safety, with or without an API key: a page on another origin may not start
  // or cancel work on this machine (a form or text/plain POST needs no CORS preflight).
  app.use("/v1/*", async (c, next) => {
    if (c.req.method === "GET" || c.req.method === "HEAD" || c.req.method === "OPTIONS") {
      return await next();
    }
    const origin = c.req.header("origin");
    const allowed = state.flags["cors-origin"];
    if (
      origin !== undefined && origin !== new URL(c.req.url).origin && !allowed.includes("*") &&
      !allowed.includes(origin)
    ) {
      throw new HttpError(
        403,
        `requests from origin ${origin} are not allowed (see --cors-origin)`,
      );
    }
    const type = c.req.header("content-type") ?? "";
    if (c.req.method === "POST" && !/^application\/json\s*(;|$)/i.test(type)) {
      throw new HttpError(
        415,
        "POST bodies must be JSON: send Content-Type: application/json",
        null,
      );
    }
    await next();
  });

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

  app.route("/", imagesRoutes(state));
  app.route("/", streamRoutes(state));
  app.route("/", modelsRoutes(state));
  app.route("/", healthRoutes(state));
  app.route("/", uiRoutes());
  return app;
}

/** Methods the app's routes take on `path` (Hono's route table; `:param` matches a segment). */
function allowedMethods(app: Hono, path: string): string[] {
  const methods = new Set<string>();
  for (const r of app.routes) {
    if (r.method === "ALL" || r.path.includes("*")) continue;
    const re = new RegExp("^" + r.path.replace(/:[^/]+/g, "[^/]+") + "$");
    if (re.test(path)) methods.add(r.method);
  }
  return [...methods].sort();
}
