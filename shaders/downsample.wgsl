// downsample: 2x downsampling [C, H, W] -> [C, H/2, W/2], how stage 1 takes the seed's
// full-resolution noise. mode 0: nearest (even rows and columns); mode 1: box over the
// token copies, sum / 2 of full rows 2y - y%2 + {0, 2} x columns 2x - x%2 + {0, 2}
// (pack_cpu.ts); mode 2: mean of each 2x2 block (avgPool2x, Bottleneck Sampling's way
// down). Bindings: 0 out, 1 latent, 2 Params.
override WG: u32 = 64u;
struct Params { c: u32, h: u32, w: u32, mode: u32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> latent: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let hh = params.h / 2u; let ww = params.w / 2u;
  let i = gid.x;
  if (i >= params.c * hh * ww) { return; }
  let x = i % ww; let y = (i / ww) % hh; let ch = i / (ww * hh);
  if (params.mode == 0u) {
    out[i] = latent[(ch * params.h + 2u * y) * params.w + 2u * x];
  } else if (params.mode == 2u) {
    let j = (ch * params.h + 2u * y) * params.w + 2u * x;
    out[i] = ((latent[j] + latent[j + 1u]) + (latent[j + params.w] + latent[j + params.w + 1u])) * 0.25;
  } else {
    let j = (ch * params.h + 2u * y - y % 2u) * params.w + 2u * x - x % 2u;
    let w2 = 2u * params.w;
    out[i] = (((latent[j] + latent[j + 2u]) + latent[j + w2]) + latent[j + w2 + 2u]) * 0.5;
  }
}
