/**
 * Run by device_loss_test.ts in its own process (it destroys the shared kernel device):
 * a job, then the GPU device lost, then the next job must succeed on a rebuilt device.
 */
import { GpuOps } from "../../src/kernels/gpu_ops.ts";
import { fixtureApp, post } from "../_helpers.ts";

const { app, state } = await fixtureApp({ kernels: "gpu" });
const req = () =>
  app.request(
    "/v1/images/generations",
    post({ prompt: "x", size: "64x64", seed: 1, acceleration: { method: "ralu", preset: "4x" } }),
  );
const first = await req();
const before = await state.registry.get();
const kernels = before.kernels as GpuOps;
kernels.device.destroy();
while (!kernels.lost) await new Promise((r) => setTimeout(r, 10));
const second = await req();
const after = await state.registry.get();
const rebuilt = after !== before && after.kernels instanceof GpuOps && !after.kernels.lost &&
  after.kernels.device !== kernels.device;
console.log(JSON.stringify({ first: first.status, second: second.status, rebuilt }));
Deno.exit(0);
