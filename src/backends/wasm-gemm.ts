// The wasm backend's GEMM driver over the packed-panel kernels of kernels/wasm/gemm.ts: picks the orientation
// whose padded tile grid wastes less, packs A and B into micro-kernel panels (absorbing transposes), keeps a
// weight's packed panels between calls (pre-packing), splits the tile grid over threads and copies the result
// out of a padded grid. Heap blocks, threads and kernel calls come from the backend (GemmContext).
import { KC, MR, NR } from '../../kernels/wasm/gemm.js';
import { unpadGemm } from '../../kernels/wasm/host.js';
import type { KernelArgs, KernelName } from '../../kernels/wasm/module.js';
import { splitRange } from '../../kernels/wasm/pool.js';
import type { WindowGeometry } from '../backend.js';

/** A heap block: byte address and size. */
export interface Block {
  ptr: number;
  cap: number;
}

/** What the driver uses of its backend. */
export interface GemmContext {
  block(bytes: number): Block;
  free(b: Block): void;
  /** Threads a call should use, given whether it is worth splitting. */
  threads(big: boolean): number;
  par<K extends KernelName>(name: K, parts: readonly KernelArgs<K>[]): void;
  /** As par, with name2's part i right after name's part i on the same thread. */
  parThen<K extends KernelName, K2 extends KernelName>(name: K, parts: readonly KernelArgs<K>[], name2: K2, parts2: readonly KernelArgs<K2>[]): void;
  /** The heap's float view (current after growth). */
  f32(): Float32Array;
}

/** One operand: byte address; element (i, p) of op(A) at i·rs + p·ps floats, element (p, j) of op(B) at j·rs + p·ps. */
export interface Operand {
  ptr: number;
  rs: number;
  ps: number;
}

/**
 * A convolution's column operand left implicit: x [n, c, h, w] at byte address ptr, whose im2col matrix
 * [c·kh·kw, n·oh·ow] is packed into panels straight from the image (kernels/wasm/convpack.ts).
 */
export interface ImageOperand {
  ptr: number;
  image: WindowGeometry;
}

const isImage = (o: Operand | ImageOperand): o is ImageOperand => 'image' in o;

/** GEMMs below this many multiply-adds run on one thread: a dispatch costs more than it saves. */
const THREAD_MIN_WORK = 1 << 18;

/**
 * What follows a GEMM in place of the copy-out: called with the result's source (byte address), its row stride in
 * floats and whether it holds Cᵀ; it must write C [m, n] to the output itself (the backend's epilogue reads the
 * padded grid directly). Without one, C is copied out (unpadGemm).
 */
export type GemmFinish = (src: number, lds: number, transposed: boolean) => void;

/** Fraction of a padded tile grid doing useful work. */
const tileEfficiency = (m: number, n: number): number => (m * n) / (Math.ceil(m / MR) * MR * Math.ceil(n / NR) * NR);

export class WasmGemm<S> {
  /** Packed GEMM panels of weights (matmulEpilogue's A), per storage; dropped when it is written or released. */
  private readonly packed = new Map<S, Block & { key: string }>();

  constructor(private readonly ctx: GemmContext) {}

  /** Forgets a storage's packed panels (it was released or written in place). */
  forget(s: S): void {
    const p = this.packed.get(s);
    if (!p) return;
    this.packed.delete(s);
    this.ctx.free(p);
  }

  /** Bytes held by pre-packed weight panels. */
  packedBytes(): number {
    let n = 0;
    for (const p of this.packed.values()) n += p.cap;
    return n;
  }

  /**
   * C[m,n] (row-major at pc) = op(A)·op(B). When the padded tile grid of Cᵀ = Bᵀ·Aᵀ wastes less (n small,
   * e.g. 49), computes that instead and transposes on the way out. `weight`: the storage behind A, whose
   * packing is kept; `kernel`: the micro-kernel (gemm_fma only in a relaxed module); `finish`: see GemmFinish.
   */
  run(a: Operand, b: Operand | ImageOperand, m: number, n: number, k: number, pc: number, weight: S | null, kernel: 'gemm' | 'gemm_fma', finish: GemmFinish | null = null): void {
    if (tileEfficiency(n, m) > tileEfficiency(m, n) * 1.05) this.tiles(b, a, n, m, k, pc, true, weight, kernel, finish);
    else this.tiles(a, b, m, n, k, pc, false, weight, kernel, finish);
  }

