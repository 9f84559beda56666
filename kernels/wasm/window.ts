// Sliding-window kernels: im2col, one output row (c, ky, kx) at a time with the valid ox range computed once per
// row so the inner loop is a straight (v128 when stride 1) copy between zero-filled borders; col2im, the same
// walk adding back. (Max pooling: kernels/wasm/maxpool.ts.)
import { funcOf, signature } from './abi.js';
import { Func, I32, type ModuleBuilder } from './emit.js';

/** The window geometry every sliding-window kernel takes, in Backend.WindowGeometry's names. */
const GEOMETRY = ['h', 'w', 'kh', 'kw', 'sh', 'sw', 'ph', 'pw', 'dh', 'dw', 'oh', 'ow'] as const;

/**
 * For kernel column kx: off = kx·dw − pw (input column of output column 0, before the stride) and the output
 * columns lo..hi whose input column lies inside the row (the rest read or write padding).
 */
function validRange(f: Func, v: { kx: number; dw: number; pw: number; sw: number; w: number; ow: number; off: number; lo: number; hi: number; t: number }): void {
  const { kx, dw, pw, sw, w, ow, off, lo, hi, t } = v;
  f.get(kx).get(dw).i32Mul().get(pw).i32Sub().set(off);
  // lo = off >= 0 ? 0 : min(ow, ceil(-off / sw))
  f.i32(0).set(lo);
  f.get(off).i32(0).i32LtS().if_();
  f.i32(0).get(off).i32Sub().get(sw).i32Add().i32(1).i32Sub().get(sw).i32DivS().set(lo);
  f.get(lo).get(ow).i32GtS().if_().get(ow).set(lo).end();
  f.end();
  // hi = clamp(ceil((w - off) / sw), lo, ow)
  f.get(w).get(off).i32Sub().set(t);
  f.get(t).i32(0).i32LeS().if_();
  f.i32(0).set(hi);
  f.else_();
  f.get(t).get(sw).i32Add().i32(1).i32Sub().get(sw).i32DivS().set(hi);
  f.end();
  f.get(hi).get(ow).i32GtS().if_().get(ow).set(hi).end();
  f.get(hi).get(lo).i32LtS().if_().get(lo).set(hi).end();
}

/**
 * col2im: adds the rows of channels
 * c0..c1 of the [c·kh·kw, n·oh·ow] matrix back into the zero-filled image out [n, c, h, w]. Threads split
 * channels, so no two write the same output.
 */
export const COL2IM = signature(['cols', 'out', 'n', 'c', ...GEOMETRY, 'c0', 'c1']);
function col2im(): Func {
  const { f, p: { cols, out, n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, c0, c1 } } = funcOf(COL2IM);
  const ch = f.local(I32), ky = f.local(I32), kx = f.local(I32), r = f.local(I32), off = f.local(I32), lo = f.local(I32), hi = f.local(I32), t = f.local(I32);
  const b = f.local(I32), oy = f.local(I32), iy = f.local(I32), dst = f.local(I32), src = f.local(I32), ox = f.local(I32), hi4 = f.local(I32), sw4 = f.local(I32);
  f.get(sw).i32(4).i32Mul().set(sw4);
  f.forLoop(ch, () => f.get(c0), () => f.get(c1), 1, () => {
    f.forLoop(ky, () => f.i32(0), () => f.get(kh), 1, () => {
      f.forLoop(kx, () => f.i32(0), () => f.get(kw), 1, () => {
        f.get(ch).get(kh).i32Mul().get(ky).i32Add().get(kw).i32Mul().get(kx).i32Add().set(r);
        validRange(f, { kx, dw, pw, sw, w, ow, off, lo, hi, t });
        f.get(lo).get(hi).get(lo).i32Sub().i32(-4).i32And().i32Add().set(hi4);
        f.forLoop(b, () => f.i32(0), () => f.get(n), 1, () => {
          f.forLoop(oy, () => f.i32(0), () => f.get(oh), 1, () => {
            f.get(oy).get(sh).i32Mul().get(ph).i32Sub().get(ky).get(dh).i32Mul().i32Add().set(iy);
            f.get(iy).get(h).i32LtU().if_();
            // src = cols + ((r·n + b)·oh + oy)·ow floats; dst = out + ((b·c + ch)·h + iy)·w + off floats
            f.get(cols).get(r).get(n).i32Mul().get(b).i32Add().get(oh).i32Mul().get(oy).i32Add().get(ow).i32Mul().i32(4).i32Mul().i32Add().set(src);
            f.get(out).get(b).get(c).i32Mul().get(ch).i32Add().get(h).i32Mul().get(iy).i32Add().get(w).i32Mul().get(off).i32Add().i32(4).i32Mul().i32Add().set(dst);
            f.get(sw).i32(1).i32Eq().if_();
            f.forLoop(ox, () => f.get(lo), () => f.get(hi4), 4, () => {
              f.get(dst).get(ox).i32(4).i32Mul().i32Add();
              f.get(dst).get(ox).i32(4).i32Mul().i32Add().v128Load();
              f.get(src).get(ox).i32(4).i32Mul().i32Add().v128Load();
              f.f32x4Add().v128Store();
            });
            f.forLoop(ox, () => f.get(hi4), () => f.get(hi), 1, () => {
              f.get(dst).get(ox).i32(4).i32Mul().i32Add();
              f.get(dst).get(ox).i32(4).i32Mul().i32Add().f32Load();
              f.get(src).get(ox).i32(4).i32Mul().i32Add().f32Load();
              f.f32Add().f32Store();
            });
            f.else_();
            f.forLoop(ox, () => f.get(lo), () => f.get(hi), 1, () => {
              f.get(dst).get(ox).get(sw4).i32Mul().i32Add();
              f.get(dst).get(ox).get(sw4).i32Mul().i32Add().f32Load();
              f.get(src).get(ox).i32(4).i32Mul().i32Add().f32Load();
              f.f32Add().f32Store();
            });
            f.end();
            f.end();
          });
        });
      });
    });
  });
  return f;
}

