// canny_nms: non-maximum suppression (OpenCV's tan 22.5 sectors in Q15) and the double
// threshold: cls = 2 strong (mag > high), 1 weak (mag > low), 0 none. Magnitudes outside
// the image are 0. Bindings: 0 cls (u32, out), 1 dx, 2 dy, 3 mag (i32), 4 Params.
override WG: u32 = 64u;
struct Params { w: u32, h: u32, low: i32, high: i32 }
@group(0) @binding(0) var<storage, read_write> cls: array<u32>;
@group(0) @binding(1) var<storage, read> dx: array<i32>;
@group(0) @binding(2) var<storage, read> dy: array<i32>;
@group(0) @binding(3) var<storage, read> mag: array<i32>;
@group(0) @binding(4) var<uniform> params: Params;

fn m(x: i32, y: i32) -> i32 {
  if (x < 0 || y < 0 || x >= i32(params.w) || y >= i32(params.h)) { return 0; }
  return mag[u32(y) * params.w + u32(x)];
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= params.w * params.h) { return; }
  let x = i32(i % params.w); let y = i32(i / params.w);
  let v = mag[i];
  var out = 0u;
  if (v > params.low) {
    let xs = abs(dx[i]);
    let ys = abs(dy[i]) << 15u;
    let tg22x = xs * 13573;
    var peak: bool;
    if (ys < tg22x) {
      peak = v > m(x - 1, y) && v >= m(x + 1, y);
    } else {
      let tg67x = tg22x + (xs << 16u);
      if (ys > tg67x) {
        peak = v > m(x, y - 1) && v >= m(x, y + 1);
      } else {
        let s = select(1, -1, (dx[i] < 0) != (dy[i] < 0));
        peak = v > m(x - s, y - 1) && v > m(x + s, y + 1);
      }
    }
    if (peak) { out = select(1u, 2u, v > params.high); }
  }
  cls[i] = out;
}
