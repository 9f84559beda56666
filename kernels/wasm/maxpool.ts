// Max pooling, forward (values and the flat in-plane index of each window's winner) and backward (each output
// gradient added at its winner). The forward takes four output columns at once (f32x4) where their windows lie
// inside the row and the stride is 1 or 2 (ResNet's 3×3/2 stem pool), and a scalar walk at the borders; both
// follow one rule: the first maximum in window order wins, and every NaN takes over (so the last NaN is the
// index), as PyTorch does. A vector of four windows that meets a NaN is redone by the scalar walk.
import { funcOf, signature } from './abi.js';
import { F32, Func, I32, V128, type ModuleBuilder } from './emit.js';

/** The window geometry, in Backend.WindowGeometry's names. */
const GEOMETRY = ['h', 'w', 'kh', 'kw', 'sh', 'sw', 'ph', 'pw', 'dh', 'dw', 'oh', 'ow'] as const;

/** maxpool: planes p0..p1 of x [planes, h, w] into out and idx [planes, oh, ow] (idx: the winner's iy·w + ix as f32, −1 for an all-padding window). */
export const MAXPOOL = signature(['x', 'out', 'idx', ...GEOMETRY, 'p0', 'p1']);
function maxPool(): Func {
  const { f, p: { x, out, idx, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, p0, p1 } } = funcOf(MAXPOOL);
  const p = f.local(I32), oy = f.local(I32), ox = f.local(I32), q = f.local(I32), qEnd = f.local(I32), ky = f.local(I32), kx = f.local(I32), iy = f.local(I32), ix = f.local(I32);
  const where = f.local(I32), orow = f.local(I32), base = f.local(I32), vx0 = f.local(I32), vx1 = f.local(I32), t = f.local(I32), ky0 = f.local(I32), a = f.local(I32);
  const best = f.local(F32), v = f.local(F32);
  const bestV = f.local(V128), whereV = f.local(V128), nanV = f.local(V128), vv = f.local(V128), m = f.local(V128), lanes = f.local(V128);

  /** The scalar walk for output columns q..qEnd of row oy (the reference's rule, bounds checked per tap). */
  const scalar = (): void => {
    f.forLoop(q, () => f.get(q), () => f.get(qEnd), 1, () => {
      f.f32(-Infinity).set(best);
      f.i32(-1).set(where);
      f.forLoop(ky, () => f.i32(0), () => f.get(kh), 1, () => {
        f.get(oy).get(sh).i32Mul().get(ph).i32Sub().get(ky).get(dh).i32Mul().i32Add().tee(iy).get(h).i32LtU().if_();
        f.forLoop(kx, () => f.i32(0), () => f.get(kw), 1, () => {
          f.get(q).get(sw).i32Mul().get(pw).i32Sub().get(kx).get(dw).i32Mul().i32Add().tee(ix).get(w).i32LtU().if_();
          f.get(base).get(iy).get(w).i32Mul().get(ix).i32Add().i32(4).i32Mul().i32Add().f32Load().set(v);
          // v > best || where < 0 || v is NaN
          f.get(v).get(best).f32Gt().get(where).i32(0).i32LtS().i32Or().get(v).get(v).f32Ne().i32Or().if_();
          f.get(v).set(best);
          f.get(iy).get(w).i32Mul().get(ix).i32Add().set(where);
          f.end();
          f.end();
        });
        f.end();
      });
      f.get(out).get(orow).get(q).i32Add().i32(4).i32Mul().i32Add().get(best).f32Store();
      f.get(idx).get(orow).get(q).i32Add().i32(4).i32Mul().i32Add().get(where).f32ConvertI32S().f32Store();
    });
  };

  // Vector columns: ox·sw − pw ≥ 0 and the last float read, (ox+3)·sw − pw + (kw−1)·dw + (sw−1), inside the row
  // (stride 2 loads eight floats and keeps the even ones). Only for strides 1 and 2.
  f.get(pw).get(sw).i32Add().i32(1).i32Sub().get(sw).i32DivS().set(vx0);
  f.get(w).i32(1).i32Sub().get(pw).i32Add().get(kw).i32(1).i32Sub().get(dw).i32Mul().i32Sub().get(sw).i32(1).i32Sub().i32Sub().set(t);
  f.i32(0).set(vx1);
  f.get(t).i32(0).i32GeS().if_().get(t).get(sw).i32DivS().i32(1).i32Add().set(vx1).end(); // columns 0..t/sw qualify on the right
  f.get(vx1).get(ow).i32GtS().if_().get(ow).set(vx1).end();
  f.get(sw).i32(2).i32GtS().if_().i32(0).set(vx1).end();
  f.i32x4Const(0, 1, 2, 3).get(sw).i32x4Splat().i32x4Mul().set(lanes);

  f.forLoop(p, () => f.get(p0), () => f.get(p1), 1, () => {
    f.get(x).get(p).get(h).i32Mul().get(w).i32Mul().i32(4).i32Mul().i32Add().set(base);
    f.forLoop(oy, () => f.i32(0), () => f.get(oh), 1, () => {
      f.get(p).get(oh).i32Mul().get(oy).i32Add().get(ow).i32Mul().set(orow);
      // The first window row inside the image (kh when none: every window of this row is padding).
      f.get(kh).set(ky0);
      f.forLoop(ky, () => f.i32(0), () => f.get(kh), 1, () => {
        f.get(oy).get(sh).i32Mul().get(ph).i32Sub().get(ky).get(dh).i32Mul().i32Add().get(h).i32LtU().get(ky0).get(kh).i32Eq().i32And().if_().get(ky).set(ky0).end();
      });
      f.i32(0).set(q);
      f.get(ky0).get(kh).i32LtS().if_();
      {
        f.get(vx0).set(qEnd);
        f.get(qEnd).get(ow).i32GtS().if_().get(ow).set(qEnd).end();
        scalar();
        f.forLoop(ox, () => f.get(vx0), () => f.get(vx1).i32(3).i32Sub(), 4, () => {
          f.f32(-Infinity).f32x4Splat().set(bestV);
          f.i32(-1).i32x4Splat().set(whereV);
          f.v128Zero().set(nanV);
          f.forLoop(ky, () => f.get(ky0), () => f.get(kh), 1, () => {
            f.get(oy).get(sh).i32Mul().get(ph).i32Sub().get(ky).get(dh).i32Mul().i32Add().tee(iy).get(h).i32LtU().if_();
            f.forLoop(kx, () => f.i32(0), () => f.get(kw), 1, () => {
              // a = iy·w + ox·sw − pw + kx·dw: lane 0's flat index
              f.get(iy).get(w).i32Mul().get(ox).get(sw).i32Mul().i32Add().get(pw).i32Sub().get(kx).get(dw).i32Mul().i32Add().set(a);
              f.get(base).get(a).i32(4).i32Mul().i32Add().set(t);
              f.get(sw).i32(2).i32Eq().if_();
              f.get(t).v128Load().get(t).v128Load(16).f32x4Shuffle(0, 2, 4, 6).set(vv);
              f.else_();
              f.get(t).v128Load().set(vv);
              f.end();
              f.get(vv).get(bestV).f32x4Gt().set(m);
              f.get(vv).get(bestV).get(m).v128Bitselect().set(bestV);
              f.get(a).i32x4Splat().get(lanes).i32x4Add().get(whereV).get(m).v128Bitselect().set(whereV);
              f.get(vv).get(vv).f32x4Ne().get(nanV).v128Or().set(nanV);
            });
            f.end();
          });
          // The first valid tap always wins its lane (−∞ included): patch lanes left at −1 by a −∞ window.
          f.get(nanV).v128AnyTrue().get(whereV).i32x4Const(-1, -1, -1, -1).i32x4Eq().v128AnyTrue().i32Or().if_();
          f.get(ox).set(q);
          f.get(ox).i32(4).i32Add().set(qEnd);
          scalar();
          f.else_();
          f.get(out).get(orow).get(ox).i32Add().i32(4).i32Mul().i32Add().get(bestV).v128Store();
          f.get(idx).get(orow).get(ox).i32Add().i32(4).i32Mul().i32Add().get(whereV).f32x4ConvertI32x4S().v128Store();
          f.end();
        });
        f.get(ox).get(q).i32GtS().if_().get(ox).set(q).end();
      }
      f.end();
      f.get(ow).set(qEnd);
      scalar();
    });
  });
  return f;
}

