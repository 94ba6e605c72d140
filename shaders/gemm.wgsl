// gemm: out[M, N] = epilogue(A[M, K] · W[K, N] + bias[N]), row-major, fp32 accumulation.
// A workgroup of WG_X x WG_Y invocations computes a BM x BN tile (BM = WG_Y TM, BN = WG_X TN),
// each invocation a TM x TN block in registers, stepping K by TK through workgroup memory.
// HALF: A, W, res and out are fp16, two per u32 (unpack2x16float: no shader-f16 needed; K and
// N even); otherwise fp32 bit patterns. Bias and gate are always fp32.
// Bounds are checked where the tile is loaded (zeros past the edge) and stored, never in the
// multiply loop, whose trip counts are pipeline constants.
// Epilogue (Params.mode): 0 y; 1 GELU(y) (tanh form, as FLUX's MLP); 2 res + gate[gateOff + n] y
// (the DiT's gated residual add, its gate a chunk of the modulation vector).
// OUT_F32: out is fp32 even when HALF (a modulation vector that gates and norms read as fp32).
// Bindings: 0 out, 1 a, 2 w, 3 bias (f32), 4 gate (f32), 5 res, 6 Params.
override HALF: bool = false;
override OUT_F32: bool = false;
override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;
override TM: u32 = 4u;
override TN: u32 = 4u;
override TK: u32 = 16u;
const MAX_TM: u32 = 8u;
const MAX_TN: u32 = 8u;

struct Params { M: u32, N: u32, K: u32, mode: u32, hasBias: u32, gateOff: u32 }
@group(0) @binding(0) var<storage, read_write> outv: array<u32>;
@group(0) @binding(1) var<storage, read> a: array<u32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> gate: array<f32>;
@group(0) @binding(5) var<storage, read> res: array<u32>;
@group(0) @binding(6) var<uniform> params: Params;

// tiles as [TK][BM] and [TK][BN]: the multiply loop reads both along rows
var<workgroup> As: array<f32, TK * WG_Y * TM>;
var<workgroup> Bs: array<f32, TK * WG_X * TN>;

/** Elements i and i + 1 of a row-major tensor (i even when HALF), zero past `end`. */
fn pairA(i: u32, end: u32) -> vec2<f32> {
  if (HALF) {
    if (i >= end) { return vec2<f32>(0.0); }
    return unpack2x16float(a[i >> 1u]);
  }
  var v = vec2<f32>(0.0);
  if (i < end) { v.x = bitcast<f32>(a[i]); }
  if (i + 1u < end) { v.y = bitcast<f32>(a[i + 1u]); }
  return v;
}

fn pairW(i: u32, end: u32) -> vec2<f32> {
  if (HALF) {
    if (i >= end) { return vec2<f32>(0.0); }
    return unpack2x16float(w[i >> 1u]);
  }
  var v = vec2<f32>(0.0);
  if (i < end) { v.x = bitcast<f32>(w[i]); }
  if (i + 1u < end) { v.y = bitcast<f32>(w[i + 1u]); }
  return v;
}

fn resAt(i: u32) -> f32 {
  if (HALF) {
    let p = unpack2x16float(res[i >> 1u]);
    return select(p.x, p.y, (i & 1u) == 1u);
  }
  return bitcast<f32>(res[i]);
}

fn gelu(x: f32) -> f32 {
  let z = clamp(0.7978845608 * (x + 0.044715 * x * x * x), -15.0, 15.0);
  return 0.5 * x * (1.0 + tanh(z));
}

fn epilogue(y0: f32, row: u32, col: u32) -> f32 {
  var y = y0;
  if (params.hasBias != 0u) { y += bias[col]; }
  if (params.mode == 1u) { return gelu(y); }
  if (params.mode == 2u) { return resAt(row * params.N + col) + gate[params.gateOff + col] * y; }
  return y;
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(
  @builtin(workgroup_id) wg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let BM = WG_Y * TM;
  let BN = WG_X * TN;
  let threads = WG_X * WG_Y;
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let row0 = wg.y * BM;
  let col0 = wg.x * BN;
  var acc: array<f32, MAX_TM * MAX_TN>;
  for (var i = 0u; i < TM * TN; i++) { acc[i] = 0.0; }

  for (var k0 = 0u; k0 < K; k0 += TK) {
    // A tile: BM rows x TK columns, two adjacent k per load
    for (var p = li; p < BM * TK / 2u; p += threads) {
      let r = p / (TK / 2u);
      let kk = (p % (TK / 2u)) * 2u;
      let row = row0 + r;
      var v = vec2<f32>(0.0);
      if (row < M) { v = pairA(row * K + k0 + kk, row * K + K); }
      As[kk * BM + r] = v.x;
      As[(kk + 1u) * BM + r] = v.y;
    }
    // W tile: TK rows x BN columns, two adjacent n per load
    for (var p = li; p < TK * BN / 2u; p += threads) {
      let kk = p / (BN / 2u);
      let c = (p % (BN / 2u)) * 2u;
      let k = k0 + kk;
      var v = vec2<f32>(0.0);
      if (k < K) { v = pairW(k * N + col0 + c, k * N + N); }
      Bs[kk * BN + c] = v.x;
      Bs[kk * BN + c + 1u] = v.y;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      var av: array<f32, MAX_TM>;
      var bv: array<f32, MAX_TN>;
      for (var i = 0u; i < TM; i++) { av[i] = As[kk * BM + lid.y * TM + i]; }
      for (var j = 0u; j < TN; j++) { bv[j] = Bs[kk * BN + lid.x * TN + j]; }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) { acc[i * TN + j] = fma(av[i], bv[j], acc[i * TN + j]); }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < TM; i++) {
    let row = row0 + lid.y * TM + i;
    if (row >= M) { break; }
    for (var j = 0u; j < TN; j += 2u) {
      let col = col0 + lid.x * TN + j;
      if (col >= N) { break; }
      let y0 = epilogue(acc[i * TN + j], row, col);
      var y1 = 0.0;
      if (col + 1u < N) { y1 = epilogue(acc[i * TN + j + 1u], row, col + 1u); }
      let o = row * N + col;
      if (HALF && !OUT_F32) {
        outv[o >> 1u] = pack2x16float(vec2<f32>(y0, y1));
      } else {
        outv[o] = bitcast<u32>(y0);
        if (col + 1u < N) { outv[o + 1u] = bitcast<u32>(y1); }
      }
    }
  }
}
