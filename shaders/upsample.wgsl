// upsample: nearest 2x upsampling [C, H, W] -> [C, 2H, 2W] in latent-pixel space, pixel
// (y, x) fills (2y + a, 2x + b) — how Bottleneck Sampling returns to full resolution
// (pack_cpu.ts upsample2x). Bindings: 0 out, 1 latent, 2 Params (sizes of the input).
override WG: u32 = 64u;
struct Params { c: u32, h: u32, w: u32, pad: u32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> latent: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let H = 2u * params.h; let W = 2u * params.w;
  let i = gid.x;
  if (i >= params.c * H * W) { return; }
  let x = i % W; let y = (i / W) % H; let ch = i / (W * H);
  out[i] = latent[(ch * params.h + y / 2u) * params.w + x / 2u];
}
