// gray: decoded image [3, H, W] in [-1, 1] -> gray levels 0..255 with OpenCV's Q14 BT.601
// weights. mode 0 ("ours") maps each channel from [-1, 1] to [0, 255] and rounds first;
// mode 1 ("clip") is the authors' formula: float weights on the raw values, the gray value
// clipped to [0, 1], x 255, truncated (canny_cpu.ts). Bindings: 0 gray (u32, out), 1 image
// (f32), 2 Params.
override WG: u32 = 64u;
struct Params { w: u32, h: u32, mode: u32 }
@group(0) @binding(0) var<storage, read_write> gray: array<u32>;
@group(0) @binding(1) var<storage, read> image: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

fn level(v: f32) -> u32 {
  return u32(clamp(floor((v + 1.0) * 127.5 + 0.5), 0.0, 255.0));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = params.w * params.h;
  let p = gid.x;
  if (p >= n) { return; }
  let fr = image[p]; let fg = image[n + p]; let fb = image[2u * n + p];
  if (params.mode == 1u) {
    let y = (0.299 * fr + 0.587 * fg) + 0.114 * fb;
    gray[p] = u32(floor(clamp(y, 0.0, 1.0) * 255.0));
    return;
  }
  let r = level(fr); let g = level(fg); let b = level(fb);
  gray[p] = (r * 4899u + g * 9617u + b * 1868u + 8192u) >> 14u;
}
