// canny_hysteresis: one sweep; a weak pixel (1) with a strong 8-neighbour (2) becomes
// strong and raises `changed`. The host repeats sweeps until nothing changes (a fixed
// point; the update is monotone, so races between sweeps cannot change the result).
// Bindings: 0 cls (atomic u32), 1 changed (atomic u32), 2 Params.
override WG: u32 = 64u;
struct Params { w: u32, h: u32 }
@group(0) @binding(0) var<storage, read_write> cls: array<atomic<u32>>;
@group(0) @binding(1) var<storage, read_write> changed: atomic<u32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= params.w * params.h) { return; }
  if (atomicLoad(&cls[i]) != 1u) { return; }
  let x = i32(i % params.w); let y = i32(i / params.w);
  for (var oy = -1; oy <= 1; oy++) {
    for (var ox = -1; ox <= 1; ox++) {
      let nx = x + ox; let ny = y + oy;
      if (nx < 0 || ny < 0 || nx >= i32(params.w) || ny >= i32(params.h)) { continue; }
      if (atomicLoad(&cls[u32(ny) * params.w + u32(nx)]) == 2u) {
        atomicStore(&cls[i], 2u);
        atomicStore(&changed, 1u);
        return;
      }
    }
  }
}
