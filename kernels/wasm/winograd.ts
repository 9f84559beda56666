// Winograd F(2×2, 3×3) kernels for stride-1, dilation-1 3×3 convolutions (the wasm backend's eval conv and the
// training input gradient, driven by src/backends/wasm-winograd.ts): each 2×2 output tile costs 16 multiplies per
// (oc, c) pair instead of 36. The weight transform (wino_w, wino_wt) writes U straight as packed GEMM A panels.
// The image is first copied into a zero-bordered staging buffer (wino_pad) so the input transform reads every
// 4×4 tile without bounds checks; the input transform (wino_in, V = Bᵀ d B) writes the 16 transformed planes
// straight in the GEMM's packed-B panel layout ([tile/8][c][8], kernels/wasm/gemm.ts), so the 16 GEMMs
// M_ξ = U_ξ·V_ξ run on the existing micro-kernel without a packing pass; the output transform (wino_out_*,
// Y = Aᵀ M A) applies the conv epilogue (·scale + shift, + residual, ReLU) as kernels/wasm/elementwise.ts's
// epi_* does, in the same order, and writes [oc, n·oh·ow], cropping partial tiles. The weight gradient's kernels:
// wino_dy (Ŷ = A dY Aᵀ, the output transform's adjoint), wino_in_t (V with the tiles as the GEMM's k) and wino_dw
// (dW = Gᵀ M' G, the weight transform's adjoint).
// Tiles are numbered t = (b·tH + ty)·tWp + tx, with the tile row padded to tWp (a multiple of 4) so that every
// SIMD lane group of 4 tiles lies in one tile row; the padding tiles read zeros and are never written out.
import { family, funcOf, signature } from './abi.js';
import { F32, Func, I32, V128, type ModuleBuilder } from './emit.js';
import { KC, MR, NR } from './gemm.js';

const v128s = (f: Func, n: number): number[] => Array.from({ length: n }, () => f.local(V128));

/** 4×4 transpose of the f32x4 locals x0..x3 into out0..out3 (lane l of out_j = element j of x_l), through 4 scratch locals t. */
function transpose4(f: Func, x: readonly number[], t: readonly number[], out: readonly number[]): void {
  f.get(x[0]).get(x[1]).f32x4Shuffle(0, 4, 1, 5).set(t[0]);
  f.get(x[0]).get(x[1]).f32x4Shuffle(2, 6, 3, 7).set(t[1]);
  f.get(x[2]).get(x[3]).f32x4Shuffle(0, 4, 1, 5).set(t[2]);
  f.get(x[2]).get(x[3]).f32x4Shuffle(2, 6, 3, 7).set(t[3]);
  f.get(t[0]).get(t[2]).f32x4Shuffle(0, 1, 4, 5).set(out[0]);
  f.get(t[0]).get(t[2]).f32x4Shuffle(2, 3, 6, 7).set(out[1]);
  f.get(t[1]).get(t[3]).f32x4Shuffle(0, 1, 4, 5).set(out[2]);
  f.get(t[1]).get(t[3]).f32x4Shuffle(2, 3, 6, 7).set(out[3]);
}

/**
 * wino_pad: planes p0..p1 (p = b·c + ch) into dst [planes, hp, wp], image at row ph and column pw, zero
 * elsewhere (wp a multiple of 4). Plane (b, ch) of the source is the h × w image at x + (b·xb + ch·xc) floats:
 * NCHW (xb = c·h·w, xc = h·w) or channel rows [c, n, h, w] (xb = h·w, xc = n·h·w).
 */
export const WINO_PAD = signature(['x', 'dst', 'c', 'xb', 'xc', 'h', 'w', 'ph', 'pw', 'hp', 'wp', 'p0', 'p1']);
function pad(): Func {
  const { f, p: { x, dst, c, xb, xc, h, w, ph, pw, hp, wp, p0, p1 } } = funcOf(WINO_PAD);
  const p = f.local(I32), r = f.local(I32), i = f.local(I32), d = f.local(I32), s = f.local(I32), iy = f.local(I32), w4 = f.local(I32), wp4 = f.local(I32), b = f.local(I32), xs = f.local(I32);
  f.get(w).i32(-4).i32And().set(w4);
  f.get(wp).i32(4).i32Mul().set(wp4);
  f.get(dst).get(p0).get(hp).i32Mul().get(wp4).i32Mul().i32Add().set(d);
  f.forLoop(p, () => f.get(p0), () => f.get(p1), 1, () => {
    // xs = x + (b·xb + ch·xc)·4, b = p / c, ch = p − b·c
    f.get(p).get(c).i32DivS().set(b);
    f.get(x).get(b).get(xb).i32Mul().get(p).get(b).get(c).i32Mul().i32Sub().get(xc).i32Mul().i32Add().i32(4).i32Mul().i32Add().set(xs);
    f.forLoop(r, () => f.i32(0), () => f.get(hp), 1, () => {
      f.forLoop(i, () => f.i32(0), () => f.get(wp4), 16, () => void f.get(d).get(i).i32Add().v128Zero().v128Store());
      f.get(r).get(ph).i32Sub().tee(iy).get(h).i32LtU().if_();
      f.get(xs).get(iy).get(w).i32Mul().i32(4).i32Mul().i32Add().set(s);
      // dst row + pw floats; the row is wide enough for the image (wp ≥ w + pw, see the driver)
      f.forLoop(i, () => f.i32(0), () => f.get(w4), 4, () => {
        f.get(d).get(pw).get(i).i32Add().i32(4).i32Mul().i32Add();
        f.get(s).get(i).i32(4).i32Mul().i32Add().v128Load().v128Store();
      });
      f.forLoop(i, () => f.get(w4), () => f.get(w), 1, () => {
        f.get(d).get(pw).get(i).i32Add().i32(4).i32Mul().i32Add();
        f.get(s).get(i).i32(4).i32Mul().i32Add().f32Load().f32Store();
      });
      f.end();
      f.get(d).get(wp4).i32Add().set(d);
    });
  });
  return f;
}

