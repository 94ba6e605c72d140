// repack_stage3: RALU stage-3 sequence in raster order, by scatter. Input token t with
// id (r, c): the first low_count tokens (still low resolution) fill the 2x2 block at
// (2r + a, 2c + b) and form a noise group; the stage-2 copies land at (2r, 2c), which
// is an integer position since their ids are on the half grid. Ids become the full-grid
// (row, col). One thread per input token. Bindings: 0 out tokens, 1 out ids,
// 2 groups (i32), 3 tokens, 4 ids, 5 Params.
override WG: u32 = 64u;
struct Params { n: u32, low_count: u32, dim: u32, cols: u32 }
@group(0) @binding(0) var<storage, read_write> out_tokens: array<f32>;
@group(0) @binding(1) var<storage, read_write> out_ids: array<f32>;
@group(0) @binding(2) var<storage, read_write> groups: array<i32>;
@group(0) @binding(3) var<storage, read> tokens: array<f32>;
@group(0) @binding(4) var<storage, read> ids: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

fn place(src: u32, dst: u32, group_base: i32) {
  for (var l = 0u; l < params.dim; l++) { out_tokens[dst * params.dim + l] = tokens[src * params.dim + l]; }
  out_ids[dst * 3u] = ids[src * 3u];
  out_ids[dst * 3u + 1u] = f32(dst / params.cols);
  out_ids[dst * 3u + 2u] = f32(dst % params.cols);
  for (var m = 0u; m < 4u; m++) {
    if (group_base < 0) {
      groups[dst * 4u + m] = -1;
    } else {
      groups[dst * 4u + m] = group_base + i32((m >> 1u) * params.cols + (m & 1u));
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.x;
  if (t >= params.n) { return; }
  let r2 = u32(round(ids[t * 3u + 1u] * 2.0));
  let c2 = u32(round(ids[t * 3u + 2u] * 2.0));
  let base = r2 * params.cols + c2;
  if (t < params.low_count) {
    for (var q = 0u; q < 4u; q++) { place(t, base + (q >> 1u) * params.cols + (q & 1u), i32(base)); }
  } else {
    place(t, base, -1);
  }
}
