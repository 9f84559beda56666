// col2im for stride-1 windows (every 3×3 conv of a ResNet but the downsampling ones), as a gather: each image
// element is the sum of the column entries that window positions put there, taken in (ky, kx) order from 0,
// which is the order window.ts's scatter col2im adds them in, so results are bit-identical. Four image columns
// at a time (f32x4) where every kx lands inside the columns' row, a scalar walk at the row ends. Each element is
// written once: no zero fill first and no read-modify-write per window position (the scatter touches every
// image element kh·kw times).
import { funcOf, signature } from './abi.js';
import { F32, Func, I32, V128, type ModuleBuilder } from './emit.js';

/** The window geometry, in Backend.WindowGeometry's names. */
const GEOMETRY = ['h', 'w', 'kh', 'kw', 'sh', 'sw', 'ph', 'pw', 'dh', 'dw', 'oh', 'ow'] as const;

/** col2im_s1: channels c0..c1 of out [n, c, h, w] from cols [c·kh·kw, n·oh·ow]; sh = sw = 1 (sh, sw unread). */
export const COL2IM_S1 = signature(['cols', 'out', 'n', 'c', ...GEOMETRY, 'c0', 'c1']);
function col2imS1(): Func {
  const { f, p: { cols, out, n, c, h, w, kh, kw, ph, pw, dh, dw, oh, ow, c0, c1 } } = funcOf(COL2IM_S1);
  const ch = f.local(I32), b = f.local(I32), iy = f.local(I32), ix = f.local(I32), ky = f.local(I32), kx = f.local(I32), oy = f.local(I32), ox = f.local(I32);
  const dst = f.local(I32), row = f.local(I32), xlo = f.local(I32), xhi = f.local(I32), q = f.local(I32), qEnd = f.local(I32), plane = f.local(I32);
  const kyA = f.local(I32), kyB = f.local(I32), row0 = f.local(I32), r = f.local(I32), t = f.local(I32), sx = f.local(I32), sy = f.local(I32);
  const acc = f.local(F32), accV = f.local(V128);

  // row = byte address of cols[(ch·kh + ky)·kw + 0][b][oy][0]; one kernel row further is n·oh·ow floats on.
  const rowOf = (): void => {
    f.get(cols).get(ch).get(kh).i32Mul().get(ky).i32Add().get(kw).i32Mul().get(n).i32Mul().get(b).i32Add().get(oh).i32Mul().get(oy).i32Add().get(ow).i32Mul().i32(4).i32Mul().i32Add().set(row);
  };
  /** The image columns q..qEnd of row (ch, b, iy), one element at a time, every tap bounds checked. */
  const scalar = (): void => {
    f.forLoop(ix, () => f.get(q), () => f.get(qEnd), 1, () => {
      f.f32(0).set(acc);
      f.forLoop(ky, () => f.i32(0), () => f.get(kh), 1, () => {
        f.get(iy).get(ph).i32Add().get(ky).get(dh).i32Mul().i32Sub().tee(oy).get(oh).i32LtU().if_();
        rowOf();
        f.forLoop(kx, () => f.i32(0), () => f.get(kw), 1, () => {
          f.get(ix).get(pw).i32Add().get(kx).get(dw).i32Mul().i32Sub().tee(ox).get(ow).i32LtU().if_();
          f.get(acc).get(row).get(kx).get(plane).i32Mul().get(ox).i32Add().i32(4).i32Mul().i32Add().f32Load().f32Add().set(acc);
          f.end();
        });
        f.end();
      });
      f.get(dst).get(ix).i32(4).i32Mul().i32Add().get(acc).f32Store();
    });
  };

  // plane = n·oh·ow floats between kernel rows kx and kx+1.
  f.get(n).get(oh).i32Mul().get(ow).i32Mul().set(plane);
  // Along a window row (kx → kx+1) the entry moves a plane on and dw columns back: sx bytes; down a window
  // column (ky → ky+1) kw planes on and dh rows back: sy bytes.
  f.get(plane).get(dw).i32Sub().i32(4).i32Mul().set(sx);
  f.get(plane).get(kw).i32Mul().get(dh).get(ow).i32Mul().i32Sub().i32(4).i32Mul().set(sy);
  // Vector columns: ox = ix + pw − kx·dw in 0..ow for every kx, i.e. (kw−1)·dw − pw ≤ ix and ix + 3 < ow − pw.
  f.get(kw).i32(1).i32Sub().get(dw).i32Mul().get(pw).i32Sub().set(xlo);
  f.get(xlo).i32(0).i32LtS().if_().i32(0).set(xlo).end();
  f.get(ow).get(pw).i32Sub().set(xhi);
  f.get(xhi).get(w).i32GtS().if_().get(w).set(xhi).end();
  f.get(xlo).get(w).i32GtS().if_().get(w).set(xlo).end();
  f.forLoop(ch, () => f.get(c0), () => f.get(c1), 1, () => {
    f.forLoop(b, () => f.i32(0), () => f.get(n), 1, () => {
      f.forLoop(iy, () => f.i32(0), () => f.get(h), 1, () => {
        f.get(out).get(b).get(c).i32Mul().get(ch).i32Add().get(h).i32Mul().get(iy).i32Add().get(w).i32Mul().i32(4).i32Mul().i32Add().set(dst);
        f.i32(0).set(q);
        f.get(xlo).set(qEnd);
        scalar();
        // Window rows whose oy = iy + ph − ky·dh lies in 0..oh: kyA..kyB, and row0 = the entry (kyA, kx 0, ox 0).
        f.get(kh).set(kyA);
        f.i32(0).set(kyB);
        f.forLoop(ky, () => f.i32(0), () => f.get(kh), 1, () => {
          f.get(iy).get(ph).i32Add().get(ky).get(dh).i32Mul().i32Sub().get(oh).i32LtU().if_();
          f.get(ky).get(kyA).i32LtS().if_().get(ky).set(kyA).end();
          f.get(ky).i32(1).i32Add().set(kyB);
          f.end();
        });
        f.get(kyA).set(ky);
        f.get(iy).get(ph).i32Add().get(kyA).get(dh).i32Mul().i32Sub().set(oy);
        rowOf();
        f.get(row).get(pw).i32(4).i32Mul().i32Add().set(row0);
        f.forLoop(ix, () => f.get(xlo), () => f.get(xhi).i32(3).i32Sub(), 4, () => {
          f.v128Zero().set(accV);
          f.get(row0).get(ix).i32(4).i32Mul().i32Add().set(r);
          f.forLoop(ky, () => f.get(kyA), () => f.get(kyB), 1, () => {
            f.get(r).set(t);
            f.forLoop(kx, () => f.i32(0), () => f.get(kw), 1, () => {
              f.get(accV).get(t).v128Load().f32x4Add().set(accV);
              f.get(t).get(sx).i32Add().set(t);
            });
            f.get(r).get(sy).i32Add().set(r);
          });
          f.get(dst).get(ix).i32(4).i32Mul().i32Add().get(accV).v128Store();
        });
        // The loop leaves ix at the first column it did not do (xlo when it did none).
        f.get(ix).set(q);
        f.get(w).set(qEnd);
        scalar();
      });
    });
  });
  return f;
}

export const COL2IM_KERNELS = { col2im_s1: COL2IM_S1 };

export function addCol2imKernels(mb: ModuleBuilder): void {
  mb.add('col2im_s1', col2imS1());
}