  /** `weight`: the storage behind the original A (after a swap, this call's B), whose packing may be kept. */
  private tiles(a: Operand | ImageOperand, b: Operand | ImageOperand, m: number, n: number, k: number, pc: number, transposeOut: boolean, weight: S | null, kernel: 'gemm' | 'gemm_fma', finish: GemmFinish | null): void {
    const [pa, rsA, psA] = isImage(a) ? [a.ptr, 0, 0] : [a.ptr, a.rs, a.ps];
    const [pb, csB, psB] = isImage(b) ? [b.ptr, 0, 0] : [b.ptr, b.rs, b.ps];
    const ctx = this.ctx;
    const mt = Math.ceil(m / MR);
    const nt = Math.ceil(n / NR);
    const T = ctx.threads(m * n * k >= THREAD_MIN_WORK);
    // A kept packing is valid for the same storage, role, geometry and strides.
    const key = weight === null ? '' : transposeOut ? `B:${n}:${k}:${csB}:${psB}:${pb}` : `A:${m}:${k}:${rsA}:${psA}:${pa}`;
    let kept = weight !== null ? this.packed.get(weight) : undefined;
    if (kept && kept.key !== key) {
      this.forget(weight as S);
      kept = undefined;
    }
    const fresh = weight !== null && kept === undefined;
    const A = !transposeOut && kept ? kept : ctx.block(mt * MR * k * 4);
    const B = transposeOut && kept ? kept : ctx.block(nt * NR * k * 4);
    const packA = !(kept && !transposeOut);
    const packB = !(kept && transposeOut);
    let done = false;
    const direct = !transposeOut && m % MR === 0 && n % NR === 0;
    const ldc = direct ? n : nt * NR;
    const C = direct ? null : ctx.block(mt * MR * ldc * 4);
    const cp = C ? C.ptr : pc;
    try {
      if (!packA) {
        // kept: nothing to pack
      } else if (isImage(a)) {
        ctx.par('packImA', splitRange(mt, T).map(([t0, t1]) => ({ ...a.image, x: pa, dst: A.ptr, t0, t1 })));
      } else if (rsA === 1 && psA !== 1 && m >= MR) {
        // Transposed A: full tiles by the k-blocked kernel, a partial last tile by the general one.
        const full = Math.floor(m / MR);
        ctx.par('packAT', splitRange(full, T).map(([it0, it1]) => ({ src: pa, dst: A.ptr, k, ps: psA, it0, it1 })));
        if (full < mt) ctx.par('packA', [{ src: pa, dst: A.ptr, m, k, rs: rsA, ps: psA, it0: full, it1: mt }]);
      } else ctx.par('packA', splitRange(mt, T).map(([it0, it1]) => ({ src: pa, dst: A.ptr, m, k, rs: rsA, ps: psA, it0, it1 })));
      // Split the tile grid along whichever side gives each thread several tiles.
      const grid = { pa: A.ptr, pb: B.ptr, pc: cp, k, ldc, kc: KC };
      const byColumns = nt >= 2 * T || nt >= mt;
      const cols = splitRange(nt, T);
      const parts = byColumns
        ? cols.map(([jt0, jt1]) => ({ ...grid, it0: 0, it1: mt, jt0, jt1 }))
        : splitRange(mt, T).map(([it0, it1]) => ({ ...grid, it0, it1, jt0: 0, jt1: nt }));
      if (packB && byColumns) {
        // Each piece packs its own column panels and multiplies them on the same thread: the panels are still in
        // that core's cache, and packing and GEMM cost one dispatch. (A is complete by now: packed above, or kept.)
        if (isImage(b)) ctx.parThen('packImB', cols.map(([t0, t1]) => ({ ...b.image, x: pb, dst: B.ptr, t0, t1 })), kernel, parts);
        else ctx.parThen('packB', cols.map(([jt0, jt1]) => ({ src: pb, dst: B.ptr, n, k, cs: csB, ps: psB, jt0, jt1 })), kernel, parts);
      } else {
        if (packB && isImage(b)) ctx.par('packImB', cols.map(([t0, t1]) => ({ ...b.image, x: pb, dst: B.ptr, t0, t1 })));
        else if (packB) ctx.par('packB', cols.map(([jt0, jt1]) => ({ src: pb, dst: B.ptr, n, k, cs: csB, ps: psB, jt0, jt1 })));
        ctx.par(kernel, parts);
      }
      if (finish) finish(cp, ldc, transposeOut);
      else if (C) unpadGemm(ctx.f32(), C.ptr >>> 2, ldc, pc >>> 2, m, n, transposeOut);
      done = true;
    } finally {
      // Keep a fresh packing only when the call completed (a trap may have left it half written).
      const keep = fresh && done ? (transposeOut ? B : A) : null;
      if (keep) this.packed.set(weight as S, { key, ptr: keep.ptr, cap: keep.cap });
      if (A !== keep && A !== kept) ctx.free(A);
      if (B !== keep && B !== kept) ctx.free(B);
      if (C) ctx.free(C);
    }
  }
}