/**
 * wino_in: V = Bᵀ d B for tile rows r0..r1 (r = b·th + ty) of the staged image src [n·c, hp, wp], 4 tiles per
 * f32x4, into 16 packed-B matrices at dst + ξ·vs bytes (ξ = 4i + j), element (ch, t) at ((t>>3)·c + ch)·8 + (t&7).
 * Channels innermost: consecutive stores of each matrix are adjacent (32 bytes apart), so its cache lines are
 * written whole (a plane at a time wrote each line in four visits far apart: 2× slower at 64 channels).
 * Adds every V it writes into the f32x4 at `flag` (overwritten): non-finite there when any input was.
 */
export const WINO_IN = signature(['src', 'dst', 'c', 'th', 'twp', 'hp', 'wp', 'vs', 'flag', 'r0', 'r1']);
/**
 * wino_in_t: the same V for the weight gradient's GEMMs M'_ξ = Ŷ_ξ·V_ξᵀ, where tiles are the k dimension: V_ξ
 * written as packed B with k = tiles and columns = channels (ldc = c rounded up to 8), in chunks of kb tiles
 * (the last one kt − j·kb), each chunk a packed B of its own: element (t, ch), j = t / kb, kk the chunk's size,
 * at float j·kb·ldc + ((ch>>3)·kk + t − j·kb)·8 + (ch&7) (lane l of a group: tile t + l, 32 bytes on; kb is a
 * multiple of 4, so a group lies in one chunk). Columns c..ldc are written zero.
 */