/** maxpoolbwd: planes p0..p1 of out [planes, h, w] (zero-filled) get gy [planes, oh, ow] added at their winners. */
export const MAXPOOL_BWD = signature(['gy', 'idx', 'out', 'hw', 'ohw', 'p0', 'p1']);
function maxPoolBackward(): Func {
  const { f, p: { gy, idx, out, hw, ohw, p0, p1 } } = funcOf(MAXPOOL_BWD);
  const pl = f.local(I32), o = f.local(I32), wi = f.local(I32), src = f.local(I32), dst = f.local(I32);
  f.forLoop(pl, () => f.get(p0), () => f.get(p1), 1, () => {
    f.get(pl).get(ohw).i32Mul().i32(4).i32Mul().set(src);
    f.get(out).get(pl).get(hw).i32Mul().i32(4).i32Mul().i32Add().set(dst);
    f.forLoop(o, () => f.i32(0), () => f.get(ohw), 1, () => {
      f.get(idx).get(src).i32Add().get(o).i32(4).i32Mul().i32Add().f32Load().i32TruncF32S().tee(wi).i32(0).i32GeS().if_();
      f.get(dst).get(wi).i32(4).i32Mul().i32Add();
      f.get(dst).get(wi).i32(4).i32Mul().i32Add().f32Load();
      f.get(gy).get(src).i32Add().get(o).i32(4).i32Mul().i32Add().f32Load();
      f.f32Add().f32Store();
      f.end();
    });
  });
  return f;
}

export const MAXPOOL_KERNELS = { maxpool: MAXPOOL, maxpoolbwd: MAXPOOL_BWD };

export function addMaxPoolKernels(mb: ModuleBuilder): void {
  mb.add('maxpool', maxPool());
  mb.add('maxpoolbwd', maxPoolBackward());
}
