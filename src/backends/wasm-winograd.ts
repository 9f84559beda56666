// The wasm backend's Winograd F(2×2, 3×3) driver for eval-mode 3×3 stride-1 convolutions (convEpilogue):
// transforms a weight once into the 16 matrices U_ξ = (G g Gᵀ)_ξ, kept per weight storage already packed as
// GEMM A panels (dropped when the weight is written or released, like WasmGemm's packings), then per call
// stages the image with its zero border, transforms it into 16 packed B operands (kernels/wasm/winograd.ts),
// runs the 16 GEMMs [oc × c]·[c × tiles] on the existing micro-kernel (one piece per GEMM, so 2 threads split
// them 8/8 whatever the tile count) and applies the output transform fused with the epilogue.
// Where the input holds NaN or ±∞ (seen by the input transform at no extra pass) it returns null and the caller
// takes the GEMM path: Winograd would spread one bad pixel over a whole 2×2 output tile (and ∞ − ∞ turns ∞
// into NaN), so its non-finite mask would differ from the direct convolution's. Non-finite weights likewise.
import type { WindowGeometry } from '../backend.js';
import { MR, NR } from '../../kernels/wasm/gemm.js';
import type { KernelArgs, KernelName } from '../../kernels/wasm/module.js';
import { MAX_PIECES, splitRange } from '../../kernels/wasm/pool.js';
import type { Block } from './wasm-gemm.js';

/** When convEpilogue uses Winograd: 'auto' where measured faster (winogradWins), 'on' for every eligible conv, 'off' never. */
export type WinogradMode = 'auto' | 'on' | 'off';

/** What the driver uses of its backend. */
export interface WinogradContext<S> {
  block(bytes: number): Block;
  free(b: Block): void;
  threads(big: boolean): number;
  par<K extends KernelName>(name: K, parts: readonly KernelArgs<K>[]): void;
  f32(): Float32Array;
  alloc(size: number): S;
  ptr(s: S): number;
  /** Whether the fused multiply-add micro-kernel is used (relaxed SIMD, as matmulEpilogue). */
  relaxed(): boolean;
  /** Whether transformed weights are kept between calls (the backend's prepack). */
  keep(): boolean;
}

/** The conv epilogue's storages (Backend's GemmEpilogue over the backend's storage type). */
export interface WinogradEpilogue<S> {
  scale: S;
  shift: S;
  residual: S | null;
  relu: boolean;
}

/**
 * Bytes of U_ξ per GEMM piece. Measured (1 thread, relaxed, same process): 512→512 @7² 4.0 ms with whole GEMMs,
 * 3.6 ms with 256 KiB blocks; the other ResNet shapes within noise from 32 KiB to whole.
 */
const A_BLOCK = 256 * 1024;
/** The GEMM micro-kernel's k block (as WasmGemm's KC). */
const KC = 1024;

/** Tile grid of an output: tH × tW tiles of 2×2, the tile row padded to a multiple of 4 (one f32x4 group). */
export function winogradTiles(n: number, oh: number, ow: number): { th: number; tw: number; twp: number; tiles: number } {
  const th = Math.ceil(oh / 2);
  const tw = Math.ceil(ow / 2);
  const twp = Math.ceil(tw / 4) * 4;
  return { th, tw, twp, tiles: n * th * twp };
}

/**
 * Whether Winograd beats the GEMM path for this shape ('auto'), from bench/winograd.ts's measurements
 * (bench/RESULTS.md, "Winograd F(2×2,3×3)"): it does 16/36 of the direct multiplies on whole, row-padded
 * tiles, so its work is (16/36)/useful of the direct conv's, useful = n·oh·ow / (4·tiles) the share of tile
 * outputs kept. Measured on 1 and 2 threads, relaxed and plain SIMD: 1.1–2.7× faster from 56² down to 4² maps
 * (useful 1 to 0.5) at 3 to 512 channels; 0.55–0.7× at 2² maps and 0.1–0.3× at 1² (useful 0.25 and 0.06).
 */
