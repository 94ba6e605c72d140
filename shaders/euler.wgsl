// euler: one flow-matching Euler step in place, x += dt * v (dt = sigma_next - sigma).
// Bindings: 0 x (f32, read_write), 1 v (f32), 2 Params.
override WG: u32 = 64u;
struct Params { dt: f32, count: u32 }
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= params.count) { return; }
  x[i] = x[i] + params.dt * v[i];
}
