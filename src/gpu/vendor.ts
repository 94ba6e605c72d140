/**
 * Deno's WebGPU reports an adapter's vendor as its PCI id in decimal ("4318" for NVIDIA), where
 * browsers report a name ("nvidia"); ORT-web's WebGPU EP reads `adapter.info.vendor` for its
 * vendor-specific choices, so it would never see the name it compares against. `nameVendors()`
 * makes `GPUAdapterInfo.vendor` answer with the browsers' name for the ids below (others are
 * left as they are) — process-wide, before ORT asks for its adapter. Whether ORT then runs
 * faster on a given GPU is for the GPU benchmarks to show; on llvmpipe nothing changes.
 *
 * @example
 * ```ts
 * import { vendorName } from "./vendor.ts";
 * vendorName("4318"); // "nvidia"
 * ```
 */

/** PCI / Khronos vendor ids and the names browsers give them. */
const VENDORS: Record<number, string> = {
  0x10de: "nvidia",
  0x1002: "amd",
  0x1022: "amd",
  0x8086: "intel",
  0x13b5: "arm",
  0x5143: "qualcomm",
  0x106b: "apple",
  0x1010: "imagination",
  0x10005: "mesa",
};

/** The browsers' name for a vendor reported as a decimal id; anything else unchanged. */
export function vendorName(reported: string): string {
  return /^\d+$/.test(reported) ? VENDORS[Number(reported)] ?? reported : reported;
}

let named = false;

/** From now on every `GPUAdapterInfo.vendor` in this process answers with {@link vendorName}. */
export function nameVendors(): void {
  // RALU_RAW_VENDOR=1 keeps Deno's ids: the benchmark's A/B of what the name changes in ORT
  if (named || typeof GPUAdapterInfo === "undefined" || Deno.env.get("RALU_RAW_VENDOR") === "1") {
    return;
  }
  const desc = Object.getOwnPropertyDescriptor(GPUAdapterInfo.prototype, "vendor");
  const get = desc?.get;
  if (!get) return;
  Object.defineProperty(GPUAdapterInfo.prototype, "vendor", {
    ...desc,
    get(this: GPUAdapterInfo) {
      return vendorName(get.call(this) as string);
    },
  });
  named = true;
}
