/**
 * Validates an image request once, up front (body, model, size, method), then queues it.
 * Anything wrong is an HttpError before the queue sees it, so nothing accepted is lost.
 */
import { type ImageRequest, imageRequestSchema } from "../config/image_request.ts";
import { fromZod, HttpError } from "../http/errors.ts";
import { planSteps } from "../pipeline/generate.ts";
import { samplerFor } from "../samplers/registry.ts";
import type { ServerState } from "../server_state.ts";
import { type GenerationResult, generationWork } from "./generation_job.ts";
import type { Job } from "./queue.ts";
import { type LoadedModel, usesCfg } from "../pipeline/model.ts";
import type { RemoteJob } from "./cluster.ts";

/**
 * The body as JSON, read in one place: 413 over `limit` bytes (by Content-Length, or while
 * reading), 400 when it is not JSON or was cut short (the client closed before its
 * Content-Length), 408 when it has not arrived within `timeoutMs`.
 */
export async function readJson(
  req: Request,
  limits: { bytes: number; timeoutMs: number } = { bytes: 64 * 1024, timeoutMs: 10_000 },
): Promise<unknown> {
  const tooLarge = () => new HttpError(413, `request body over ${limits.bytes} bytes`);
  if (Number(req.headers.get("content-length") ?? 0) > limits.bytes) throw tooLarge();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new HttpError(408, `the request body did not arrive within ${limits.timeoutMs / 1000} s`),
        ),
      limits.timeoutMs,
    );
  });
  const read = async () => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (req.body) {
      for await (const chunk of req.body) {
        size += chunk.byteLength;
        if (size > limits.bytes) throw tooLarge();
        chunks.push(chunk);
      }
    }
    const all = new Uint8Array(size);
    chunks.reduce((o, c) => (all.set(c, o), o + c.byteLength), 0);
    return new TextDecoder().decode(all);
  };
  let text: string;
  try {
    text = await Promise.race([read(), late]);
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, "the request body was cut short", null, "truncated_body");
  } finally {
    clearTimeout(timer);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "the request body is not valid JSON", null, "invalid_json");
  }
}

export function parseImageRequest(body: unknown): ImageRequest {
  const parsed = imageRequestSchema.safeParse(body);
  if (!parsed.success) throw fromZod(parsed.error);
  return parsed.data;
}

/**
 * Validates and queues: on this process's queue, or (with `--queue redis://…`) on the
 * cluster's, for any worker; an API process then validates with the model's manifest only.
 */
export async function submitGeneration(
  state: ServerState,
  body: unknown,
  /** Whether anyone can read the job's events (previews, edge map) while it runs. */
  read = true,
): Promise<
  { job: Job | RemoteJob; request: ImageRequest; model: Pick<LoadedModel, "manifest" | "id"> }
> {
  const request = parseImageRequest(body);
  const modelId = request.model ?? state.registry.defaultId;
  const model = state.cluster
    ? { id: modelId, manifest: await state.registry.manifest(modelId) }
    : await state.registry.get(modelId);
  const method = request.acceleration?.method ?? "base";
  samplerFor(method);
  if (request.steps !== undefined && method !== "base") {
    throw new HttpError(
      400,
      `steps sets base's step count; ${method} takes its steps from the preset, N, or token_steps`,
      "steps",
    );
  }
  const steps = planSteps(model, request); // size, preset and custom plan checked before the queue
  if (
    request.negative_prompt !== undefined &&
    !usesCfg(model.manifest, request.guidance ?? model.manifest.default_guidance)
  ) {
    throw new HttpError(
      400,
      model.manifest.guidance_embed
        ? `model ${model.id} takes guidance as an input (no classifier-free guidance), so negative_prompt has no effect`
        : "negative_prompt needs guidance > 1",
      "negative_prompt",
    );
  }
  const seed = request.seed ?? Math.floor(Math.random() * 2 ** 31);
  if (state.cluster && modelId !== state.registry.defaultId) {
    throw new HttpError(
      400,
      `this cluster's workers serve model "${state.registry.defaultId}"`,
      "model",
      "model_not_served",
    );
  }
  const job = state.cluster
    ? await state.cluster.submit({ ...request, model: modelId }, seed)
    : state.queue.submit(
      generationWork(model as LoadedModel, request, seed, state.flags["preview-every"], {
        read: read || request.stream,
        steps,
      }),
    );
  job.finished.then(() => {
    if (job.status !== "completed") return;
    const r = job.result as GenerationResult;
    state.counters.imagesGenerated += r.images.length;
    state.counters.generationSeconds += r.timings.total_ms / 1000;
    state.counters.tokenSteps += r.cost.token_steps * r.images.length;
  });
  return { job, request, model };
}