export const WINO_IN_T = signature(['src', 'dst', 'c', 'kt', 'kb', 'th', 'twp', 'hp', 'wp', 'vs', 'flag', 'r0', 'r1']);
function inputTransform(transposed = false): Func {
  const fwd = funcOf(WINO_IN);
  const { f, p: { src, dst, c, kt, kb, th, twp, hp, wp, vs, flag, r0, r1 } } = transposed ? funcOf(WINO_IN_T) : { f: fwd.f, p: { ...fwd.p, kt: -1, kb: -1 } };
  const rr = f.local(I32), b = f.local(I32), ch = f.local(I32), ty = f.local(I32), tx = f.local(I32), row = f.local(I32), t = f.local(I32), o = f.local(I32), wp4 = f.local(I32), plane = f.local(I32), ob = f.local(I32);
  const a0 = f.local(V128), a1 = f.local(V128), a2 = f.local(V128), acc = f.local(V128);
  const d = v128s(f, 4);
  const e = Array.from({ length: 4 }, () => v128s(f, 4));
  const j = transposed ? f.local(I32) : -1, kk = transposed ? f.local(I32) : -1;
  // o = ob + ((ch>>3)·kk·8 + (ch&7))·4 (transposed)
  const colOffset = (ch: number): void => void f.get(ob).get(ch).i32(NR).i32DivS().get(kk).i32Mul().i32(NR).i32Mul().get(ch).i32(7).i32And().i32Add().i32(4).i32Mul().i32Add().set(o);
  f.get(wp).i32(4).i32Mul().set(wp4);
  f.get(hp).get(wp4).i32Mul().set(plane); // bytes per staged plane
  f.v128Zero().set(acc);
  f.forLoop(rr, () => f.get(r0), () => f.get(r1), 1, () => {
    f.get(rr).get(th).i32DivS().set(b);
    f.get(rr).get(b).get(th).i32Mul().i32Sub().set(ty);
    f.forLoop(tx, () => f.i32(0), () => f.get(twp), 4, () => {
      f.get(rr).get(twp).i32Mul().get(tx).i32Add().set(t);
      // Forward: ob = dst + ((t>>3)·c·8 + (t&7))·4, then + 32 bytes per channel. Transposed: ob = dst + t·32,
      // then + ((ch>>3)·kt·8 + (ch&7))·4 per channel.
      if (transposed) {
        // j = t / kb, kk = min(kb, kt − j·kb), t −= j·kb; ob = dst + (j·kb·ldc + t·8)·4, ldc = (c + 7) & −8
        f.get(t).get(kb).i32DivS().set(j);
        f.get(t).get(j).get(kb).i32Mul().i32Sub().set(t);
        f.get(kt).get(j).get(kb).i32Mul().i32Sub().tee(kk).get(kb).get(kk).get(kb).i32LtS().select().set(kk);
        f.get(dst).get(j).get(kb).i32Mul().get(c).i32(NR - 1).i32Add().i32(-NR).i32And().i32Mul().i32(4).i32Mul().i32Add();
        f.get(t).i32(NR * 4).i32Mul().i32Add().set(ob);
      }
      else f.get(dst).get(t).i32(NR).i32DivS().get(c).i32Mul().i32(NR).i32Mul().get(t).i32(7).i32And().i32Add().i32(4).i32Mul().i32Add().set(ob);
      f.forLoop(ch, () => f.i32(0), () => f.get(c), 1, () => {
        // row = src + (((b·c + ch)·hp + 2ty)·wp + 2tx)·4
        f.get(src).get(b).get(c).i32Mul().get(ch).i32Add().get(plane).i32Mul().i32Add().get(ty).i32(2).i32Mul().get(wp4).i32Mul().i32Add().get(tx).i32(8).i32Mul().i32Add().set(row);
        for (let r = 0; r < 4; r++) {
          // Lane l of d[s] is pixel (r, 2l + s) of this row: tile tx + l's column s.
          f.get(row).v128Load(0).set(a0);
          f.get(row).v128Load(16).set(a1);
          f.get(row).v128Load(32).set(a2);
          f.get(a0).get(a1).f32x4Shuffle(0, 2, 4, 6).set(d[0]);
          f.get(a0).get(a1).f32x4Shuffle(1, 3, 5, 7).set(d[1]);
          f.get(d[0]).get(a2).f32x4Shuffle(1, 2, 3, 4).set(d[2]);
          f.get(d[1]).get(a2).f32x4Shuffle(1, 2, 3, 5).set(d[3]);
          // Along the row: (d0 − d2, d1 + d2, d2 − d1, d1 − d3).
          f.get(d[0]).get(d[2]).f32x4Sub().set(e[r][0]);
          f.get(d[1]).get(d[2]).f32x4Add().set(e[r][1]);
          f.get(d[2]).get(d[1]).f32x4Sub().set(e[r][2]);
          f.get(d[1]).get(d[3]).f32x4Sub().set(e[r][3]);
          if (r < 3) f.get(row).get(wp4).i32Add().set(row);
        }
        if (transposed) colOffset(ch);
        else f.get(ob).get(ch).i32(NR * 4).i32Mul().i32Add().set(o);
        const col: [number, number, 'add' | 'sub'][] = [[0, 2, 'sub'], [1, 2, 'add'], [2, 1, 'sub'], [1, 3, 'sub']];
        for (let i = 0; i < 4; i++) {
          const [u, v, op] = col[i];
          for (let j = 0; j < 4; j++) {
            if (!transposed) f.get(o);
            f.get(e[u][j]).get(e[v][j]);
            if (op === 'add') f.f32x4Add();
            else f.f32x4Sub();
            if (transposed) {
              // The 4 tiles' values go 32 bytes apart (one per tile row of the panel).
              f.set(a0);
              for (let l = 0; l < 4; l++) f.get(o).get(a0).f32x4ExtractLane(l).f32Store(NR * 4 * l);
            } else f.tee(a0).v128Store();
            f.get(acc).get(a0).f32x4Add().set(acc);
            if (4 * i + j < 15) f.get(o).get(vs).i32Add().set(o);
          }
        }
      });
      if (transposed) {
        // Columns past c up to the panel's 8: zero, so the GEMM reads no stale floats there.
        f.forLoop(ch, () => f.get(c), () => f.get(c).i32(NR - 1).i32Add().i32(-NR).i32And(), 1, () => {
          colOffset(ch);
          for (let xi = 0; xi < 16; xi++) {
            for (let l = 0; l < 4; l++) f.get(o).f32(0).f32Store(NR * 4 * l);
            if (xi < 15) f.get(o).get(vs).i32Add().set(o);
          }
        });
      }
    });
  });
  f.get(flag).get(acc).v128Store();
  return f;
}

/**
 * wino_w / wino_wt: the weight transform U = G g Gᵀ (G's rows (1, 0, 0), (½, ½, ½), (½, −½, ½), (0, 0, 1)) of
 * every 3×3 kernel g of a weight [oc, c, 3, 3], written as 16 packed GEMM A operands (kernels/wasm/gemm.ts's
 * [row/4][k][4] panels): U_ξ's element (row, q) at dst + ξ·per + ((row>>2)·k + q)·16 + (row&3)·4 bytes, for
 * row groups a0..a1 (rows 4a..4a+3), rows ≥ `rows` zero. Kernel (row, q) is read at src + row·sr + q·sq bytes:
 * wino_w takes rows = oc, k = c (sr = 36c, sq = 36): the forward conv's U. wino_wt takes rows = c, k = oc
 * (sr = 36, sq = 36c), and writes U of the spatially flipped kernel: the input gradient's conv, whose weight is
 * W'[ch, o] = flip(W[o, ch]), without materialising W'. Flipping g is G·J = P·G with P swapping rows 0 and 3,
 * so U(flip g)_{i,j} = U(g)_{p(i),p(j)}, p = (3, 1, 2, 0): a permutation of where each U_ξ is stored.
 * Lanes are the 4 rows of a group (one f32x4 store per U_ξ); the 4 kernels are loaded whole and transposed.
 * In float32 (up to 3 roundings per value). Adds every U it writes into the f32x4 at `flag` (overwritten):
 * non-finite there when any U is NaN or ±∞ (a weight entry was, or a sum overflowed).
 */
