// preview: latent [C, H, W] -> RGBA8 packed in a u32 per pixel through the model's
// 3 x (C + 1) linear map (last column = bias); no VAE decode needed for a preview.
// Bindings: 0 rgba (u32, out), 1 latent (f32), 2 weights (f32, 3 * (C + 1)), 3 Params.
override WG: u32 = 64u;
struct Params { c: u32, pixels: u32 }
@group(0) @binding(0) var<storage, read_write> rgba: array<u32>;
@group(0) @binding(1) var<storage, read> latent: array<f32>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let p = gid.x;
  if (p >= params.pixels) { return; }
  var packed = 0xff000000u;
  for (var k = 0u; k < 3u; k++) {
    let row = k * (params.c + 1u);
    var v = weights[row + params.c];
    for (var ch = 0u; ch < params.c; ch++) { v += weights[row + ch] * latent[ch * params.pixels + p]; }
    packed |= u32(clamp(floor((v + 1.0) * 127.5 + 0.5), 0.0, 255.0)) << (8u * k);
  }
  rgba[p] = packed;
}
