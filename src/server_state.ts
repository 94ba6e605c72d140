/**
 * What the routes share: the model registry, the job queue, the flags and counters.
 */
import type { ServeFlags } from "./config/server_flags.ts";
import type { JobQueue } from "./jobs/queue.ts";
import type { RedisCluster } from "./jobs/cluster.ts";
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
  /** Set with `--queue redis://…`: jobs go to the cluster's queue, not `queue`. */
  cluster?: RedisCluster | undefined;
  ep: Ep;
  adapter: AdapterInfo | undefined;
  counters: Counters;
  startedAt: number;
}

/** Cancels a job wherever it lives (this process's queue or the cluster's). */
export async function cancelJob(state: ServerState, id: string, reason?: string): Promise<boolean> {
  return state.cluster ? await state.cluster.cancel(id, reason) : state.queue.cancel(id, reason);
}

export function newCounters(): Counters {
  return { requests: new Map(), imagesGenerated: 0, generationSeconds: 0, tokenSteps: 0 };
}