export const WINO_W = signature(['src', 'dst', 'rows', 'k', 'sr', 'sq', 'per', 'flag', 'a0', 'a1']);
function weightTransform(flipped: boolean): Func {
  const { f, p: { src, dst, rows, k, sr, sq, per, flag, a0, a1 } } = funcOf(WINO_W);
  const a = f.local(I32), q = f.local(I32), o = f.local(I32), d = f.local(I32), partial = f.local(I32), r = f.local(I32);
  const ptr = Array.from({ length: 4 }, () => f.local(I32));
  const mask = f.local(V128), acc = f.local(V128);
  const A = v128s(f, 4), B = v128s(f, 4), C = v128s(f, 4), t = v128s(f, 4);
  const e = v128s(f, 9);
  const T = Array.from({ length: 4 }, () => v128s(f, 3));
  const U = v128s(f, 16);
  const half = f.local(V128), s = f.local(V128);
  f.f32(0.5).f32x4Splat().set(half);
  f.v128Zero().set(acc);
  const transpose = (x: number[], out: number[]): void => transpose4(f, x, t, out);
  f.forLoop(a, () => f.get(a0), () => f.get(a1), 1, () => {
    // Lane l reads row min(4a + l, rows − 1): rows past the end repeat the last one and are masked to zero.
    for (let l = 0; l < 4; l++) {
      f.get(a).i32(4).i32Mul().i32(l).i32Add().tee(r).get(rows).i32(-1).i32Add().get(r).get(rows).i32LtS().select();
      f.get(sr).i32Mul().get(src).i32Add().set(ptr[l]);
    }
    f.get(a).i32(4).i32Mul().i32(4).i32Add().get(rows).i32GtS().tee(partial).if_();
    f.get(rows).get(a).i32(4).i32Mul().i32Sub().tee(r).i32(1).i32Eq().if_();
    f.i32x4Const(-1, 0, 0, 0).set(mask);
    f.else_();
    f.get(r).i32(2).i32Eq().if_();
    f.i32x4Const(-1, -1, 0, 0).set(mask);
    f.else_();
    f.i32x4Const(-1, -1, -1, 0).set(mask);
    f.end();
    f.end();
    f.end();
    f.get(dst).get(a).get(k).i32Mul().i32(16).i32Mul().i32Add().set(o);
    f.forLoop(q, () => f.i32(0), () => f.get(k), 1, () => {
      for (let l = 0; l < 4; l++) {
        f.get(ptr[l]).v128Load(0).set(A[l]);
        f.get(ptr[l]).v128Load(16).set(B[l]);
        f.get(ptr[l]).v128Load32Splat(32).set(C[l]);
        f.get(ptr[l]).get(sq).i32Add().set(ptr[l]);
      }
      transpose(A, e.slice(0, 4));
      transpose(B, e.slice(4, 8));
      f.get(C[0]).get(C[1]).f32x4Shuffle(0, 4, 0, 4).set(t[0]);
      f.get(C[2]).get(C[3]).f32x4Shuffle(0, 4, 0, 4).set(t[1]);
      f.get(t[0]).get(t[1]).f32x4Shuffle(0, 1, 4, 5).set(e[8]);
      // T = G·g column by column (g's row r, column j is e[3r + j]), then U = T·Gᵀ row by row.
      const gg = (x: number, m: number, z: number, out: number[]): void => {
        f.get(x).get(z).f32x4Add().set(s);
        f.get(x).set(out[0]);
        f.get(s).get(m).f32x4Add().get(half).f32x4Mul().set(out[1]);
        f.get(s).get(m).f32x4Sub().get(half).f32x4Mul().set(out[2]);
        f.get(z).set(out[3]);
      };
      for (let j = 0; j < 3; j++) gg(e[j], e[3 + j], e[6 + j], [T[0][j], T[1][j], T[2][j], T[3][j]]);
      for (let i = 0; i < 4; i++) gg(T[i][0], T[i][1], T[i][2], U.slice(4 * i, 4 * i + 4));
      f.get(partial).if_();
      for (const u of U) f.get(u).get(mask).v128And().set(u);
      f.end();
      f.get(o).set(d);
      const p = [3, 1, 2, 0];
      for (let xi = 0; xi < 16; xi++) {
        const [i, j] = [xi >> 2, xi & 3];
        const u = flipped ? U[4 * p[i] + p[j]] : U[xi];
        f.get(d).get(u).v128Store();
        f.get(acc).get(u).f32x4Add().set(acc);
        if (xi < 15) f.get(d).get(per).i32Add().set(d);
      }
      f.get(o).i32(16).i32Add().set(o);
    });
  });
  f.get(flag).get(acc).v128Store();
  return f;
}

/**
 * wino_out_<res><relu>: Y = Aᵀ M A for output channels o0..o1 from the 16 GEMM results at m + ξ·ms bytes
 * ([oc rows, ldc] each, column t = tile), then y·scale[o] + shift[o] (+ res) (ReLU) into out, pixel (o, b, oy, ox)
 * at float o·so + b·sb + oy·ow + ox (so = n·oh·ow, sb = oh·ow: [oc, n, oh, ow]; so = oh·ow, sb = oc·oh·ow: NCHW),
 * res likewise: the epi_* kernel's operations in its order, so results match the GEMM path's epilogue bit for bit
 * given M. wino_out_id: Y alone (scale, shift and res unused), for the input gradient.
 */
