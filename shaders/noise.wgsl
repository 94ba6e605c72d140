// noise: correlated noise injection at a RALU boundary, x <- beta x + alpha n.
// For a token copied at this boundary (groups[4t] >= 0), per lane
//   n = g + k * mean(g over the 4 copies),  k = sqrt(1 - 4c) - 1  => Cov = I - c 11^T;
// other tokens get n = exact_scale * g. g: Philox stream `stream`, element t * dim + lane;
// when `anchored` and anchor_of[t] >= 0, g = anchor[anchor_of[t] * dim + lane] instead.
// Bindings: 0 x (f32, read_write), 1 groups (i32, 4 per token), 2 anchor (f32),
// 3 anchor_of (i32, 1 per token), 4 Params.
//#include _philox.wgsl
override WG: u32 = 64u;
struct Params { seed_lo: u32, seed_hi: u32, stream: u32, dim: u32, count: u32, beta: f32, alpha: f32, k: f32, exact_scale: f32, anchored: u32 }
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> groups: array<i32>;
@group(0) @binding(2) var<storage, read> anchor: array<f32>;
@group(0) @binding(3) var<storage, read> anchor_of: array<i32>;
@group(0) @binding(4) var<uniform> params: Params;

fn g_at(t: u32, lane: u32, key: vec2<u32>) -> f32 {
  if (params.anchored != 0u) {
    let a = anchor_of[t];
    if (a >= 0) { return anchor[u32(a) * params.dim + lane]; }
  }
  return gaussian_element(t * params.dim + lane, params.stream, key);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= params.count * params.dim) { return; }
  let t = i / params.dim;
  let lane = i % params.dim;
  let key = vec2<u32>(params.seed_lo, params.seed_hi);
  let own = g_at(t, lane, key);
  var n = own * params.exact_scale;
  if (groups[4u * t] >= 0) {
    var sum = 0.0;
    for (var m = 0u; m < 4u; m++) {
      sum = sum + g_at(u32(groups[4u * t + m]), lane, key);
    }
    n = own + params.k * (sum * 0.25);
  }
  x[i] = params.beta * x[i] + params.alpha * n;
}
