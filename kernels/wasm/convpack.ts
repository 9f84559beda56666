// Implicit im2col: packs a convolution's GEMM operand straight from the image x [n, c, h, w] into the micro-kernel's
// panels ([tile][k][W], W = NR for a B operand, MR for an A operand when the driver computes Cᵀ), so no
// [c·kh·kw, n·oh·ow] column buffer is written and read back. Row r = (c·kh + ky)·kw + kx, column
// j = (b·oh + oy)·ow + ox, as Backend.im2col lays them out; taps outside the image read 0.
import { funcOf, signature } from './abi.js';
import { F32, Func, I32, type ModuleBuilder } from './emit.js';
import { MR, NR } from './gemm.js';

/**
 * packIm<W>: column tiles t0..t1 of the implicit [c·kh·kw, n·oh·ow] matrix of x, each as [k][W] floats at
 * dst + t·k·W·4 bytes; columns past n·oh·ow are zero.
 */
export const PACK_IM = signature(['x', 'dst', 'n', 'c', 'h', 'w', 'kh', 'kw', 'sh', 'sw', 'ph', 'pw', 'dh', 'dw', 'oh', 'ow', 't0', 't1']);

/** An input row offset no tap can bring back inside the image (marks columns past the end). */
const OUTSIDE = -0x40000000;