export const WINO_OUT = signature(['m', 'ms', 'ldc', 'out', 'res', 'scale', 'shift', 'n', 'oh', 'ow', 'th', 'twp', 'so', 'sb', 'o0', 'o1']);
function outputTransform(residual: boolean, relu: boolean, epilogue = true): Func {
  const { f, p: { m, ms, ldc, out, res, scale, shift, n, oh, ow, th, twp, so, sb, o0, o1 } } = funcOf(WINO_OUT);
  const o = f.local(I32), b = f.local(I32), ty = f.local(I32), tx = f.local(I32), mp = f.local(I32), dst = f.local(I32), rp = f.local(I32), oy = f.local(I32), ox = f.local(I32), i = f.local(I32);
  const sv = f.local(V128), bv = f.local(V128), lo = f.local(V128), hi = f.local(V128), z = f.local(F32);
  const q = v128s(f, 16);
  const s = Array.from({ length: 4 }, () => v128s(f, 2));
  const y = Array.from({ length: 2 }, () => v128s(f, 2));
  f.forLoop(o, () => f.get(o0), () => f.get(o1), 1, () => {
    if (epilogue) {
      f.get(scale).get(o).i32(4).i32Mul().i32Add().v128Load32Splat().set(sv);
      f.get(shift).get(o).i32(4).i32Mul().i32Add().v128Load32Splat().set(bv);
    }
    f.forLoop(b, () => f.i32(0), () => f.get(n), 1, () => {
      f.forLoop(ty, () => f.i32(0), () => f.get(th), 1, () => {
        f.forLoop(tx, () => f.i32(0), () => f.get(twp), 4, () => {
          // mp = m + (o·ldc + t)·4, t = (b·th + ty)·twp + tx
          f.get(m).get(o).get(ldc).i32Mul().get(b).get(th).i32Mul().get(ty).i32Add().get(twp).i32Mul().i32Add().get(tx).i32Add().i32(4).i32Mul().i32Add().set(mp);
          for (let k = 0; k < 16; k++) {
            f.get(mp).v128Load().set(q[k]);
            if (k < 15) f.get(mp).get(ms).i32Add().set(mp);
          }
          // Along each row r: (m0 + m1 + m2, m1 − m2 − m3); then down the columns the same.
          for (let r = 0; r < 4; r++) {
            f.get(q[4 * r]).get(q[4 * r + 1]).f32x4Add().get(q[4 * r + 2]).f32x4Add().set(s[r][0]);
            f.get(q[4 * r + 1]).get(q[4 * r + 2]).f32x4Sub().get(q[4 * r + 3]).f32x4Sub().set(s[r][1]);
          }
          for (let j = 0; j < 2; j++) {
            f.get(s[0][j]).get(s[1][j]).f32x4Add().get(s[2][j]).f32x4Add().set(y[0][j]);
            f.get(s[1][j]).get(s[2][j]).f32x4Sub().get(s[3][j]).f32x4Sub().set(y[1][j]);
          }
          f.get(tx).i32(2).i32Mul().set(ox);
          for (let r = 0; r < 2; r++) {
            f.get(ty).i32(2).i32Mul().i32(r).i32Add().tee(oy).get(oh).i32LtS().if_();
            // Output order along the row: tile 0 columns 0, 1, tile 1 columns 0, 1, …
            f.get(y[r][0]).get(y[r][1]).f32x4Shuffle(0, 4, 1, 5);
            if (epilogue) f.get(sv).f32x4Mul().get(bv).f32x4Add();
            f.set(lo);
            f.get(y[r][0]).get(y[r][1]).f32x4Shuffle(2, 6, 3, 7);
            if (epilogue) f.get(sv).f32x4Mul().get(bv).f32x4Add();
            f.set(hi);
            // offset o·so + b·sb + oy·ow + ox floats
            f.get(o).get(so).i32Mul().get(b).get(sb).i32Mul().i32Add().get(oy).get(ow).i32Mul().i32Add().get(ox).i32Add().i32(4).i32Mul().tee(i).get(out).i32Add().set(dst);
            f.get(i).get(res).i32Add().set(rp);
            f.get(ox).i32(8).i32Add().get(ow).i32LeS().if_();
            for (const [v, off] of [[lo, 0], [hi, 16]] as const) {
              f.get(dst).get(v);
              if (residual) f.get(rp).v128Load(off).f32x4Add();
              if (relu) f.v128Zero().f32x4Pmax(); // pmax(v, 0): NaN passes, as epi_*
              f.v128Store(off);
            }
            f.else_();
            // A partial tile group at the right edge: lane by lane up to ow.
            for (let l = 0; l < 8; l++) {
              f.get(ox).i32(l).i32Add().get(ow).i32LtS().if_();
              f.get(dst).get(l < 4 ? lo : hi).f32x4ExtractLane(l % 4);
              if (residual) f.get(rp).f32Load(4 * l).f32Add();
              if (relu) f.set(z).f32(0).get(z).get(z).f32(0).f32Lt().select();
              f.f32Store(4 * l);
              f.end();
            }
            f.end();
            f.end();
          }
        });
      });
    });
  });
  return f;
}

/**
 * wino_dy: the weight gradient's output-gradient transform Ŷ = A dY Aᵀ (the adjoint of Y = Aᵀ M A; A's rows
 * (1, 0), (1, 1), (1, −1), (0, −1)) of every 2×2 tile of dy, for rows o0..o1 (output channels), from dy staged
 * by wino_pad as [n·oc planes (b·oc + o), hp, wp] with zeros past oh × ow (partial and padding tiles then
 * transform zeros). Writes 16 packed GEMM A operands (kernels/wasm/gemm.ts's [row/4][k][4] panels, k = tiles) in chunks of kb
 * tiles as wino_in_t (rows = oc rounded up to 4): Ŷ_ξ's element (o, t), j = t / kb, kk the chunk's size, at
 * dst + ξ·as + (j·kb·rows + ((o>>2)·kk + t − j·kb)·4 + (o&3))·4 bytes; rows oc ≤ o < o1 are written zero.
 * Lanes are 4 tiles of a tile row (stored 16 bytes apart). Adds every Ŷ it writes into the f32x4 at `flag`
 * (overwritten): non-finite there when dy held NaN or ±∞ (or a sum overflowed).
 */
