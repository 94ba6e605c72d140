/**
 * A compute kernel: one `shaders/<name>.wgsl` entry point `main`, its pipeline cached,
 * bindings in order (storage buffers, then a `Params` uniform at the last binding).
 *
 * @example
 * ```ts ignore
 * const k = await Kernel.load(device, "euler", { WG: 64 });
 * k.dispatch(encoder, [x, v], params, Math.ceil(n / 64));
 * ```
 */
import { readAssetText } from "../assets.ts";

/** A Params uniform field: its WGSL type and value, in struct order (all 4 bytes). */
export type Field = ["u32" | "i32" | "f32", number];

/** Packs Params fields into bytes (std140-compatible for 4-byte scalars; padded to 16). */
export function packParams(fields: Field[]): ArrayBuffer {
  const buf = new ArrayBuffer(Math.max(16, Math.ceil((fields.length * 4) / 16) * 16));
  const view = new DataView(buf);
  fields.forEach(([type, v], i) => {
    if (type === "u32") view.setUint32(i * 4, v >>> 0, true);
    else if (type === "i32") view.setInt32(i * 4, v, true);
    else view.setFloat32(i * 4, v, true);
  });
  return buf;
}

export class Kernel {
  private constructor(
    readonly name: string,
    readonly device: GPUDevice,
    readonly pipeline: GPUComputePipeline,
  ) {}

  static async load(
    device: GPUDevice,
    name: string,
    constants: Record<string, number> = {},
  ): Promise<Kernel> {
    let code = await readAssetText(`shaders/${name}.wgsl`);
    // WGSL has no includes: `//#include file.wgsl` pastes a shared fragment
    for (const m of [...code.matchAll(/^\/\/#include (\S+)$/gm)]) {
      code = code.replace(m[0], await readAssetText(`shaders/${m[1]}`));
    }
    const module = device.createShaderModule({ label: `${name}.wgsl`, code });
    const pipeline = await device.createComputePipelineAsync({
      label: `${name} pipeline`,
      layout: "auto",
      compute: { module, entryPoint: "main", constants },
    });
    return new Kernel(name, device, pipeline);
  }

  /** Records one dispatch; `uniform` is the Params buffer (bound last). */
  dispatch(
    encoder: GPUCommandEncoder,
    buffers: GPUBuffer[],
    uniform: GPUBuffer,
    groups: [number, number?, number?],
    timestampWrites?: GPUComputePassTimestampWrites,
  ): void {
    const entries = [...buffers, uniform].map((buffer, binding) => ({
      binding,
      resource: { buffer },
    }));
    const bind = this.device.createBindGroup({
      label: `${this.name} bindings`,
      layout: this.pipeline.getBindGroupLayout(0),
      entries,
    });
    const pass = encoder.beginComputePass({
      label: `${this.name} pass`,
      ...(timestampWrites ? { timestampWrites } : {}),
    });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(groups[0], groups[1] ?? 1, groups[2] ?? 1);
    pass.end();
  }
}