export function winogradWins(g: WindowGeometry, oc: number): boolean {
  const { tiles } = winogradTiles(g.n, g.oh, g.ow);
  return oc > 0 && (g.n * g.oh * g.ow) / (4 * tiles) >= 0.5;
}

interface Kept {
  key: string;
  /** The 16 packed U_ξ, or null: the weight holds NaN or ±∞ (the GEMM path then keeps its semantics). */
  block: Block | null;
}

export class WasmWinograd<S> {
  mode: WinogradMode = 'auto';
  private readonly kept = new Map<S, Kept>();

  constructor(private readonly ctx: WinogradContext<S>) {}

  /** Forgets a storage's transformed weights (it was released or written in place). */
  forget(s: S): void {
    const k = this.kept.get(s);
    if (!k) return;
    this.kept.delete(s);
    if (k.block) this.ctx.free(k.block);
  }

  /** Bytes held by kept transformed weights. */
  keptBytes(): number {
    let n = 0;
    for (const k of this.kept.values()) n += k.block ? k.block.cap : 0;
    return n;
  }

  /** Whether this conv can run here (3×3, stride 1, dilation 1, non-empty, PyTorch's output size). */
  static eligible(g: WindowGeometry, oc: number): boolean {
    return g.kh === 3 && g.kw === 3 && g.sh === 1 && g.sw === 1 && g.dh === 1 && g.dw === 1 &&
      g.n * g.c * g.oh * g.ow * oc > 0 && g.oh === g.h + 2 * g.ph - 2 && g.ow === g.w + 2 * g.pw - 2 && g.ph >= 0 && g.pw >= 0;
  }

  /**
   * The eval conv with its epilogue as [oc, n·oh·ow], or null where this conv is not for Winograd (mode, shape,
   * non-finite input or weight): the caller then takes the GEMM path.
   */
  run(x: S, weight: S, g: WindowGeometry, oc: number, e: WinogradEpilogue<S>): S | null {
    if (this.mode === 'off' || !WasmWinograd.eligible(g, oc)) return null;
    // Without kept transforms (prepack off) every call would transform the weight again, in JS: 25 ms for a
    // 512→512 conv that Winograd saves 5 ms on. 'auto' leaves those to the GEMM path.
    if (this.mode === 'auto' && (!winogradWins(g, oc) || !this.ctx.keep())) return null;
    const ctx = this.ctx;
    const { n, c, h, w, ph, pw, oh, ow } = g;
    const { th, twp, tiles } = winogradTiles(n, oh, ow);
    const mt = Math.ceil(oc / MR);
    const nt = Math.ceil(tiles / NR);
    const ldc = nt * NR;
    const [hp, wp] = [2 * th + 2, 2 * twp + 4];
    const T = ctx.threads(oc * c * tiles >= 1 << 14);
    const keep = ctx.keep();
    const U = this.weights(weight, oc, c, mt, keep);
    if (U === null) return null;
    const vs = nt * NR * c * 4;
    const ms = mt * MR * ldc * 4;
    const blocks: Block[] = keep ? [] : [U];
    const take = (bytes: number): Block => {
      const b = ctx.block(bytes);
      blocks.push(b);
      return b;
    };
    try {
      const P = take(n * c * hp * wp * 4);
      const V = take(16 * vs);
      const F = take(64 * 16);
      ctx.par('wino_pad', splitRange(n * c, T).map(([p0, p1]) => ({ x: ctx.ptr(x), dst: P.ptr, h, w, ph, pw, hp, wp, p0, p1 })));
      const rows = splitRange(n * th, T);
      ctx.par('wino_in', rows.map(([r0, r1], i) => ({ src: P.ptr, dst: V.ptr, c, th, twp, hp, wp, vs, flag: F.ptr + 16 * i, r0, r1 })));
      const f = ctx.f32();
      for (let i = 0; i < rows.length * 4; i++) if (!Number.isFinite(f[(F.ptr >>> 2) + i])) return null;
      const M = take(16 * ms);
      // Pieces: each GEMM's A (U_ξ) in row blocks of at most A_BLOCK bytes, all of B's columns per piece: the
      // micro-kernel sweeps A once per column panel, so a block small enough to stay in L2 is read from memory
      // once, not once per panel (layer4: U_ξ is 1 MiB and there are 2 panels). Threads claim pieces as they
      // free up; batches stay within the pool's piece limit.
      const itBlock = Math.max(1, Math.floor(A_BLOCK / (c * MR * 4)));
      const pieces: KernelArgs<'gemm'>[] = [];
      for (let xi = 0; xi < 16; xi++)
        for (let it0 = 0; it0 < mt; it0 += itBlock)
          pieces.push({ pa: U.ptr + xi * mt * MR * c * 4, pb: V.ptr + xi * vs, pc: M.ptr + xi * ms, k: c, ldc, kc: KC, it0, it1: Math.min(mt, it0 + itBlock), jt0: 0, jt1: nt });
      const kernel = ctx.relaxed() ? 'gemm_fma' : 'gemm';
      for (let i = 0; i < pieces.length; i += MAX_PIECES) ctx.par(kernel, pieces.slice(i, i + MAX_PIECES));
      const out = ctx.alloc(oc * n * oh * ow);
      const [scale, shift] = [ctx.ptr(e.scale), ctx.ptr(e.shift)];
      const res = e.residual ? ctx.ptr(e.residual) : 0;
      ctx.par(`wino_out_${e.residual ? 1 : 0}${e.relu ? 1 : 0}`, splitRange(oc, T).map(([o0, o1]) => ({ m: M.ptr, ms, ldc, out: ctx.ptr(out), res, scale, shift, n, oh, ow, th, twp, o0, o1 })));
      return out;
    } finally {
      for (const b of blocks) ctx.free(b);
    }
  }

