/**
 * What the routes share: the model registry, the job queue, the flags and counters.
 */
import type { ServeFlags } from "./config/server_flags.ts";
import type { JobQueue } from "./jobs/queue.ts";
import type { AdapterInfo, Ep } from "./onnx/ort.ts";
import type { ModelRegistry } from "./pipeline/registry.ts";

export interface Counters {
  requests: Map<string, number>;
  imagesGenerated: number;
  generationSeconds: number;
  tokenSteps: number;
}

export interface ServerState {
  flags: ServeFlags;
  registry: ModelRegistry;
  queue: JobQueue;
  ep: Ep;
  adapter: AdapterInfo | undefined;
  counters: Counters;
  startedAt: number;
}

export function newCounters(): Counters {
  return { requests: new Map(), imagesGenerated: 0, generationSeconds: 0, tokenSteps: 0 };
}
