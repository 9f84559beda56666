// Layout kernels: a strided 3-D gather that covers every permute once its dims are merged to rank ≤ 3.
import { funcOf, signature } from './abi.js';
import { Func, I32, type ModuleBuilder } from './emit.js';

/**
 * perm3: out[(i·d1 + j)·d2 + l] = x[i·s0 + j·s1 + l·s2] for i in i0..i1
 * (strides in floats). Runs with s2 = 1 move as v128 copies; others gather scalar by scalar.
 */
export const PERM3 = signature(['x', 'out', 'd1', 'd2', 's0', 's1', 's2', 'i0', 'i1']);
function perm3(): Func {
  const { f, p: { x, out, d1, d2, s0, s1, s2, i0, i1 } } = funcOf(PERM3);
  const i = f.local(I32), j = f.local(I32), l = f.local(I32), src = f.local(I32), dst = f.local(I32), d24 = f.local(I32), s24 = f.local(I32);
  f.get(d2).i32(-4).i32And().set(d24);
  f.get(s2).i32(4).i32Mul().set(s24);
  f.forLoop(i, () => f.get(i0), () => f.get(i1), 1, () => {
    f.forLoop(j, () => f.i32(0), () => f.get(d1), 1, () => {
      f.get(x).get(i).get(s0).i32Mul().get(j).get(s1).i32Mul().i32Add().i32(4).i32Mul().i32Add().set(src);
      f.get(out).get(i).get(d1).i32Mul().get(j).i32Add().get(d2).i32Mul().i32(4).i32Mul().i32Add().set(dst);
      f.get(s2).i32(1).i32Eq().if_();
      f.forLoop(l, () => f.i32(0), () => f.get(d24), 4, () => {
        f.get(dst).get(l).i32(4).i32Mul().i32Add();
        f.get(src).get(l).i32(4).i32Mul().i32Add().v128Load();
        f.v128Store();
      });
      f.forLoop(l, () => f.get(d24), () => f.get(d2), 1, () => {
        f.get(dst).get(l).i32(4).i32Mul().i32Add();
        f.get(src).get(l).i32(4).i32Mul().i32Add().f32Load();
        f.f32Store();
      });
      f.else_();
      f.forLoop(l, () => f.i32(0), () => f.get(d2), 1, () => {
        f.get(dst).get(l).i32(4).i32Mul().i32Add();
        f.get(src).get(l).get(s24).i32Mul().i32Add().f32Load();
        f.f32Store();
      });
      f.end();
    });
  });
  return f;
}

export const LAYOUT_KERNELS = { perm3: PERM3 };

export function addLayoutKernels(mb: ModuleBuilder): void {
  mb.add('perm3', perm3());
}
