// repack_stage2: RALU stage-2 sequence. Unselected tokens keep their order; then every
// selected token (ascending) becomes 4 copies with ids (i + a/2, j + b/2), (a, b) from the
// copy index q = 2a + b. groups[4t..4t+3] = the copies' indices (for correlated noise) or
// -1. info = (count, lowCount). One workgroup; a prefix count over contiguous chunks
// places every token. Bindings: 0 out tokens, 1 out ids, 2 groups (i32), 3 info (u32),
// 4 tokens, 5 ids, 6 mask (u32), 7 Params.
const WG: u32 = 256u;
struct Params { n: u32, dim: u32 }
@group(0) @binding(0) var<storage, read_write> out_tokens: array<f32>;
@group(0) @binding(1) var<storage, read_write> out_ids: array<f32>;
@group(0) @binding(2) var<storage, read_write> groups: array<i32>;
@group(0) @binding(3) var<storage, read_write> info: array<u32>;
@group(0) @binding(4) var<storage, read> tokens: array<f32>;
@group(0) @binding(5) var<storage, read> ids: array<f32>;
@group(0) @binding(6) var<storage, read> mask: array<u32>;
@group(0) @binding(7) var<uniform> params: Params;

var<workgroup> selected_before: array<u32, WG>;
var<workgroup> total_selected: u32;

fn copy_token(src: u32, dst: u32) {
  for (var l = 0u; l < params.dim; l++) { out_tokens[dst * params.dim + l] = tokens[src * params.dim + l]; }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) li: u32) {
  let chunk = (params.n + WG - 1u) / WG;
  let start = min(li * chunk, params.n);
  let end = min(start + chunk, params.n);
  var count = 0u;
  for (var i = start; i < end; i++) { count += select(0u, 1u, mask[i] != 0u); }
  selected_before[li] = count;
  workgroupBarrier();
  if (li == 0u) {
    var acc = 0u;
    for (var j = 0u; j < WG; j++) { let c = selected_before[j]; selected_before[j] = acc; acc += c; }
    total_selected = acc;
    info[0] = params.n - acc + 4u * acc;
    info[1] = params.n - acc;
  }
  workgroupBarrier();
  let low_count = params.n - total_selected;
  var s = selected_before[li];
  var u = start - s;
  for (var i = start; i < end; i++) {
    if (mask[i] == 0u) {
      copy_token(i, u);
      for (var a = 0u; a < 3u; a++) { out_ids[u * 3u + a] = ids[i * 3u + a]; }
      for (var m = 0u; m < 4u; m++) { groups[u * 4u + m] = -1; }
      u++;
    } else {
      let base = low_count + 4u * s;
      for (var q = 0u; q < 4u; q++) {
        let t = base + q;
        copy_token(i, t);
        out_ids[t * 3u] = ids[i * 3u];
        out_ids[t * 3u + 1u] = ids[i * 3u + 1u] + 0.5 * f32(q >> 1u);
        out_ids[t * 3u + 2u] = ids[i * 3u + 2u] + 0.5 * f32(q & 1u);
        for (var m = 0u; m < 4u; m++) { groups[t * 4u + m] = i32(base + m); }
      }
      s++;
    }
  }
}
