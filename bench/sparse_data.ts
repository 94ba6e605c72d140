/**
 * Timing graphs travel without their weights: their data files are made where they run,
 * sparse (the right size, zeros, no disk), since the values do not change the time.
 *
 * @example
 * ```ts ignore
 * import { ensureSparseData } from "./sparse_data.ts";
 * await ensureSparseData("bench/webgpu_ceiling/double_block_fp16/model.onnx");
 * ```
 */
import { dirname, join } from "node:path";
import { graphInfo } from "../src/onnx/graph_info.ts";

/** Creates (or extends) each external data file the graph names to the size it reads. */
export async function ensureSparseData(file: string): Promise<void> {
  for (const x of graphInfo(await Deno.readFile(file)).externalFiles) {
    const path = join(dirname(file), x.location);
    const have = await Deno.stat(path).then((s) => s.size, () => -1);
    if (have < x.bytes) {
      using f = await Deno.open(path, { create: true, write: true });
      await f.truncate(x.bytes);
    }
  }
}