  /** The 16 packed U_ξ of `weight` ([oc, c, 3, 3]), kept when `keep`; null when the weight is not finite. */
  private weights(weight: S, oc: number, c: number, mt: number, keep: boolean): Block | null {
    const key = `${oc}:${c}:${this.ctx.ptr(weight)}`;
    const k = this.kept.get(weight);
    if (k && k.key === key) return k.block;
    if (k) this.forget(weight);
    const per = mt * MR * c; // floats per packed U_ξ
    const b = this.ctx.block(16 * per * 4);
    const f = this.ctx.f32();
    const base = b.ptr >>> 2;
    const src = this.ctx.ptr(weight) >>> 2;
    f.fill(0, base, base + 16 * per);
    let finite = true;
    const t = new Float64Array(12);
    const F32_MAX = 3.4028234663852886e38;
    for (let o = 0; o < oc; o++) {
      for (let ch = 0; ch < c; ch++) {
        const g0 = src + (o * c + ch) * 9;
        // t = G·g (4×3), then U = t·Gᵀ (4×4), in float64, rounded once to float32. G's rows written out:
        // (1, 0, 0), (½, ½, ½), (½, −½, ½), (0, 0, 1) (nested loops over G took twice as long).
        for (let j = 0; j < 3; j++) {
          const a = f[g0 + j];
          const m = f[g0 + 3 + j];
          const z = f[g0 + 6 + j];
          t[j] = a;
          t[3 + j] = 0.5 * (a + m + z);
          t[6 + j] = 0.5 * (a - m + z);
          t[9 + j] = z;
        }
        let at = base + ((o >> 2) * c + ch) * MR + (o & 3);
        for (let i = 0; i < 4; i++) {
          const a = t[3 * i];
          const m = t[3 * i + 1];
          const z = t[3 * i + 2];
          const u1 = 0.5 * (a + m + z);
          const u2 = 0.5 * (a - m + z);
          // NaN fails the comparison; ±∞, and values that round past float32's range, exceed it.
          if (!(Math.abs(a) <= F32_MAX && Math.abs(u1) <= F32_MAX && Math.abs(u2) <= F32_MAX && Math.abs(z) <= F32_MAX)) finite = false;
          f[at] = a;
          f[at + per] = u1;
          f[at + 2 * per] = u2;
          f[at + 3 * per] = z;
          at += 4 * per;
        }
      }
    }
    const block = finite ? b : null;
    if (!finite) this.ctx.free(b);
    if (keep) this.kept.set(weight, { key, block });
    return block;
  }
}
