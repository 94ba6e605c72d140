/**
 * The work of one image request inside the queue: n images, events out as they happen.
 *
 * @example
 * ```ts ignore
 * import { generationWork } from "./generation_job.ts";
 * const job = queue.submit(generationWork(model, request));
 * ```
 */
import type { ImageRequest } from "../config/image_request.ts";
import type { CostReport } from "../pipeline/cost.ts";
import { generateImage, type PipelineEvent, planSteps } from "../pipeline/generate.ts";
import type { LoadedModel } from "../pipeline/model.ts";
import { encodeBase64 } from "../http/base64.ts";
import { encodeGrayPng } from "../pipeline/image_codec.ts";
import type { Job } from "./queue.ts";

export interface GenerationResult {
  created: number;
  model: string;
  images: { b64_json: string; seed: number; width: number; height: number; format: string }[];
  timings: { total_ms: number; per_image_ms: number[] };
  cost: CostReport;
  /** Notes on the request (e.g. a prompt truncated to the text encoder's limit). */
  warnings: string[];
}

/**
 * Steps between previews so that `count` of them spread over a run of `steps` steps, none
 * on its last step: multiples of floor(steps / (count + 1)), of which at least `count`
 * fall before the end.
 */
export function previewInterval(steps: number, count: number): number {
  return count <= 0 ? 0 : Math.max(1, Math.floor(steps / (count + 1)));
}

function eventData(ev: PipelineEvent): [string, unknown] {
  switch (ev.type) {
    case "preview":
      return ["preview", {
        stage: ev.stage,
        step: ev.step,
        width: ev.width,
        height: ev.height,
        b64_png: encodeBase64(ev.png),
      }];
    case "edge_mask":
      return ["edge_mask", {
        width: ev.width,
        height: ev.height,
        selected: ev.selected,
        tokens: ev.tokens,
        cols: ev.cols,
        rows: ev.rows,
        b64_png: encodeBase64(encodeGrayPng(ev.mask, ev.width, ev.height)),
      }];
    case "step": {
      const { type: _t, preview: _p, ...rest } = ev;
      return ["step", rest];
    }
    default: {
      const { type: _t, ...rest } = ev;
      return [ev.type, rest];
    }
  }
}

/**
 * `defaultPreviewEvery` (the server's `--preview-every`) applies to jobs that name no
 * `preview_every`; a `stream: true` request spreads its `partial_images` over the run.
 * `o.read`: whether anyone can read the job's events (a plain, non-streamed request's cannot:
 * it then makes no previews and reads no edge map back). `o.steps`: the run's step count,
 * when the caller planned it already.
 */
export function generationWork(
  model: LoadedModel,
  req: ImageRequest,
  seed: number,
  defaultPreviewEvery = 0,
  o: { read?: boolean; steps?: number } = {},
): (job: Job) => Promise<GenerationResult> {
  const steps = o.steps ?? planSteps(model, req);
  const read = o.read ?? true;
  return async (job) => {
    const previewEvery = req.stream
      ? (req.preview_every ?? previewInterval(steps, req.partial_images))
      : (req.preview_every ?? defaultPreviewEvery);
    const images: GenerationResult["images"] = [];
    const perImage: number[] = [];
    let cost: CostReport | undefined;
    const warnings = new Set<string>();
    const t0 = performance.now();
    for (let i = 0; i < req.n; i++) {
      const img = await generateImage(model, {
        prompt: req.prompt,
        negativePrompt: req.negative_prompt,
        size: req.size,
        seed: seed + i,
        steps: req.steps,
        guidance: req.guidance,
        acceleration: req.acceleration,
        outputFormat: req.output_format,
        totalSteps: steps,
      }, {
        signal: job.signal,
        previewEvery,
        observed: read,
        emit: (ev) => {
          const [name, data] = eventData(ev);
          job.emit(name, { image_index: i, ...(data as object) });
        },
      });
      cost = img.report;
      img.warnings.forEach((w) => warnings.add(w));
      perImage.push(img.timings.totalMs);
      images.push({
        b64_json: encodeBase64(img.bytes),
        seed: img.seed,
        width: img.width,
        height: img.height,
        format: img.format,
      });
    }
    const result: GenerationResult = {
      created: Math.floor(Date.now() / 1000),
      model: model.id,
      images,
      timings: { total_ms: performance.now() - t0, per_image_ms: perImage },
      cost: cost!,
      warnings: [...warnings],
    };
    job.emit("completed", result);
    return result;
  };
}
