// unpack: tokens [(H/2)(W/2), 4C] -> latent [C, H, W] (inverse of pack.wgsl).
// One thread per latent element. Bindings: 0 latent (out), 1 tokens, 2 Params.
override WG: u32 = 64u;
struct Params { c: u32, h: u32, w: u32 }
@group(0) @binding(0) var<storage, read_write> latent: array<f32>;
@group(0) @binding(1) var<storage, read> tokens: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= params.c * params.h * params.w) { return; }
  let x = i % params.w; let y = (i / params.w) % params.h; let ch = i / (params.w * params.h);
  let token = (y >> 1u) * (params.w >> 1u) + (x >> 1u);
  latent[i] = tokens[token * 4u * params.c + ch * 4u + (y & 1u) * 2u + (x & 1u)];
}
