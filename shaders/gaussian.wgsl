// gaussian: out[i] = N(0,1) element (start + i) of Philox stream `stream` under `seed`.
// Bindings: 0 out (f32, write), 1 Params.
//#include _philox.wgsl
override WG: u32 = 64u;
struct Params { seed_lo: u32, seed_hi: u32, stream: u32, start: u32, count: u32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= params.count) { return; }
  out[i] = gaussian_element(params.start + i, params.stream, vec2<u32>(params.seed_lo, params.seed_hi));
}
