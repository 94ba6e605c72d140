// ln_modulate: out[r, :] = LayerNorm(x[r, :]) (1 + mods[scaleOff + c]) + mods[shiftOff + c], a
// DiT's adaLN-modulated norm (no affine weights). One workgroup per row; mean first, then the
// centred variance, both summed in fp32 through workgroup memory. Columns even.
// HALF: x and out fp16, two per u32 (unpack2x16float: no shader-f16 needed); else fp32 bits.
// Bindings: 0 out, 1 x, 2 mods (f32), 3 Params.
override HALF: bool = false;
override WG: u32 = 256u; // a power of two (the tree sum)

struct Params { rows: u32, cols: u32, shiftOff: u32, scaleOff: u32, eps: f32 }
@group(0) @binding(0) var<storage, read_write> outv: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read> mods: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> part: array<f32, WG>;

/** Elements i and i + 1 of x (i even). */
fn pair(i: u32) -> vec2<f32> {
  if (HALF) { return unpack2x16float(x[i >> 1u]); }
  return vec2<f32>(bitcast<f32>(x[i]), bitcast<f32>(x[i + 1u]));
}

fn store(i: u32, v: vec2<f32>) {
  if (HALF) {
    outv[i >> 1u] = pack2x16float(v);
  } else {
    outv[i] = bitcast<u32>(v.x);
    outv[i + 1u] = bitcast<u32>(v.y);
  }
}

/** The workgroup's sum of v. */
fn total(v: f32, li: u32) -> f32 {
  part[li] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { part[li] += part[li + s]; }
    workgroupBarrier();
  }
  let t = part[0];
  workgroupBarrier();
  return t;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let C = params.cols;
  let base = wg.x * C;
  var s = 0.0;
  for (var c = li * 2u; c < C; c += WG * 2u) {
    let v = pair(base + c);
    s += v.x + v.y;
  }
  let mean = total(s, li) / f32(C);
  var q = 0.0;
  for (var c = li * 2u; c < C; c += WG * 2u) {
    let v = pair(base + c) - vec2<f32>(mean);
    q += dot(v, v);
  }
  let rstd = inverseSqrt(total(q, li) / f32(C) + params.eps);
  for (var c = li * 2u; c < C; c += WG * 2u) {
    let n = (pair(base + c) - vec2<f32>(mean)) * rstd;
    let sc = vec2<f32>(mods[params.scaleOff + c], mods[params.scaleOff + c + 1u]);
    let sh = vec2<f32>(mods[params.shiftOff + c], mods[params.shiftOff + c + 1u]);
    store(base + c, n * (vec2<f32>(1.0) + sc) + sh);
  }
}