export const WINO_DY = signature(['src', 'dst', 'n', 'oc', 'rows', 'kt', 'kb', 'th', 'twp', 'hp', 'wp', 'as', 'flag', 'o0', 'o1']);
function outputGradTransform(): Func {
  const { f, p: { src, dst, n, oc, rows, kt, kb, th, twp, hp, wp, as, flag, o0, o1 } } = funcOf(WINO_DY);
  const o = f.local(I32), b = f.local(I32), ty = f.local(I32), tx = f.local(I32), t = f.local(I32), row = f.local(I32), d = f.local(I32), wp4 = f.local(I32), base = f.local(I32), j = f.local(I32), tt = f.local(I32);
  // d = base + j·kb·rows·4 + ((o>>2)·kk + t − j·kb)·16, j = t / kb, kk = min(kb, kt − j·kb): tile t's address in Ŷ_0
  const address = (): void => {
    f.get(t).get(kb).i32DivS().set(j);
    f.get(t).get(j).get(kb).i32Mul().i32Sub().set(tt);
    f.get(base).get(j).get(kb).i32Mul().get(rows).i32Mul().i32(4).i32Mul().i32Add();
    f.get(kt).get(j).get(kb).i32Mul().i32Sub().tee(d).get(kb).get(d).get(kb).i32LtS().select(); // kk
    f.get(o).i32(4).i32DivS().i32Mul().get(tt).i32Add().i32(16).i32Mul().i32Add().set(d);
  };
  const a0 = f.local(V128), a1 = f.local(V128), v = f.local(V128), acc = f.local(V128);
  const y = Array.from({ length: 2 }, () => v128s(f, 2));
  const h = Array.from({ length: 2 }, () => v128s(f, 4));
  f.get(wp).i32(4).i32Mul().set(wp4);
  f.v128Zero().set(acc);
  f.forLoop(o, () => f.get(o0), () => f.get(o1), 1, () => {
    // base = dst + (o&3)·4: row o's lane
    f.get(dst).get(o).i32(3).i32And().i32(4).i32Mul().i32Add().set(base);
    f.get(o).get(oc).i32LtS().if_();
    f.forLoop(b, () => f.i32(0), () => f.get(n), 1, () => {
      f.forLoop(ty, () => f.i32(0), () => f.get(th), 1, () => {
        f.forLoop(tx, () => f.i32(0), () => f.get(twp), 4, () => {
          // t = (b·th + ty)·twp + tx; row = src + (((b·oc + o)·hp + 2ty)·wp + 2tx)·4
          f.get(b).get(th).i32Mul().get(ty).i32Add().get(twp).i32Mul().get(tx).i32Add().set(t);
          f.get(src).get(b).get(oc).i32Mul().get(o).i32Add().get(hp).i32Mul().get(ty).i32(2).i32Mul().i32Add().get(wp4).i32Mul().i32Add().get(tx).i32(8).i32Mul().i32Add().set(row);
          for (let r = 0; r < 2; r++) {
            f.get(row).v128Load(0).set(a0);
            f.get(row).v128Load(16).set(a1);
            // Lane l of y[r][s]: pixel (r, s) of tile tx + l.
            f.get(a0).get(a1).f32x4Shuffle(0, 2, 4, 6).set(y[r][0]);
            f.get(a0).get(a1).f32x4Shuffle(1, 3, 5, 7).set(y[r][1]);
            // Along the row: A·(y0, y1) = (y0, y0 + y1, y0 − y1, −y1).
            f.get(y[r][0]).set(h[r][0]);
            f.get(y[r][0]).get(y[r][1]).f32x4Add().set(h[r][1]);
            f.get(y[r][0]).get(y[r][1]).f32x4Sub().set(h[r][2]);
            f.get(y[r][1]).f32x4Neg().set(h[r][3]);
            if (r === 0) f.get(row).get(wp4).i32Add().set(row);
          }
          address();
          for (let i = 0; i < 4; i++) {
            for (let j = 0; j < 4; j++) {
              // Down the columns the same.
              if (i === 0) f.get(h[0][j]);
              else if (i === 1) f.get(h[0][j]).get(h[1][j]).f32x4Add();
              else if (i === 2) f.get(h[0][j]).get(h[1][j]).f32x4Sub();
              else f.get(h[1][j]).f32x4Neg();
              f.set(v);
              for (let l = 0; l < 4; l++) f.get(d).get(v).f32x4ExtractLane(l).f32Store(16 * l);
              f.get(acc).get(v).f32x4Add().set(acc);
              if (4 * i + j < 15) f.get(d).get(as).i32Add().set(d);
            }
          }
        });
      });
    });
    f.else_();
    // A row past oc in the last panel: zero, so the GEMM reads no stale floats there.
    f.forLoop(t, () => f.i32(0), () => f.get(kt), 1, () => {
      address();
      for (let xi = 0; xi < 16; xi++) {
        f.get(d).f32(0).f32Store();
        if (xi < 15) f.get(d).get(as).i32Add().set(d);
      }
    });
    f.end();
  });
  f.get(flag).get(acc).v128Store();
  return f;
}

