// A size-class allocator inside one WebAssembly.Memory: freed blocks go to per-class free lists and are
// reused, so steady-state training and inference allocate no new wasm memory per op.

const PAGE = 65536;
const ALIGN = 64; // one cache line; also keeps every block v128-aligned

/** Rounds a byte count up to its size class: multiples of 64 below 4 KiB, then 8 classes per power of two. */
export function sizeClass(bytes: number): number {
  const b = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
  if (b <= 4096) return b;
  const e = Math.floor(Math.log2(b));
  const step = 2 ** (e - 3);
  return Math.ceil(b / step) * step; // ≤ 12.5% waste
}

export class Heap {
  private top: number;
  private readonly free = new Map<number, number[]>();
  private live = 0;
  private f32View: Float32Array;

  constructor(readonly memory: WebAssembly.Memory, private readonly maxPages: number, reserved: number) {
    this.top = Math.ceil(reserved / ALIGN) * ALIGN;
    this.f32View = new Float32Array(memory.buffer);
  }

  /** A block of at least `bytes` bytes; returns its byte address and its class size. */
  alloc(bytes: number): { ptr: number; cap: number } {
    if (!(bytes >= 0 && bytes <= Number.MAX_SAFE_INTEGER)) throw new RangeError(`wasm heap: cannot allocate ${bytes} bytes`);
    const cap = sizeClass(bytes);
    const list = this.free.get(cap);
    this.live += cap;
    if (list && list.length > 0) return { ptr: list.pop() as number, cap };
    const ptr = this.top;
    const end = ptr + cap;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = have / PAGE;
      const want = Math.max(Math.ceil((end - have) / PAGE), Math.ceil(pages / 4)); // grow by ≥25% to amortise
      const grow = Math.min(want, this.maxPages - pages);
      if (pages + grow < Math.ceil(end / PAGE)) {
        this.live -= cap;
        throw new RangeError(`wasm heap exhausted: need ${end} bytes, maximum ${this.maxPages * PAGE}`);
      }
      this.memory.grow(grow);
    }
    this.top = end;
    return { ptr, cap };
  }

  release(ptr: number, cap: number): void {
    let list = this.free.get(cap);
    if (!list) this.free.set(cap, (list = []));
    list.push(ptr);
    this.live -= cap;
  }

  /** Bytes in live blocks. */
  liveBytes(): number {
    return this.live;
  }
  /** Bytes ever carved from the memory (live plus free lists). */
  reservedBytes(): number {
    return this.top;
  }

  /** The float view of the memory, refreshed after growth (which replaces the buffer). */
  get f32(): Float32Array {
    if (this.f32View.byteLength !== this.memory.buffer.byteLength) this.f32View = new Float32Array(this.memory.buffer);
    return this.f32View;
  }
}