function packIm(W: number): Func {
  const { f, p: { x, dst, n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, t0, t1 } } = funcOf(PACK_IM);
  const L = (): number => f.local(I32);
  const t = L(), j = L(), b = L(), rem = L(), oy = L(), ox = L(), hw = L(), ohow = L(), cols = L(), k = L(), d = L();
  const ch = L(), ky = L(), kx = L(), dyk = L(), dxk = L(), rowOff = L(), chOff = L(), fast = L(), ok = L(), span = L(), s = L(), dw4 = L(), sw4 = L();
  // Per column of the tile: its input row and column at tap (0, 0), and its float index in x at that tap
  // (b·c·h·w + iy0·w + ix0; may be negative, only ever used for in-bounds taps).
  const iy0 = Array.from({ length: W }, L), ix0 = Array.from({ length: W }, L), base = Array.from({ length: W }, L);
  const v = f.local(F32);
  f.get(h).get(w).i32Mul().set(hw);
  f.get(oh).get(ow).i32Mul().set(ohow);
  f.get(n).get(ohow).i32Mul().set(cols);
  f.get(c).get(kh).i32Mul().get(kw).i32Mul().set(k);
  f.forLoop(t, () => f.get(t0), () => f.get(t1), 1, () => {
    for (let q = 0; q < W; q++) {
      f.get(t).i32(W).i32Mul().i32(q).i32Add().tee(j).get(cols).i32LtS().if_();
      f.get(j).get(ohow).i32DivS().set(b);
      f.get(j).get(b).get(ohow).i32Mul().i32Sub().set(rem);
      f.get(rem).get(ow).i32DivS().set(oy);
      f.get(rem).get(oy).get(ow).i32Mul().i32Sub().set(ox);
      f.get(oy).get(sh).i32Mul().get(ph).i32Sub().set(iy0[q]);
      f.get(ox).get(sw).i32Mul().get(pw).i32Sub().set(ix0[q]);
      f.get(b).get(c).i32Mul().get(hw).i32Mul().get(iy0[q]).get(w).i32Mul().i32Add().get(ix0[q]).i32Add().set(base[q]);
      f.else_();
      f.i32(OUTSIDE).set(iy0[q]);
      f.i32(0).set(ix0[q]);
      f.i32(0).set(base[q]);
      f.end();
    }
    // A row tile: the W columns lie in one image row of one batch (sw apart in x), and every tap's W reads stay
    // inside that row. Then each (ch, ky) either reads W floats sw apart from one input row or is all padding,
    // with no per-element test: v128 copies for stride 1, shuffles of even lanes for stride 2.
    f.get(iy0[0]).get(iy0[W - 1]).i32Eq();
    f.get(ix0[W - 1]).get(ix0[0]).i32Sub().get(sw).i32(W - 1).i32Mul().tee(span).i32Eq().i32And();
    f.get(base[W - 1]).get(base[0]).i32Sub().get(span).i32Eq().i32And();
    f.get(ix0[0]).i32(0).i32GeS().i32And();
    f.get(ix0[0]).get(kw).i32(1).i32Sub().get(dw).i32Mul().i32Add().get(span).i32Add().get(w).i32LtS().i32And();
    f.set(fast);
    f.get(dst).get(t).get(k).i32Mul().i32(W * 4).i32Mul().i32Add().set(d);
    f.get(fast).if_();
    {
      f.get(dw).i32(4).i32Mul().set(dw4);
      // One kx sweep per (ch, ky) for each stride case; `copy` moves W floats from s (sw apart) to d.
      const rows = (copy: () => void): void => {
        f.forLoop(ch, () => f.i32(0), () => f.get(c), 1, () => {
          f.forLoop(ky, () => f.i32(0), () => f.get(kh), 1, () => {
            f.get(ky).get(dh).i32Mul().tee(dyk).get(iy0[0]).i32Add().get(h).i32LtU().if_();
            f.get(x).get(base[0]).get(ch).get(hw).i32Mul().i32Add().get(dyk).get(w).i32Mul().i32Add().i32(4).i32Mul().i32Add().set(s);
            f.forLoop(kx, () => f.i32(0), () => f.get(kw), 1, () => {
              copy();
              f.get(s).get(dw4).i32Add().set(s);
              f.get(d).i32(W * 4).i32Add().set(d);
            });
            f.else_();
            f.forLoop(kx, () => f.i32(0), () => f.get(kw), 1, () => {
              for (let g = 0; g < W; g += 4) f.get(d).v128Zero().v128Store(g * 4);
              f.get(d).i32(W * 4).i32Add().set(d);
            });
            f.end();
          });
        });
      };
      f.get(sw).i32(1).i32Eq().if_();
      rows(() => {
        for (let g = 0; g < W; g += 4) f.get(d).get(s).v128Load(g * 4).v128Store(g * 4);
      });
      f.else_();
      f.get(sw).i32(2).i32Eq().if_();
      // Floats 0, 2, …, 2W−2 of the run: even lanes of v128 loads, the last one ending at float 2W−2 (not past it).
      rows(() => {
        for (let g = 0; g < W; g += 4) {
          const last = g + 4 >= W;
          f.get(d);
          f.get(s).v128Load(g * 8).get(s).v128Load(last ? g * 8 + 12 : g * 8 + 16);
          if (last) f.f32x4Shuffle(0, 2, 5, 7);
          else f.f32x4Shuffle(0, 2, 4, 6);
          f.v128Store(g * 4);
        }
      });
      f.else_();
      f.get(sw).i32(4).i32Mul().set(sw4);
      rows(() => {
        for (let q = 0; q < W; q++) f.get(d).get(s).get(sw4).i32(q).i32Mul().i32Add().f32Load().f32Store(q * 4);
      });
      f.end();
      f.end();
    }
    f.else_();
    // Any other tile (across rows or batches, or touching the padding in x): per element, branch-free.
    f.forLoop(ch, () => f.i32(0), () => f.get(c), 1, () => {
      f.get(ch).get(hw).i32Mul().set(chOff);
      f.forLoop(ky, () => f.i32(0), () => f.get(kh), 1, () => {
        f.get(ky).get(dh).i32Mul().set(dyk);
        f.forLoop(kx, () => f.i32(0), () => f.get(kw), 1, () => {
          f.get(kx).get(dw).i32Mul().set(dxk);
          f.get(chOff).get(dyk).get(w).i32Mul().i32Add().get(dxk).i32Add().set(rowOff);
          // An out-of-image tap loads x[0] (always valid) and selects 0 instead.
          for (let q = 0; q < W; q++) {
            f.get(iy0[q]).get(dyk).i32Add().get(h).i32LtU();
            f.get(ix0[q]).get(dxk).i32Add().get(w).i32LtU().i32And().set(ok);
            f.get(x).get(base[q]).get(rowOff).i32Add().i32(4).i32Mul().i32Add().get(x).get(ok).select().f32Load().set(v);
            f.get(d).get(v).f32(0).get(ok).select().f32Store(q * 4);
          }
          f.get(d).i32(W * 4).i32Add().set(d);
        });
      });
    });
    f.end();
  });
  return f;
}

/** The image-packing kernels by export name: packImB writes B panels (NR wide), packImA A panels (MR wide). */
export const CONVPACK_KERNELS = { packImB: PACK_IM, packImA: PACK_IM };

export function addConvPackKernels(mb: ModuleBuilder): void {
  mb.add('packImB', packIm(NR));
  mb.add('packImA', packIm(MR));
}
