// A first-fit allocator with coalescing inside one WebAssembly.Memory. Freed blocks merge with free neighbours and
// a free block at the top lowers the top again, so after a large (or failed) step every byte is reusable by any
// later size: the heap never keeps holes shaped by one batch size. The memory itself cannot shrink (wasm has no
// way to), so the high-water mark stays committed, but it is reused.

const PAGE = 65536;
const ALIGN = 64; // one cache line; also keeps every block v128-aligned

/** Rounds a byte count up to the block granularity (64 bytes). */
export function blockSize(bytes: number): number {
  return Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
}

/** Thrown when a request cannot fit even after growing the memory to its maximum. */
export class HeapExhausted extends RangeError {
  constructor(
    readonly requested: number,
    readonly limit: number,
    readonly live: number,
    readonly largestFree: number,
  ) {
    super(`wasm heap exhausted: ${requested} bytes asked, ${live} bytes live, limit ${limit}`);
  }
}

export class Heap {
  private top: number;
  private readonly base: number;
  /** Free blocks below `top`, sorted by address; neighbours are always merged. */
  private readonly starts: number[] = [];
  private readonly sizes: number[] = [];
  private live = 0;
  private f32View: Float32Array;

  constructor(readonly memory: WebAssembly.Memory, private readonly maxPages: number, reserved: number) {
    this.base = Math.ceil(reserved / ALIGN) * ALIGN;
    this.top = this.base;
    this.f32View = new Float32Array(memory.buffer);
  }

  /** A block of at least `bytes` bytes; returns its byte address and its size. */
  alloc(bytes: number): { ptr: number; cap: number } {
    if (!(bytes >= 0 && bytes <= this.maxPages * PAGE)) throw new HeapExhausted(bytes, this.maxPages * PAGE, this.live, this.largestFree());
    const cap = blockSize(bytes);
    // Best fit among the free blocks: the smallest that holds the request keeps large blocks for large requests.
    let best = -1;
    for (let i = 0; i < this.sizes.length; i++) {
      const s = this.sizes[i];
      if (s >= cap && (best < 0 || s < this.sizes[best])) {
        best = i;
        if (s === cap) break;
      }
    }
    if (best >= 0) {
      const ptr = this.starts[best];
      if (this.sizes[best] === cap) {
        this.starts.splice(best, 1);
        this.sizes.splice(best, 1);
      } else {
        this.starts[best] += cap;
        this.sizes[best] -= cap;
      }
      this.live += cap;
      return { ptr, cap };
    }
    const ptr = this.top;
    const end = ptr + cap;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = have / PAGE;
      const need = Math.ceil(end / PAGE) - pages;
      const want = Math.max(need, Math.ceil(pages / 4)); // grow by ≥25% to amortise
      const grow = Math.min(want, this.maxPages - pages);
      if (grow < need) throw new HeapExhausted(bytes, this.maxPages * PAGE, this.live, Math.max(this.largestFree(), this.maxPages * PAGE - this.top));
      this.memory.grow(grow);
    }
    this.top = end;
    this.live += cap;
    return { ptr, cap };
  }

  release(ptr: number, cap: number): void {
    this.live -= cap;
    // Binary search for the insertion point, then merge with the neighbours.
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid] < ptr) lo = mid + 1;
      else hi = mid;
    }
    let start = ptr;
    let size = cap;
    const prev = lo - 1;
    const mergePrev = prev >= 0 && this.starts[prev] + this.sizes[prev] === ptr;
    const mergeNext = lo < this.starts.length && ptr + cap === this.starts[lo];
    if (mergePrev) {
      start = this.starts[prev];
      size += this.sizes[prev];
    }
    if (mergeNext) size += this.sizes[lo];
    const from = mergePrev ? prev : lo;
    const count = (mergePrev ? 1 : 0) + (mergeNext ? 1 : 0);
    if (start + size === this.top) {
      // The block touches the top: give it back to the unallocated tail.
      this.starts.splice(from, count);
      this.sizes.splice(from, count);
      this.top = start;
      return;
    }
    this.starts.splice(from, count, start);
    this.sizes.splice(from, count, size);
  }

  /** Bytes in live blocks. */
  liveBytes(): number {
    return this.live;
  }
  /** Bytes below the top: live blocks plus free holes between them. */
  reservedBytes(): number {
    return this.top;
  }
  /** Bytes the heap may ever hold. */
  limitBytes(): number {
    return this.maxPages * PAGE;
  }
  /** The largest block available without growing the memory past its maximum. */
  largestFree(): number {
    let m = this.maxPages * PAGE - this.top;
    for (const s of this.sizes) if (s > m) m = s;
    return m;
  }

  /** The float view of the memory, refreshed after growth (which replaces the buffer). */
  get f32(): Float32Array {
    if (this.f32View.byteLength !== this.memory.buffer.byteLength) this.f32View = new Float32Array(this.memory.buffer);
    return this.f32View;
  }
}
