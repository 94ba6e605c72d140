/**
 * Stage ends `e = [e1, e2, 1]` (RALU's and Bottleneck Sampling's): the one check for a
 * request's `acceleration.e` and a manifest preset's `e`.
 *
 * @example
 * ```ts
 * import { stageEndsSchema } from "./stage_ends.ts";
 * stageEndsSchema.parse([0.3, 0.45, 1]);
 * ```
 */
import { z } from "zod";

export const stageEndsSchema = z.array(z.number().gt(0).lte(1)).length(3).refine(
  (e) => e[0]! < e[1]! && e[1]! < e[2]! && e[2] === 1,
  "stage ends must increase, with e3 = 1",
);