/**
 * wino_dw: the weight gradient's final transform dW = Gᵀ M' G (the adjoint of U = G g Gᵀ, G as wino_w's) for
 * output channels o0..o1, M'_ξ the sum of `chunks` partial GEMM results at m + j·cs + ξ·ms bytes ([oc rows, ldc]
 * each, column = input channel), into out [oc, c, 3, 3]: kernel (o, ch)'s element (r, s) at float (o·c + ch)·9 + 3r + s.
 * Lanes are 4 input channels (read whole from M', whose rows are padded to ldc ≥ c rounded up to 4).
 */
export const WINO_DW = signature(['m', 'ms', 'chunks', 'cs', 'ldc', 'out', 'c', 'o0', 'o1']);
function weightGradTransform(): Func {
  const { f, p: { m, ms, chunks, cs, ldc, out, c, o0, o1 } } = funcOf(WINO_DW);
  const o = f.local(I32), ch = f.local(I32), mp = f.local(I32), dst = f.local(I32), j = f.local(I32), mj = f.local(I32);
  const half = f.local(V128), s = f.local(V128);
  const q = v128s(f, 16);
  const r = Array.from({ length: 4 }, () => v128s(f, 3));
  const w = v128s(f, 9);
  const u = v128s(f, 4), t0 = v128s(f, 4), t1 = v128s(f, 4);
  const transpose = (x: number[], out: number[]): void => transpose4(f, x, u, out);
  f.f32(0.5).f32x4Splat().set(half);
  // Gᵀ·(m0, m1, m2, m3) = (m0 + ½(m1 + m2), ½(m1 − m2), ½(m1 + m2) + m3)
  const gt = (m0: number, m1: number, m2: number, m3: number, out3: number[]): void => {
    f.get(m1).get(m2).f32x4Add().get(half).f32x4Mul().set(s);
    f.get(m0).get(s).f32x4Add().set(out3[0]);
    f.get(m1).get(m2).f32x4Sub().get(half).f32x4Mul().set(out3[1]);
    f.get(s).get(m3).f32x4Add().set(out3[2]);
  };
  f.forLoop(o, () => f.get(o0), () => f.get(o1), 1, () => {
    f.forLoop(ch, () => f.i32(0), () => f.get(c), 4, () => {
      f.get(m).get(o).get(ldc).i32Mul().get(ch).i32Add().i32(4).i32Mul().i32Add().set(mj);
      for (const x of q) f.v128Zero().set(x);
      // M' = Σ over the k chunks' partial results, in chunk order.
      f.forLoop(j, () => f.i32(0), () => f.get(chunks), 1, () => {
        f.get(mj).set(mp);
        for (let k = 0; k < 16; k++) {
          f.get(q[k]).get(mp).v128Load().f32x4Add().set(q[k]);
          if (k < 15) f.get(mp).get(ms).i32Add().set(mp);
        }
        f.get(mj).get(cs).i32Add().set(mj);
      });
      // Each row i of M' (ξ = 4i + j), then down the columns.
      for (let i = 0; i < 4; i++) gt(q[4 * i], q[4 * i + 1], q[4 * i + 2], q[4 * i + 3], r[i]);
      for (let j = 0; j < 3; j++) gt(r[0][j], r[1][j], r[2][j], r[3][j], [w[j], w[3 + j], w[6 + j]]);
      // dst = out + (o·c + ch)·36; lane l's kernel 36 bytes on
      f.get(out).get(o).get(c).i32Mul().get(ch).i32Add().i32(36).i32Mul().i32Add().set(dst);
      f.get(ch).i32(4).i32Add().get(c).i32LeS().if_();
      // 4 whole kernels, 36 floats in a row: channel l's 9 values are lane l of w[0..8]; two 4×4 transposes give
      // its w[0..3] and w[4..7] as vectors (stored unaligned), then w[8]'s lane.
      transpose(w.slice(0, 4), t0);
      transpose(w.slice(4, 8), t1);
      for (let l = 0; l < 4; l++) {
        f.get(dst).get(t0[l]).v128Store(36 * l);
        f.get(dst).get(t1[l]).v128Store(36 * l + 16);
        f.get(dst).get(w[8]).f32x4ExtractLane(l).f32Store(36 * l + 32);
      }
      f.else_();
      // Lanes past c are not written (lane 0 always is: ch < c).
      for (let k = 0; k < 9; k++) f.get(dst).get(w[k]).f32x4ExtractLane(0).f32Store(4 * k);
      for (let l = 1; l < 4; l++) {
        f.get(ch).i32(l).i32Add().get(c).i32LtS().if_();
        for (let k = 0; k < 9; k++) f.get(dst).get(w[k]).f32x4ExtractLane(l).f32Store(36 * l + 4 * k);
        f.end();
      }
      f.end();
    });
  });
  return f;
}

/**
 * wino_band_<res><relu> / wino_band_id (wino_bandf_*: the same over gemm_fma): one band of tile rows of a conv,
 * start to end on one thread: stage the band's input rows (wino_pad), transform them (wino_in), the 16 GEMMs
 * U_ξ·V_ξ over the band's tiles, then the output transform with its epilogue (wino_out_*). Its staged image p,
 * V and M hold only this band, so they stay in the core's cache and no other thread reads them. The band is th tile
 * rows of image b0 (planes p0 = b0·c on) starting at tile row ty0; the caller passes ph − 2·ty0 as ph, out and res
 * moved to the band's first output row and oh − 2·ty0 as oh, so the kernels see the band as a whole image.
 * The U_ξ at u, uStride(oc, c) bytes apart (wasm-winograd.ts); V and M strides as the unbanded driver's.
 * Adds every V into the f32x4 at `flag` as wino_in does.
 */
