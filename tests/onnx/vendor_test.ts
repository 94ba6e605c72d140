// The adapter's vendor as ORT-web reads it: the browsers' name, not Deno's decimal PCI id.
import assert from "node:assert/strict";
import { nameVendors, vendorName } from "../../src/gpu/vendor.ts";
import { createSession, ortGpuDevice } from "../../src/onnx/ort.ts";
import { ortTest } from "../_helpers.ts";
import { noGpu } from "../kernels/_gpu.ts";

Deno.test("vendorName: decimal PCI ids to the browsers' names; names and unknown ids unchanged", () => {
  assert.equal(vendorName("4318"), "nvidia"); // 0x10de
  assert.equal(vendorName("4098"), "amd"); // 0x1002
  assert.equal(vendorName("32902"), "intel"); // 0x8086
  assert.equal(vendorName("65541"), "mesa"); // 0x10005, llvmpipe
  assert.equal(vendorName("nvidia"), "nvidia");
  assert.equal(vendorName("12345"), "12345");
});

Deno.test({
  name: "the adapter ORT-web runs on reports its vendor by name",
  ...ortTest,
  ignore: noGpu,
}, async () => {
  nameVendors();
  const adapter = (await navigator.gpu.requestAdapter())!;
  assert.ok(!/^\d+$/.test(adapter.info.vendor), adapter.info.vendor);
  const s = await createSession(
    await Deno.readFile("bench/webgpu_ceiling/matmul_fp32.onnx"),
    "webgpu",
  );
  try {
    const vendor = (await ortGpuDevice())!.adapterInfo.vendor;
    assert.equal(vendor, vendorName(vendor));
    assert.ok(!/^\d+$/.test(vendor), vendor);
  } finally {
    await s.release();
  }
});
