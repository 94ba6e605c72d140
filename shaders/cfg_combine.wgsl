// cfg_combine: classifier-free guidance on a batched DiT output [2, count]
// (conditional first): v = v_u + g * (v_c - v_u).
// Bindings: 0 v (f32, out), 1 batch (f32, 2 * count), 2 Params.
override WG: u32 = 64u;
struct Params { guidance: f32, count: u32 }
@group(0) @binding(0) var<storage, read_write> v: array<f32>;
@group(0) @binding(1) var<storage, read> batch: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= params.count) { return; }
  let vc = batch[i];
  let vu = batch[params.count + i];
  v[i] = vu + params.guidance * (vc - vu);
}
