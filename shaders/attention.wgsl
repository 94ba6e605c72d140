// attention: out = softmax(q kᵀ · scale) v per (batch, head), tiled with an online softmax:
// the S x S scores are never stored, only one BK-key tile's at a time.
// Layout: q, k, v, out are [B, S, H, D] (token-major, as a DiT's [B, S, H·D] projections),
// in fp16 (HALF: two per u32, D even) or fp32 bit patterns; statistics and sums in fp32.
// A workgroup takes BQ query rows of one head; TPR invocations share a row, each owning
// D / TPR of its dimensions (its part of q·k, reduced through workgroup memory, and of the
// output). K and V tiles of BK keys are staged in workgroup memory.
// Dispatch: (ceil(S / BQ), H, B). Bindings: 0 out, 1 q, 2 k, 3 v, 4 Params.
override HALF: bool = false;
override D: u32 = 128u;
override TPR: u32 = 4u;
override BQ: u32 = 16u;
override BK: u32 = 8u;
const MAX_DT: u32 = 64u;

struct Params { S: u32, H: u32, scale: f32 }
@group(0) @binding(0) var<storage, read_write> outv: array<u32>;
@group(0) @binding(1) var<storage, read> q: array<u32>;
@group(0) @binding(2) var<storage, read> k: array<u32>;
@group(0) @binding(3) var<storage, read> v: array<u32>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> Ks: array<f32, BK * D>;
var<workgroup> Vs: array<f32, BK * D>;
var<workgroup> partial: array<f32, BQ * TPR * BK>;

/** Elements i, i + 1 of q, k or v (i even). */
fn pairOf(which: u32, i: u32) -> vec2<f32> {
  if (HALF) {
    var u: u32;
    if (which == 0u) { u = q[i >> 1u]; } else if (which == 1u) { u = k[i >> 1u]; } else { u = v[i >> 1u]; }
    return unpack2x16float(u);
  }
  if (which == 0u) { return vec2<f32>(bitcast<f32>(q[i]), bitcast<f32>(q[i + 1u])); }
  if (which == 1u) { return vec2<f32>(bitcast<f32>(k[i]), bitcast<f32>(k[i + 1u])); }
  return vec2<f32>(bitcast<f32>(v[i]), bitcast<f32>(v[i + 1u]));
}

@compute @workgroup_size(BQ * TPR)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let S = params.S;
  let H = params.H;
  let head = wg.y;
  let batch = wg.z;
  let DT = D / TPR;
  let lq = li / TPR;
  let part = li % TPR;
  let d0 = part * DT;
  let row = wg.x * BQ + lq;
  let live = row < S;
  let rowBase = ((batch * S + min(row, S - 1u)) * H + head) * D;

  // q, pre-scaled by scale · log2(e) so that exp2 gives the softmax weights
  let c = params.scale * 1.4426950408889634;
  var qv: array<f32, MAX_DT>;
  for (var d = 0u; d < DT; d += 2u) {
    let p = pairOf(0u, rowBase + d0 + d);
    qv[d] = p.x * c;
    qv[d + 1u] = p.y * c;
  }
  var acc: array<f32, MAX_DT>;
  for (var d = 0u; d < DT; d++) { acc[d] = 0.0; }
  var m = -3.0e38;
  var l = 0.0;

  for (var k0 = 0u; k0 < S; k0 += BK) {
    // stage BK keys and values (zeros past S)
    for (var p = li; p < BK * D / 2u; p += BQ * TPR) {
      let j = p / (D / 2u);
      let d = (p % (D / 2u)) * 2u;
      var kp = vec2<f32>(0.0);
      var vp = vec2<f32>(0.0);
      if (k0 + j < S) {
        let base = ((batch * S + k0 + j) * H + head) * D + d;
        kp = pairOf(1u, base);
        vp = pairOf(2u, base);
      }
      Ks[j * D + d] = kp.x;
      Ks[j * D + d + 1u] = kp.y;
      Vs[j * D + d] = vp.x;
      Vs[j * D + d + 1u] = vp.y;
    }
    workgroupBarrier();
    // this invocation's part of each key's score
    for (var j = 0u; j < BK; j++) {
      var s = 0.0;
      for (var d = 0u; d < DT; d++) { s = fma(qv[d], Ks[j * D + d0 + d], s); }
      partial[(lq * TPR + part) * BK + j] = s;
    }
    workgroupBarrier();
    // full scores (every invocation of the row sums the same parts), online softmax update
    var sc: array<f32, 64>;
    var mt = m;
    let nk = min(BK, S - k0);
    for (var j = 0u; j < nk; j++) {
      var s = 0.0;
      for (var t = 0u; t < TPR; t++) { s += partial[(lq * TPR + t) * BK + j]; }
      sc[j] = s;
      mt = max(mt, s);
    }
    let corr = exp2(m - mt);
    l *= corr;
    for (var d = 0u; d < DT; d++) { acc[d] *= corr; }
    for (var j = 0u; j < nk; j++) {
      let w = exp2(sc[j] - mt);
      l += w;
      for (var d = 0u; d < DT; d++) { acc[d] = fma(w, Vs[j * D + d0 + d], acc[d]); }
    }
    m = mt;
    workgroupBarrier();
  }

  if (!live) { return; }
  let inv = 1.0 / l;
  for (var d = 0u; d < DT; d += 2u) {
    let o = rowBase + d0 + d;
    let y = vec2<f32>(acc[d], acc[d + 1u]) * inv;
    if (HALF) {
      outv[o >> 1u] = pack2x16float(y);
    } else {
      outv[o] = bitcast<u32>(y.x);
      outv[o + 1u] = bitcast<u32>(y.y);
    }
  }
}
