// The wasm backend's Winograd F(2×2, 3×3) driver for 3×3 stride-1 convolutions: the eval conv with its epilogue
// (run, for convEpilogue), the input gradient of a training conv (runInputGrad: the conv of dy with the
// flipped, transposed weight) and its weight gradient (runWeightGrad: 16 GEMMs over the tiles in the transform
// domain, then Gᵀ·G back to 3×3). The weight transform U_ξ = (G g Gᵀ)_ξ runs in wasm (wino_w, or wino_wt for the
// gradient's U, written straight from the forward weight) into packed GEMM A panels, kept per weight storage
// (dropped when the weight is written or released, like WasmGemm's packings; training re-transforms each step).
// Per call it stages the image with its zero border, transforms it into 16 packed B operands
// (kernels/wasm/winograd.ts), runs the 16 GEMMs [cout × cin]·[cin × tiles] on the existing micro-kernel (one
// piece per GEMM, so 2 threads split them 8/8 whatever the tile count) and applies the output transform (fused
// with the eval epilogue, or plain into NCHW for the gradient). On 2 threads or more, where U is small, each piece is
// instead a band of tile rows that one thread takes through all four steps (wino_band_*), so that the threads never
// read each other's V and M.
// Where the input holds NaN or ±∞ (seen by the input transform at no extra pass) it returns null and the caller
// takes the GEMM path: Winograd would spread one bad pixel over a whole 2×2 output tile (and ∞ − ∞ turns ∞
// into NaN), so its non-finite mask would differ from the direct convolution's. Non-finite weights likewise.
import type { WindowGeometry } from '../backend.js';
import { KC, MR, NR } from '../../kernels/wasm/gemm.js';
import type { KernelArgs, KernelName } from '../../kernels/wasm/module.js';
import type { WinoBandKernel, WinoOutKernel } from '../../kernels/wasm/winograd.js';
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
  /** Returns a storage from alloc (an output abandoned for the GEMM path). */
  release(s: S): void;
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
/** The weight gradient's k chunk (tiles per partial M', see runWeightGrad), and at most this many chunks. */
const WGRAD_KB = 128;
const WGRAD_CHUNKS = 16;
const WGRAD_M_BYTES = 64 * 1024 * 1024;

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

/**
 * Whether Winograd beats matmul(Wᵀ·dy) + col2im for the input gradient of the conv of forward geometry g ('auto'),
 * counting a fresh weight transform per call (training writes the weight every step): the forward rule on the
 * gradient conv's output (the input's h × w). Measured (bench/winograd.ts --mode grad, bench/RESULTS.md), 1 and
 * 2 threads, relaxed and plain SIMD: 1.6–2.5× faster at 64@56², 128@28², 256@14² b1 and 8×64@8², 1.0–1.3× at
 * 512@7² b1 and 8×128@4² (useful 1 to 0.5); 0.4–0.7× at 8×256@2², 0.25–0.3× at 8×512@1² (useful 0.25, 0.06).
 */
export function winogradGradWins(g: WindowGeometry, oc: number): boolean {
  const { tiles } = winogradTiles(g.n, g.h, g.w);
  return oc > 0 && (g.n * g.h * g.w) / (4 * tiles) >= 0.5;
}

/**
 * Whether Winograd beats im2col + gy·colsᵀ for the weight gradient of the conv of forward geometry g ('auto'):
 * its GEMMs do 16·tiles multiplies per (o, ch) against the direct 9·n·oh·ow, but write 16 partial M' per (o, ch)
 * (against 9), so a short k (few tiles) leaves it bound by those writes and their read-back. Measured
 * (bench/winograd.ts --mode wgrad, bench/RESULTS.md), 1 and 2 threads, relaxed and plain SIMD: 1.6–2.0× faster at
 * 64@56², 128@28², 256@14² b1 and 8×64@8², 1.05–1.5× at 8×128@4² and 512@7² b2, b4 (useful ≥ 0.5, ≥ 32 tiles);
 * 0.9–1.07× at 512@7² b1 (16 tiles), 0.5–0.6× at 8×256@2² (useful 0.25), 0.16–0.18× at 8×512@1².
 */
