// canny_sobel: 3x3 Sobel with replicated borders and L1 magnitude |dx| + |dy|.
// Bindings: 0 dx (i32, out), 1 dy (i32, out), 2 mag (i32, out), 3 gray (u32), 4 Params.
override WG: u32 = 64u;
struct Params { w: u32, h: u32 }
@group(0) @binding(0) var<storage, read_write> dx: array<i32>;
@group(0) @binding(1) var<storage, read_write> dy: array<i32>;
@group(0) @binding(2) var<storage, read_write> mag: array<i32>;
@group(0) @binding(3) var<storage, read> gray: array<u32>;
@group(0) @binding(4) var<uniform> params: Params;

fn at(x: i32, y: i32) -> i32 {
  let cx = clamp(x, 0, i32(params.w) - 1);
  let cy = clamp(y, 0, i32(params.h) - 1);
  return i32(gray[u32(cy) * params.w + u32(cx)]);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= params.w * params.h) { return; }
  let x = i32(i % params.w); let y = i32(i / params.w);
  let gx = at(x + 1, y - 1) + 2 * at(x + 1, y) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x - 1, y) - at(x - 1, y + 1);
  let gy = at(x - 1, y + 1) + 2 * at(x, y + 1) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x, y - 1) - at(x + 1, y - 1);
  dx[i] = gx; dy[i] = gy; mag[i] = abs(gx) + abs(gy);
}
