// Philox 4x32-10 and Box–Muller, shared by gaussian.wgsl and noise.wgsl (included by the
// kernel loader). Mirrors src/kernels/philox_cpu.ts bit for bit up to the float math.

fn mulhilo(a: u32, b: u32) -> vec2<u32> {
  let aH = a >> 16u; let aL = a & 0xffffu; let bH = b >> 16u; let bL = b & 0xffffu;
  let mid1 = aH * bL; let mid2 = aL * bH; let low = aL * bL;
  let carry = ((low >> 16u) + (mid1 & 0xffffu) + (mid2 & 0xffffu)) >> 16u;
  let hi = aH * bH + (mid1 >> 16u) + (mid2 >> 16u) + carry;
  return vec2<u32>(hi, a * b);
}

fn philox(ctr: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = ctr; var k = key;
  for (var r = 0u; r < 10u; r++) {
    let p0 = mulhilo(0xd2511f53u, c.x);
    let p1 = mulhilo(0xcd9e8d57u, c.z);
    c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    k = k + vec2<u32>(0x9e3779b9u, 0xbb67ae85u);
  }
  return c;
}

fn uniform01(word: u32) -> f32 {
  // (word + 1) / 2^32 in (0, 1], computed the way the CPU reference does
  return f32(word) * 2.3283064365386963e-10 + 2.3283064365386963e-10;
}

// Normal number `lane` (0..3) of Philox block `block` in stream `stream`.
fn gaussian_at(block: u32, lane: u32, stream: u32, key: vec2<u32>) -> f32 {
  let w = philox(vec4<u32>(block, stream, 0u, 0u), key);
  let pair = lane >> 1u;
  let u1 = uniform01(select(w.x, w.z, pair == 1u));
  let u2 = uniform01(select(w.y, w.w, pair == 1u));
  let r = sqrt(-2.0 * log(u1));
  let th = 6.283185307179586 * u2;
  return select(r * cos(th), r * sin(th), (lane & 1u) == 1u);
}

fn gaussian_element(e: u32, stream: u32, key: vec2<u32>) -> f32 {
  return gaussian_at(e >> 2u, e & 3u, stream, key);
}
