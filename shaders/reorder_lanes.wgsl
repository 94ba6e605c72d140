// reorder_lanes: tokens [n, 4C] between our lane order (c, dy, dx), lane c * 4 + q, and SD3's
// patch order (dy, dx, c), lane q * C + c (q = 2 dy + dx); Params.inverse maps SD3's back to ours.
// One invocation per output value. Bindings: 0 out (f32), 1 x (f32), 2 Params.
override WG: u32 = 64u;
struct Params { count: u32, channels: u32, inverse: u32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= params.count) { return; }
  let C = params.channels;
  let dim = 4u * C;
  let base = (i / dim) * dim;
  let lane = i % dim;
  if (params.inverse == 0u) {
    out[i] = x[base + (lane % C) * 4u + lane / C];
  } else {
    out[i] = x[base + (lane % 4u) * C + lane / 4u];
  }
}