export function winogradWeightGradWins(g: WindowGeometry, oc: number): boolean {
  const { tiles } = winogradTiles(g.n, g.oh, g.ow);
  return oc > 0 && tiles >= 32 && (g.n * g.oh * g.ow) / (4 * tiles) >= 0.5;
}

interface Kept {
  key: string;
  /** The 16 packed U_ξ, or null: the weight holds NaN or ±∞ (the GEMM path then keeps its semantics). */
  block: Block | null;
}

/**
 * One Winograd conv's shape: input [n, cin, h, w] padded by (ph, pw), output [n, cout, oh, ow]; `rows`: the
 * input is laid out as channel rows [cin, n, h, w] rather than NCHW.
 */
interface ConvShape {
  rows: boolean;
  n: number;
  cin: number;
  cout: number;
  h: number;
  w: number;
  ph: number;
  pw: number;
  oh: number;
  ow: number;
}

export class WasmWinograd<S> {
  mode: WinogradMode = 'auto';
  /** Whether conv() runs in bands of tile rows (bandRows): 'auto' where bandRows says so, 'on' always, 'off' never (tests, bench). */
  banding: WinogradMode = 'auto';
  /** The forward conv's U per weight storage. */
  private readonly kept = new Map<S, Kept>();
  /** The input gradient's U (flipped, rows and k swapped) per weight storage. */
  private readonly keptT = new Map<S, Kept>();

  constructor(private readonly ctx: WinogradContext<S>) {}

  /** Forgets a storage's transformed weights (it was released or written in place). */
  forget(s: S): void {
    for (const map of [this.kept, this.keptT]) {
      const k = map.get(s);
      if (!k) continue;
      map.delete(s);
      if (k.block) this.ctx.free(k.block);
    }
  }

  /** Bytes held by kept transformed weights. */
  keptBytes(): number {
    let n = 0;
    for (const map of [this.kept, this.keptT]) for (const k of map.values()) n += k.block ? k.block.cap : 0;
    return n;
  }

  /** Whether this conv can run here (3×3, stride 1, dilation 1, non-empty, PyTorch's output size). */
  static eligible(g: WindowGeometry, oc: number): boolean {
    return g.kh === 3 && g.kw === 3 && g.sh === 1 && g.sw === 1 && g.dh === 1 && g.dw === 1 &&
      g.n * g.c * g.oh * g.ow * oc > 0 && g.oh === g.h + 2 * g.ph - 2 && g.ow === g.w + 2 * g.pw - 2 && g.ph >= 0 && g.pw >= 0;
  }

  /**
   * The eval conv with its epilogue as [oc, n·oh·ow], or null where this conv is not for Winograd (mode, shape,
   * non-finite input or weight): the caller then takes the GEMM path. `e` null: the plain conv (training's
   * forward, no scale/shift pass). `fused`: the GEMMs' fused multiply-add kernel (relaxed SIMD only; default:
   * whenever the module is relaxed, as convEpilogue's GEMM path).
   */
  run(x: S, weight: S, g: WindowGeometry, oc: number, e: WinogradEpilogue<S> | null, fused = this.ctx.relaxed()): S | null {
    if (this.mode === 'off' || !WasmWinograd.eligible(g, oc)) return null;
    // Without kept transforms (prepack off) every call transforms the weight again. 'auto' leaves those to the
    // GEMM path.
    if (this.mode === 'auto' && (!winogradWins(g, oc) || !this.ctx.keep())) return null;
    const ctx = this.ctx;
    const { n, c, h, w, ph, pw, oh, ow } = g;
    const keep = ctx.keep();
    const U = this.weights(weight, oc, c, false, keep);
    if (U === null) return null;
    try {
      const shape = { rows: false, n, cin: c, cout: oc, h, w, ph, pw, oh, ow };
      const layout = { so: n * oh * ow, sb: oh * ow };
      if (!e) return this.conv(x, U, shape, fused && ctx.relaxed(), 'wino_out_id', { res: 0, scale: 0, shift: 0, ...layout });
      const [scale, shift] = [ctx.ptr(e.scale), ctx.ptr(e.shift)];
      const res = e.residual ? ctx.ptr(e.residual) : 0;
      return this.conv(x, U, shape, fused && ctx.relaxed(), `wino_out_${e.residual ? 1 : 0}${e.relu ? 1 : 0}`, { res, scale, shift, ...layout });
    } finally {
      if (!keep) ctx.free(U);
    }
  }

