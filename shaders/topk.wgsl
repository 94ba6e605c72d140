// topk: mask[i] = 1 for the k highest scores, ties to the lower index. One workgroup:
// a histogram of scores (0..1024) gives the threshold score T and how many ties at T to
// take; ties are taken in index order through a prefix count over contiguous chunks.
// Handles up to WG * 64 = 16,384 scores. Bindings: 0 mask (u32, out), 1 scores, 2 Params.
const WG: u32 = 256u;
const BINS: u32 = 1025u;
struct Params { n: u32, k: u32 }
@group(0) @binding(0) var<storage, read_write> mask: array<u32>;
@group(0) @binding(1) var<storage, read> scores: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> hist: array<atomic<u32>, BINS>;
var<workgroup> ties: array<u32, WG>;
var<workgroup> threshold: u32;
var<workgroup> need: u32;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) li: u32) {
  for (var b = li; b < BINS; b += WG) { atomicStore(&hist[b], 0u); }
  workgroupBarrier();
  for (var i = li; i < params.n; i += WG) { atomicAdd(&hist[min(scores[i], BINS - 1u)], 1u); }
  workgroupBarrier();
  if (li == 0u) {
    threshold = 0xffffffffu;
    need = 0u;
    if (params.k > 0u) {
      var acc = 0u;
      for (var s = i32(BINS) - 1; s >= 0; s--) {
        let c = atomicLoad(&hist[u32(s)]);
        if (acc + c >= params.k) { threshold = u32(s); need = params.k - acc; break; }
        acc += c;
      }
    }
  }
  workgroupBarrier();
  let t = threshold;
  let chunk = (params.n + WG - 1u) / WG;
  let start = li * chunk;
  let end = min(start + chunk, params.n);
  var count = 0u;
  for (var i = start; i < end; i++) { if (min(scores[i], BINS - 1u) == t) { count++; } }
  ties[li] = count;
  workgroupBarrier();
  if (li == 0u) {
    var acc = 0u;
    for (var j = 0u; j < WG; j++) { let c = ties[j]; ties[j] = acc; acc += c; }
  }
  workgroupBarrier();
  var before = ties[li];
  let take = need;
  for (var i = start; i < end; i++) {
    let s = min(scores[i], BINS - 1u);
    var sel = 0u;
    if (t != 0xffffffffu && s > t) { sel = 1u; }
    if (s == t) {
      if (before < take) { sel = 1u; }
      before++;
    }
    mask[i] = sel;
  }
}
