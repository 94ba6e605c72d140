// gray: decoded image [3, H, W] in [-1, 1] -> gray levels 0..255 with OpenCV's Q14 BT.601
// weights. mode 0 ("ours") maps [-1, 1] to [0, 255]; mode 1 ("clip") clips to [0, 1]
// first, as the reference code does. Bindings: 0 gray (u32, out), 1 image (f32), 2 Params.
override WG: u32 = 64u;
struct Params { w: u32, h: u32, mode: u32 }
@group(0) @binding(0) var<storage, read_write> gray: array<u32>;
@group(0) @binding(1) var<storage, read> image: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

fn level(v: f32) -> u32 {
  var x: f32;
  if (params.mode == 0u) { x = (v + 1.0) * 127.5; } else { x = clamp(v, 0.0, 1.0) * 255.0; }
  return u32(clamp(floor(x + 0.5), 0.0, 255.0));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = params.w * params.h;
  let p = gid.x;
  if (p >= n) { return; }
  let r = level(image[p]); let g = level(image[n + p]); let b = level(image[2u * n + p]);
  gray[p] = (r * 4899u + g * 9617u + b * 1868u + 8192u) >> 14u;
}