  /**
   * The input gradient of the conv y = conv(x, weight) of forward geometry g (x [g.n, g.c, g.h, g.w], weight
   * [oc, g.c, 3, 3]) from dy in channel rows [oc, g.n·g.oh·g.ow] (the conv primitive's layout, Backend's
   * convInputGrad): dx [g.n, g.c, g.h, g.w] (NCHW), as the conv of dy with the flipped, transposed weight and
   * padding (2 − ph, 2 − pw), its transform kept like the forward's (apart). Null where it is not for
   * Winograd (mode and winogradGradWins, shape, padding above 2, NaN or ±∞ in dy or the weight): the caller
   * then takes the GEMM + col2im path. `fused`: the GEMMs' fused multiply-add kernel (relaxed SIMD only; default
   * as run(): whenever the module is relaxed).
   */
  runInputGrad(dy: S, weight: S, g: WindowGeometry, oc: number, fused = this.ctx.relaxed()): S | null {
    if (this.mode === 'off' || !WasmWinograd.eligible(g, oc) || g.ph > 2 || g.pw > 2) return null;
    if (this.mode === 'auto' && !winogradGradWins(g, oc)) return null;
    const ctx = this.ctx;
    const { n, c, h, w, ph, pw, oh, ow } = g;
    const keep = ctx.keep();
    const U = this.weights(weight, oc, c, true, keep);
    if (U === null) return null;
    try {
      return this.conv(dy, U, { rows: true, n, cin: oc, cout: c, h: oh, w: ow, ph: 2 - ph, pw: 2 - pw, oh: h, ow: w }, fused && ctx.relaxed(), 'wino_out_id', { res: 0, scale: 0, shift: 0, so: h * w, sb: c * h * w });
    } finally {
      if (!keep) ctx.free(U);
    }
  }