export const WINO_BAND = signature(['x', 'p', 'v', 'm', 'u', 'out', 'res', 'scale', 'shift', 'c', 'oc', 'xb', 'xc', 'h', 'w', 'ph', 'pw', 'p0', 'th', 'twp', 'nt', 'oh', 'ow', 'so', 'sb', 'flag']);
function band(mb: ModuleBuilder, out: string, gemm: string): Func {
  const { f, p: { x, p, v, m, u, out: y, res, scale, shift, c, oc, xb, xc, h, w, ph, pw, p0, th, twp, nt, oh, ow, so, sb, flag } } = funcOf(WINO_BAND);
  const [hp, wp, mt, ldc, vs, ms, us, xi] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32), f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  f.get(th).i32(2).i32Mul().i32(2).i32Add().set(hp);
  f.get(twp).i32(2).i32Mul().i32(4).i32Add().set(wp);
  f.get(oc).i32(MR - 1).i32Add().i32(MR).i32DivS().set(mt);
  f.get(nt).i32(NR).i32Mul().set(ldc);
  f.get(ldc).get(c).i32Mul().i32(4).i32Mul().i32(64).i32Add().set(vs);
  f.get(mt).i32(MR).i32Mul().get(ldc).i32Mul().i32(4).i32Mul().i32(64).i32Add().set(ms);
  f.get(mt).i32(MR).i32Mul().get(c).i32Mul().i32(4).i32Mul().i32(64).i32Add().set(us);
  // wino_pad writes plane p0 at dst + p0·hp·wp·4 bytes: shift dst back so the band's planes start at p.
  f.get(x).get(p).get(p0).get(hp).i32Mul().get(wp).i32Mul().i32(4).i32Mul().i32Sub().get(c).get(xb).get(xc).get(h).get(w).get(ph).get(pw).get(hp).get(wp).get(p0).get(p0).get(c).i32Add();
  f.call(mb.indexOf('wino_pad'));
  f.get(p).get(v).get(c).get(th).get(twp).get(hp).get(wp).get(vs).get(flag).i32(0).get(th).call(mb.indexOf('wino_in'));
  f.forLoop(xi, () => f.i32(0), () => f.i32(16), 1, () => {
    f.get(u).get(xi).get(us).i32Mul().i32Add();
    f.get(v).get(xi).get(vs).i32Mul().i32Add();
    f.get(m).get(xi).get(ms).i32Mul().i32Add();
    f.get(c).get(ldc).i32(KC).i32(0).get(mt).i32(0).get(nt).call(mb.indexOf(gemm));
  });
  f.get(m).get(ms).get(ldc).get(y).get(res).get(scale).get(shift).i32(1).get(oh).get(ow).get(th).get(twp).get(so).get(sb).i32(0).get(oc).call(mb.indexOf(out));
  return f;
}

const FLAGS = [0, 1] as const;
/** wino_out_<residual><relu>. */
export type WinoOutKernel = `wino_out_${0 | 1}${0 | 1}`;
const outNames = FLAGS.flatMap((res) => FLAGS.map((relu): WinoOutKernel => `wino_out_${res}${relu}`));
/** wino_band_* over gemm, wino_bandf_* over gemm_fma (only in a relaxed module), one per output kernel. */
export type WinoBandKernel = `wino_band${'' | 'f'}_${'id' | `${0 | 1}${0 | 1}`}`;
const bandNames = (['', 'f'] as const).flatMap((fma) => (['id', ...FLAGS.flatMap((res) => FLAGS.map((relu) => `${res}${relu}` as const))] as const).map((o): WinoBandKernel => `wino_band${fma}_${o}`));

/** The Winograd kernels' signatures by export name. */
export const WINOGRAD_KERNELS = { wino_pad: WINO_PAD, wino_in: WINO_IN, wino_in_t: WINO_IN_T, wino_dy: WINO_DY, wino_dw: WINO_DW, wino_w: WINO_W, wino_wt: WINO_W, wino_out_id: WINO_OUT, ...family(outNames, WINO_OUT), ...family(bandNames, WINO_BAND) };

/** `relaxed`: also the wino_bandf_* drivers (their GEMMs are gemm_fma, which only a relaxed module has). */
export function addWinogradKernels(mb: ModuleBuilder, relaxed: boolean): void {
  mb.add('wino_pad', pad());
  mb.add('wino_in', inputTransform());
  mb.add('wino_in_t', inputTransform(true));
  mb.add('wino_dy', outputGradTransform());
  mb.add('wino_dw', weightGradTransform());
  mb.add('wino_w', weightTransform(false));
  mb.add('wino_wt', weightTransform(true));
  for (const res of FLAGS) for (const relu of FLAGS) mb.add(`wino_out_${res}${relu}`, outputTransform(res === 1, relu === 1));
  mb.add('wino_out_id', outputTransform(false, false, false));
  for (const name of bandNames) {
    const fma = name.startsWith('wino_bandf');
    if (fma && !relaxed) continue;
    const o = name.slice(name.lastIndexOf('_') + 1);
    mb.add(name, band(mb, o === 'id' ? 'wino_out_id' : `wino_out_${o}`, fma ? 'gemm_fma' : 'gemm'));
  }
}
