// edge_score: edge pixels (cls == 2 after hysteresis) per token footprint (fp x fp px).
// scores must be zeroed first. Bindings: 0 scores (atomic u32), 1 cls (u32), 2 Params.
override WG: u32 = 64u;
struct Params { w: u32, h: u32, fp: u32 }
@group(0) @binding(0) var<storage, read_write> scores: array<atomic<u32>>;
@group(0) @binding(1) var<storage, read> cls: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= params.w * params.h || cls[i] != 2u) { return; }
  let x = i % params.w; let y = i / params.w;
  atomicAdd(&scores[(y / params.fp) * (params.w / params.fp) + x / params.fp], 1u);
}