  /**
   * The weight gradient of the conv y = conv(x, weight) of forward geometry g (x [g.n, g.c, g.h, g.w] NCHW,
   * y [g.n, oc, g.oh, g.ow]) from dy in channel rows [oc, g.n·g.oh·g.ow] (the conv primitive's layout):
   * a fresh dW [oc, g.c, 3, 3]. The forward is linear in the kernel g, so per (o, ch)
   * dW = Gᵀ (Σ_tiles (A dY Aᵀ) ⊙ (Bᵀ d B)) G: 16 GEMMs M'_ξ [oc × c] = Ŷ_ξ [oc × tiles]·V_ξᵀ [tiles × c] summed
   * over the tiles of every image (k = tiles), then the 4×4 → 3×3 transform. Null where it is not for Winograd
   * (mode and winogradWeightGradWins, shape, NaN or ±∞ in dy or x, seen by the transforms' flag sums): the caller
   * then takes the GEMM path (gy·im2col(x)ᵀ), whose non-finite pattern Winograd would not reproduce. `fused`: the
   * GEMMs' fused multiply-add kernel (relaxed SIMD only; default as run(): whenever the module is relaxed).
   */
  runWeightGrad(dy: S, x: S, g: WindowGeometry, oc: number, fused = this.ctx.relaxed()): S | null {
    if (this.mode === 'off' || !WasmWinograd.eligible(g, oc)) return null;
    if (this.mode === 'auto' && !winogradWeightGradWins(g, oc)) return null;
    const ctx = this.ctx;
    const { n, c, h, w, ph, pw, oh, ow } = g;
    const { th, twp, tiles: kt } = winogradTiles(n, oh, ow);
    const mt = Math.ceil(oc / MR);
    const nt = Math.ceil(c / NR);
    const ldc = nt * NR;
    const T = ctx.threads(oc * c * kt >= 1 << 14);
    // The k sum (tiles) in chunks of kb with a partial M' each, added up by wino_dw: one float32 chain over all
    // 784 tiles of 64@56² erred 1.3× the float32 bound f32(n·oh·ow) (test/winograd.test.ts); chunks of 128
    // bring it under 1. At most 16 chunks, and at most 64 MiB of partial M' (512→512: 4 chunks). One cache line
    // past each of the 16 Ŷ_ξ, V_ξ and M'_ξ (see uStride).
    const as = mt * MR * kt * 4 + 64;
    const vs = nt * NR * kt * 4 + 64;
    const ms = mt * MR * ldc * 4 + 64;
    const cs = 16 * ms;
    const chunks = Math.max(1, Math.min(WGRAD_CHUNKS, Math.ceil(kt / WGRAD_KB), Math.floor(WGRAD_M_BYTES / cs)));
    const kb = Math.ceil(kt / chunks / 4) * 4;
    const nc = Math.ceil(kt / kb);
    const { take, free } = this.scratch();
    try {
      // dy staged with zeros past oh × ow (partial and row-padding tiles), then Ŷ_ξ as packed A (rows oc, k = tiles).
      const [dh, dw] = [2 * th, 2 * twp];
      const D = take(n * oc * dh * dw * 4);
      ctx.par('wino_pad', splitRange(n * oc, T).map(([p0, p1]) => ({ x: ctx.ptr(dy), dst: D.ptr, c: oc, xb: oh * ow, xc: n * oh * ow, h: oh, w: ow, ph: 0, pw: 0, hp: dh, wp: dw, p0, p1 })));
      const Y = take(16 * as);
      const orows = splitRange(mt * MR, T);
      const rows = splitRange(n * th, T);
      const F = take(16 * (orows.length + rows.length));
      ctx.par('wino_dy', orows.map(([o0, o1], i) => ({ src: D.ptr, dst: Y.ptr, n, oc, rows: mt * MR, kt, kb, th, twp, hp: dh, wp: dw, as, flag: F.ptr + 16 * i, o0, o1 })));
      // x staged with its zero border as the forward does, then V_ξ as packed B (k = tiles, columns c).
      const [hp, wp] = [2 * th + 2, 2 * twp + 4];
      const P = take(n * c * hp * wp * 4);
      ctx.par('wino_pad', splitRange(n * c, T).map(([p0, p1]) => ({ x: ctx.ptr(x), dst: P.ptr, c, xb: c * h * w, xc: h * w, h, w, ph, pw, hp, wp, p0, p1 })));
      const V = take(16 * vs);
      ctx.par('wino_in_t', rows.map(([r0, r1], i) => ({ src: P.ptr, dst: V.ptr, c, kt, kb, th, twp, hp, wp, vs, flag: F.ptr + 16 * (orows.length + i), r0, r1 })));
      if (!finiteFlags(ctx.f32(), F.ptr, orows.length + rows.length)) return null;
      const M = take(nc * cs);
      // Pieces as conv(): per chunk and ξ, A in row blocks of at most A_BLOCK bytes, all of B's columns per piece.
      const itBlock = Math.max(1, Math.floor(A_BLOCK / (kb * MR * 4)));
      const pieces: KernelArgs<'gemm'>[] = [];
      for (let j = 0; j < nc; j++) {
        const kk = Math.min(kb, kt - j * kb);
        for (let xi = 0; xi < 16; xi++)
          for (let it0 = 0; it0 < mt; it0 += itBlock)
            pieces.push({ pa: Y.ptr + xi * as + j * kb * mt * MR * 4, pb: V.ptr + xi * vs + j * kb * ldc * 4, pc: M.ptr + j * cs + xi * ms, k: kk, ldc, kc: KC, it0, it1: Math.min(mt, it0 + itBlock), jt0: 0, jt1: nt });
      }
      const kernel = fused && ctx.relaxed() ? 'gemm_fma' : 'gemm';
      this.gemms(kernel, pieces);
      const out = ctx.alloc(oc * c * 9);
      ctx.par('wino_dw', splitRange(oc, T).map(([o0, o1]) => ({ m: M.ptr, ms, chunks: nc, cs, ldc, out: ctx.ptr(out), c, o0, o1 })));
      return out;
    } finally {
      free();
    }
  }