/**
 * im2col: rows r0..r1 of the
 * [c·kh·kw, n·oh·ow] matrix (layout of Backend.im2col).
 */
export const IM2COL = signature(['x', 'out', 'n', 'c', ...GEOMETRY, 'r0', 'r1']);
function im2col(): Func {
  const { f, p: { x, out, n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, r0, r1 } } = funcOf(IM2COL);
  const r = f.local(I32), kx = f.local(I32), ky = f.local(I32), ch = f.local(I32), off = f.local(I32), lo = f.local(I32), hi = f.local(I32);
  const b = f.local(I32), oy = f.local(I32), iy = f.local(I32), dst = f.local(I32), src = f.local(I32), ox = f.local(I32), t = f.local(I32), hi4 = f.local(I32), sw4 = f.local(I32);
  f.get(sw).i32(4).i32Mul().set(sw4);
  f.forLoop(r, () => f.get(r0), () => f.get(r1), 1, () => {
    f.get(r).get(kw).i32RemS().set(kx);
    f.get(r).get(kw).i32DivS().get(kh).i32RemS().set(ky);
    f.get(r).get(kw).get(kh).i32Mul().i32DivS().set(ch);
    validRange(f, { kx, dw, pw, sw, w, ow, off, lo, hi, t });
    f.get(lo).get(hi).get(lo).i32Sub().i32(-4).i32And().i32Add().set(hi4);
    f.forLoop(b, () => f.i32(0), () => f.get(n), 1, () => {
      f.forLoop(oy, () => f.i32(0), () => f.get(oh), 1, () => {
        f.get(oy).get(sh).i32Mul().get(ph).i32Sub().get(ky).get(dh).i32Mul().i32Add().set(iy);
        // dst = out + ((r·n + b)·oh + oy)·ow floats
        f.get(out).get(r).get(n).i32Mul().get(b).i32Add().get(oh).i32Mul().get(oy).i32Add().get(ow).i32Mul().i32(4).i32Mul().i32Add().set(dst);
        f.get(iy).get(h).i32LtU().if_();
        {
          f.get(x).get(b).get(c).i32Mul().get(ch).i32Add().get(h).i32Mul().get(iy).i32Add().get(w).i32Mul().get(off).i32Add().i32(4).i32Mul().i32Add().set(src);
          f.forLoop(ox, () => f.i32(0), () => f.get(lo), 1, () => void f.get(dst).get(ox).i32(4).i32Mul().i32Add().f32(0).f32Store());
          f.get(sw).i32(1).i32Eq().if_();
          f.forLoop(ox, () => f.get(lo), () => f.get(hi4), 4, () => {
            f.get(dst).get(ox).i32(4).i32Mul().i32Add();
            f.get(src).get(ox).i32(4).i32Mul().i32Add().v128Load();
            f.v128Store();
          });
          f.forLoop(ox, () => f.get(hi4), () => f.get(hi), 1, () => {
            f.get(dst).get(ox).i32(4).i32Mul().i32Add();
            f.get(src).get(ox).i32(4).i32Mul().i32Add().f32Load();
            f.f32Store();
          });
          f.else_();
          f.forLoop(ox, () => f.get(lo), () => f.get(hi), 1, () => {
            f.get(dst).get(ox).i32(4).i32Mul().i32Add();
            f.get(src).get(ox).get(sw4).i32Mul().i32Add().f32Load();
            f.f32Store();
          });
          f.end();
          f.forLoop(ox, () => f.get(hi), () => f.get(ow), 1, () => void f.get(dst).get(ox).i32(4).i32Mul().i32Add().f32(0).f32Store());
        }
        f.else_();
        f.forLoop(ox, () => f.i32(0), () => f.get(ow), 1, () => void f.get(dst).get(ox).i32(4).i32Mul().i32Add().f32(0).f32Store());
        f.end();
      });
    });
  });
  return f;
}

/** The sliding-window kernels' signatures by export name. */
export const WINDOW_KERNELS = { im2col: IM2COL, col2im: COL2IM };

export function addWindowKernels(mb: ModuleBuilder): void {
  mb.add('im2col', im2col());
  mb.add('col2im', col2im());
}
