// affine: out = x * a + b elementwise (model-space latent -> the VAE's latent).
// Bindings: 0 out (f32), 1 x (f32), 2 Params.
override WG: u32 = 64u;
struct Params { a: f32, b: f32, count: u32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= params.count) { return; }
  out[i] = x[i] * params.a + params.b;
}