  /** Scratch blocks for one call: `take` allocates, `free` returns them all (in a finally). */
  private scratch(): { take(bytes: number): Block; free(): void } {
    const blocks: Block[] = [];
    return {
      take: (bytes) => {
        const b = this.ctx.block(bytes);
        blocks.push(b);
        return b;
      },
      free: () => blocks.forEach((b) => this.ctx.free(b)),
    };
  }

  /** GEMM pieces in batches within the pool's piece limit; threads claim pieces as they free up. */
  private gemms(kernel: 'gemm' | 'gemm_fma', pieces: KernelArgs<'gemm'>[]): void {
    for (let i = 0; i < pieces.length; i += MAX_PIECES) this.ctx.par(kernel, pieces.slice(i, i + MAX_PIECES));
  }

  /**
   * The pipeline both directions share: stage x with its zero border (wino_pad), transform it into 16 packed B
   * operands (wino_in; null if it held NaN or ±∞), 16 GEMMs U_ξ·V_ξ, then the output transform `out` with its
   * epilogue and layout arguments.
   */
  private conv(x: S, U: Block, s: ConvShape, fused: boolean, out: WinoOutKernel | 'wino_out_id', o: { res: number; scale: number; shift: number; so: number; sb: number }): S | null {
    const ctx = this.ctx;
    const { n, cin: c, cout: oc, h, w, ph, pw, oh, ow } = s;
    const { th, twp, tiles } = winogradTiles(n, oh, ow);
    const mt = Math.ceil(oc / MR);
    const nt = Math.ceil(tiles / NR);
    const ldc = nt * NR;
    const [hp, wp] = [2 * th + 2, 2 * twp + 4];
    const T = ctx.threads(oc * c * tiles >= 1 << 14);
    const R = this.banding === 'off' ? 0 : bandRows(s, T, this.banding === 'on');
    if (R > 0) return this.banded(x, U, s, R, fused, out, o);
    // One cache line past each V_ξ and M_ξ, as uStride: wino_in writes and wino_out reads 16 streams at once.
    const vs = nt * NR * c * 4 + 64;
    const ms = mt * MR * ldc * 4 + 64;
    const { take, free } = this.scratch();
    try {
      const P = take(n * c * hp * wp * 4);
      const V = take(16 * vs);
      const F = take(64 * 16);
      const [xb, xc] = s.rows ? [h * w, n * h * w] : [c * h * w, h * w];
      ctx.par('wino_pad', splitRange(n * c, T).map(([p0, p1]) => ({ x: ctx.ptr(x), dst: P.ptr, c, xb, xc, h, w, ph, pw, hp, wp, p0, p1 })));
      const rows = splitRange(n * th, T);
      ctx.par('wino_in', rows.map(([r0, r1], i) => ({ src: P.ptr, dst: V.ptr, c, th, twp, hp, wp, vs, flag: F.ptr + 16 * i, r0, r1 })));
      if (!finiteFlags(ctx.f32(), F.ptr, rows.length)) return null;
      const M = take(16 * ms);
      // Pieces: each GEMM's A (U_ξ) in row blocks of at most A_BLOCK bytes, all of B's columns per piece: the
      // micro-kernel sweeps A once per column panel, so a block small enough to stay in L2 is read from memory
      // once, not once per panel (layer4: U_ξ is 1 MiB and there are 2 panels). Threads claim pieces as they
      // free up; batches stay within the pool's piece limit.
      const itBlock = Math.max(1, Math.floor(A_BLOCK / (c * MR * 4)));
      const pieces: KernelArgs<'gemm'>[] = [];
      for (let xi = 0; xi < 16; xi++)
        for (let it0 = 0; it0 < mt; it0 += itBlock)
          pieces.push({ pa: U.ptr + xi * uStride(oc, c), pb: V.ptr + xi * vs, pc: M.ptr + xi * ms, k: c, ldc, kc: KC, it0, it1: Math.min(mt, it0 + itBlock), jt0: 0, jt1: nt });
      const kernel = fused ? 'gemm_fma' : 'gemm';
      this.gemms(kernel, pieces);
      const y = ctx.alloc(oc * n * oh * ow);
      ctx.par(out, splitRange(oc, T).map(([o0, o1]) => ({ m: M.ptr, ms, ldc, out: ctx.ptr(y), ...o, n, oh, ow, th, twp, o0, o1 })));
      return y;
    } finally {
      free();
    }
  }

