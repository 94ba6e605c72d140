// qk_rope: one stream's share of a joint-attention block's q, k and v, from its fused projection
// qkv[S, 3 H D] (q | k | v per row) into q, k, v [rowOff + s, H, D] of the joint sequence: q and
// k RMS-normed per head (weights [D], fp32 statistics) and rotated by RoPE — pairs (2i, 2i + 1),
// out = (x0 cos - x1 sin, x1 cos + x0 sin) with cos / sin [rows, D] fp32 tables of the joint
// sequence (FLUX's form) — v copied. One invocation per (token, head); D even.
// HALF: qkv, q, k, v fp16, two per u32; else fp32 bits.
// Bindings: 0 q, 1 k, 2 v, 3 qkv, 4 wq (f32), 5 wk (f32), 6 cosT (f32), 7 sinT (f32), 8 Params.
override HALF: bool = false;
override WG: u32 = 64u;

struct Params { S: u32, H: u32, D: u32, rowOff: u32, eps: f32 }
@group(0) @binding(0) var<storage, read_write> qo: array<u32>;
@group(0) @binding(1) var<storage, read_write> ko: array<u32>;
@group(0) @binding(2) var<storage, read_write> vo: array<u32>;
@group(0) @binding(3) var<storage, read> qkv: array<u32>;
@group(0) @binding(4) var<storage, read> wq: array<f32>;
@group(0) @binding(5) var<storage, read> wk: array<f32>;
@group(0) @binding(6) var<storage, read> cosT: array<f32>;
@group(0) @binding(7) var<storage, read> sinT: array<f32>;
@group(0) @binding(8) var<uniform> params: Params;

fn ld(i: u32) -> vec2<f32> {
  if (HALF) { return unpack2x16float(qkv[i >> 1u]); }
  return vec2<f32>(bitcast<f32>(qkv[i]), bitcast<f32>(qkv[i + 1u]));
}

fn enc(v: vec2<f32>) -> vec2<u32> {
  if (HALF) { return vec2<u32>(pack2x16float(v), 0u); }
  return bitcast<vec2<u32>>(v);
}

/** 1 / rms of the D values from src. */
fn rrms(src: u32) -> f32 {
  var ss = 0.0;
  for (var i = 0u; i < params.D; i += 2u) {
    let v = ld(src + i);
    ss += dot(v, v);
  }
  return inverseSqrt(ss / f32(params.D) + params.eps);
}

/** Normed by w, rotated by the table row t: the pair at offset i of a head starting at src. */
fn prepared(src: u32, i: u32, r: f32, w: vec2<f32>, t: u32) -> vec2<f32> {
  let v = ld(src + i) * r * w;
  let c = vec2<f32>(cosT[t * params.D + i], cosT[t * params.D + i + 1u]);
  let s = vec2<f32>(sinT[t * params.D + i], sinT[t * params.D + i + 1u]);
  return vec2<f32>(v.x * c.x - v.y * s.x, v.y * c.y + v.x * s.y);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let H = params.H;
  let D = params.D;
  let s = gid.x / H;
  let h = gid.x % H;
  if (s >= params.S) { return; }
  let HD = H * D;
  let src = s * 3u * HD + h * D;
  let t = params.rowOff + s;
  let dst = t * HD + h * D;
  let rq = rrms(src);
  let rk = rrms(src + HD);
  for (var i = 0u; i < D; i += 2u) {
    let q = enc(prepared(src, i, rq, vec2<f32>(wq[i], wq[i + 1u]), t));
    let k = enc(prepared(src + HD, i, rk, vec2<f32>(wk[i], wk[i + 1u]), t));
    let v = enc(ld(src + 2u * HD + i));
    let o = dst + i;
    if (HALF) {
      qo[o >> 1u] = q.x;
      ko[o >> 1u] = k.x;
      vo[o >> 1u] = v.x;
    } else {
      qo[o] = q.x;
      qo[o + 1u] = q.y;
      ko[o] = k.x;
      ko[o + 1u] = k.y;
      vo[o] = v.x;
      vo[o + 1u] = v.y;
    }
  }
}
