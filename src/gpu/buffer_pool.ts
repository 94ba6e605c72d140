/**
 * GPU buffers recycled by (size, usage), with counters that tests read to catch leaks.
 *
 * @example
 * ```ts ignore
 * const pool = new BufferPool(device);
 * const b = pool.acquire(1024, GPUBufferUsage.STORAGE, "scores");
 * pool.release(b);
 * ```
 */
export class BufferPool {
  readonly #free = new Map<string, GPUBuffer[]>();
  readonly #names = new WeakMap<GPUBuffer, string>();
  /** Buffers handed out and not yet released. */
  live = 0;
  /** Bytes of every buffer this pool ever created and still holds. */
  bytes = 0;
  peakBytes = 0;

  constructor(readonly device: GPUDevice) {}

  acquire(size: number, usage: number, label: string): GPUBuffer {
    const rounded = Math.max(16, Math.ceil(size / 16) * 16);
    const key = `${rounded}:${usage}`;
    const buf = this.#free.get(key)?.pop() ??
      (() => {
        this.bytes += rounded;
        this.peakBytes = Math.max(this.peakBytes, this.bytes);
        return this.device.createBuffer({ size: rounded, usage, label });
      })();
    this.#names.set(buf, label); // Deno keeps a buffer's first label: track the holder's
    this.live++;
    return buf;
  }

  /** The label given at the last `acquire` (a buffer from elsewhere: its own label). */
  nameOf(buf: GPUBuffer): string {
    return this.#names.get(buf) ?? buf.label;
  }

  release(buf: GPUBuffer): void {
    const key = `${buf.size}:${buf.usage}`;
    if (!this.#free.has(key)) this.#free.set(key, []);
    this.#free.get(key)!.push(buf);
    this.live--;
  }

  /** Destroys every pooled buffer (released ones; live ones belong to their holders). */
  dispose(): void {
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
    this.bytes = 0;
  }
}