  /**
   * conv() in bands of R tile rows (bandRows), each a piece that one thread takes from staging to output
   * (wino_band_*): its staged rows, V and M are its own scratch, so they stay in that core's cache and never pass
   * to the other thread. The same arithmetic as conv()'s, so the same result bit for bit.
   */
  private banded(x: S, U: Block, s: ConvShape, R: number, fused: boolean, out: WinoOutKernel | 'wino_out_id', o: { res: number; scale: number; shift: number; so: number; sb: number }): S | null {
    const ctx = this.ctx;
    const { n, cin: c, cout: oc, h, w, ph, pw, oh, ow } = s;
    const { th, twp } = winogradTiles(n, oh, ow);
    const wp = 2 * twp + 4;
    const mt = Math.ceil(oc / MR);
    const ntMax = Math.ceil((R * twp) / NR);
    const line = (b: number): number => Math.ceil(b / 64) * 64;
    const [pBytes, vBytes, mBytes] = [line(c * (2 * R + 2) * wp * 4), line(16 * (ntMax * NR * c * 4 + 64)), line(16 * (mt * MR * ntMax * NR * 4 + 64))];
    const per = pBytes + vBytes + mBytes;
    const [xb, xc] = s.rows ? [h * w, n * h * w] : [c * h * w, h * w];
    const bands: [number, number, number][] = [];
    for (let b0 = 0; b0 < n; b0++) for (let ty0 = 0; ty0 < th; ty0 += R) bands.push([b0, ty0, Math.min(th, ty0 + R)]);
    const name: WinoBandKernel = `wino_band${fused ? 'f' : ''}_${out === 'wino_out_id' ? 'id' : (out.slice(-2) as '00' | '01' | '10' | '11')}`;
    const y = ctx.alloc(oc * n * oh * ow);
    const py = ctx.ptr(y);
    const { take, free } = this.scratch();
    let finite = true;
    try {
      for (let i0 = 0; i0 < bands.length && finite; i0 += MAX_PIECES) {
        const batch = bands.slice(i0, i0 + MAX_PIECES);
        const S0 = take(per * batch.length).ptr;
        const F = take(16 * batch.length).ptr;
        ctx.par(name, batch.map(([b0, ty0, ty1], i) => {
          const at = (b0 * o.sb + 2 * ty0 * ow) * 4;
          const p = S0 + i * per;
          return { x: ctx.ptr(x), p, v: p + pBytes, m: p + pBytes + vBytes, u: U.ptr, out: py + at, res: o.res ? o.res + at : 0, scale: o.scale, shift: o.shift, c, oc, xb, xc, h, w, ph: ph - 2 * ty0, pw, p0: b0 * c, th: ty1 - ty0, twp, nt: Math.ceil(((ty1 - ty0) * twp) / NR), oh: oh - 2 * ty0, ow, so: o.so, sb: o.sb, flag: F + 16 * i };
        }));
        finite = finiteFlags(ctx.f32(), F, batch.length);
      }
    } finally {
      free();
    }
    if (finite) return y;
    ctx.release(y);
    return null;
  }

  /**
   * The 16 packed U_ξ of `weight` ([oc, c, 3, 3]) as the forward conv's A operands (rows oc, k = c), or
   * `flipped`: the input gradient's (rows c, k = oc, each kernel rotated 180°); kept when `keep`; null when a
   * U is not finite. One wasm pass (wino_w / wino_wt) split by row groups over threads.
   */
  private weights(weight: S, oc: number, c: number, flipped: boolean, keep: boolean): Block | null {
    const map = flipped ? this.keptT : this.kept;
    const key = `${oc}:${c}:${this.ctx.ptr(weight)}`;
    const k = map.get(weight);
    if (k && k.key === key) return k.block;
    if (k) this.forget(weight);
    const b = this.transform(weight, oc, c, flipped);
    if (keep) map.set(weight, { key, block: b });
    return b;
  }

  /** The packed U_ξ of `weight` in a new block (see weights), or null (freed) when one is not finite; public for tests and bench/winograd.ts. */
  transform(weight: S, oc: number, c: number, flipped: boolean): Block | null {
    const ctx = this.ctx;
    const [rows, k] = flipped ? [c, oc] : [oc, c];
    const mt = Math.ceil(rows / MR);
    const per = uStride(rows, k);
    const b = ctx.block(16 * per);
    const parts = splitRange(mt, ctx.threads(rows * k >= 1 << 14));
    const F = ctx.block(16 * parts.length);
    const [sr, sq] = flipped ? [36, 36 * c] : [36 * c, 36];
    ctx.par(flipped ? 'wino_wt' : 'wino_w', parts.map(([a0, a1], i) => ({ src: ctx.ptr(weight), dst: b.ptr, rows, k, sr, sq, per, flag: F.ptr + 16 * i, a0, a1 })));
    const finite = finiteFlags(ctx.f32(), F.ptr, parts.length);
    ctx.free(F);
    if (finite) return b;
    ctx.free(b);
    return null;
  }
}

/** Scratch per band (staged rows, V and M) that still leaves room in a core's L2 (2 MiB here) for U and the output. */
const BAND_BYTES = 768 * 1024;
/** Bands only where all 16 U_ξ fit beside a band in L2: every band's GEMMs read all of U. */
const BAND_U_BYTES = 1024 * 1024 + 16 * 64;

/**
 * Tile rows per band for conv() on T threads, or 0 for no bands. 'auto' bands only on 2 threads or more, and only
 * where the 16 U_ξ take at most BAND_U_BYTES: bands save the threads passing V and M to each other, which costs most
 * when the two cores share no cache (bench/winograd.ts --mode band, bench/RESULTS.md: 64@56² 1.24–1.49× and 128@28²
 * 1.19–1.32× as fast on 2 threads then, 0.98–1.03× otherwise; 256@14², whose U is 4 MiB, 0.9×); one thread has
 * nothing to save and pays for the rows a band stages twice (0.96–0.99×).
 * `always` bands every shape. Among band heights whose scratch fits BAND_BYTES (at least one row), it takes the
 * one that best keeps the GEMM's 8-tile column panels full and the bands evenly shared among threads, the higher
 * one on ties (fewer rows staged twice: a band stages the 2 rows it shares with the next).
 */
export function bandRows(s: { n: number; cin: number; cout: number; oh: number; ow: number }, T: number, always = false): number {
  const { n, cin: c, cout: oc, oh, ow } = s;
  if (!always && (T < 2 || 16 * uStride(oc, c) > BAND_U_BYTES)) return 0;
  const { th, twp } = winogradTiles(n, oh, ow);
  const wp = 2 * twp + 4;
  const perRow = c * 2 * wp * 4 + 16 * twp * c * 4 + 16 * Math.ceil(oc / MR) * MR * twp * 4;
  const most = Math.max(1, Math.min(th, Math.floor(BAND_BYTES / perRow)));
  let best = 1;
  let bestScore = -1;
  for (let R = 1; R <= most; R++) {
    const full = (R * twp) / (Math.ceil((R * twp) / NR) * NR);
    const pieces = n * Math.ceil(th / R);
    const even = pieces / (Math.ceil(pieces / T) * T);
    const score = full * even;
    if (score >= bestScore - 1e-9) [best, bestScore] = [R, score];
  }
  return best;
}

/**
 * Bytes from one packed U_ξ to the next for `rows` × k: its panels plus one cache line, so that the 16 streams
 * wino_w writes at once (and a GEMM's neighbours) do not all map to the same cache set when the size is a
 * multiple of 4 KiB.
 */
export function uStride(rows: number, k: number): number {
  return Math.ceil(rows / MR) * MR * k * 4 + 64;
}

/** Whether the `pieces` flag f32x4s at byte address `at` (sums of what a transform wrote) are all finite. */
function finiteFlags(f: Float32Array, at: number, pieces: number): boolean {
  for (let i = 0; i < pieces * 4; i++) if (!Number.isFinite(f[(at >>> 2) + i])) return false;
  return true;
}
