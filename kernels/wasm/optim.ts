// Fused optimizer updates (torch.optim semantics) as f32x4 loops with a scalar tail. The JS side folds the
// hyper-parameter branches (first step, nesterov, decoupled decay) into coefficients, so one body serves all.
import { funcOf, signature } from './abi.js';
import { F32, Func, I32, V128, type ModuleBuilder } from './emit.js';

/** Emits a body twice, over f32x4 (4 elements per step) and then over f32 for the tail. */
function vectorised(f: Func, n: number, i: number, body: (vec: boolean) => void): void {
  const n4 = f.local(I32);
  f.get(n).i32(-4).i32And().set(n4);
  f.forLoop(i, () => f.i32(0), () => f.get(n4), 4, () => body(true));
  f.forLoop(i, () => f.get(n4), () => f.get(n), 1, () => body(false));
}

/** Small expression helpers that pick the vector or scalar instruction. */
function ops(f: Func, vec: boolean) {
  return {
    load: (base: number, i: number) => (f.get(base).get(i).i32(4).i32Mul().i32Add(), vec ? f.v128Load() : f.f32Load()),
    addr: (base: number, i: number) => f.get(base).get(i).i32(4).i32Mul().i32Add(),
    store: () => (vec ? f.v128Store() : f.f32Store()),
    add: () => (vec ? f.f32x4Add() : f.f32Add()),
    sub: () => (vec ? f.f32x4Sub() : f.f32Sub()),
    mul: () => (vec ? f.f32x4Mul() : f.f32Mul()),
    div: () => (vec ? f.f32x4Div() : f.f32Div()),
    sqrt: () => (vec ? f.f32x4Sqrt() : f.f32Sqrt()),
    /** A coefficient: the scalar local, splatted for vectors. */
    k: (c: number) => (vec ? f.get(c).f32x4Splat() : f.get(c)),
  };
}

/**
 * sgd: gr = g + wd·p; with useM: buf = a·m + b·gr, m = buf,
 * gr = cg·gr + cb·buf; p -= lr·gr.
 */
export const SGD = signature(['p', 'g', 'm', 'n', 'lr', 'wd', 'a', 'b', 'cg', 'cb', 'useM'], { f32: ['lr', 'wd', 'a', 'b', 'cg', 'cb'] });
function sgd(): Func {
  const { f, p: { p: P, g: G, m: M, n, lr, wd, a, b, cg, cb, useM } } = funcOf(SGD);
  const i = f.local(I32), gv = f.local(V128), bv = f.local(V128), gs = f.local(F32), bs = f.local(F32);
  vectorised(f, n, i, (vec) => {
    const o = ops(f, vec);
    const g = vec ? gv : gs, buf = vec ? bv : bs;
    o.load(G, i); o.k(wd); o.load(P, i); o.mul(); o.add(); f.set(g);
    f.get(useM).if_();
    o.k(a); o.load(M, i); o.mul(); o.k(b); f.get(g); o.mul(); o.add(); f.set(buf);
    o.addr(M, i); f.get(buf); o.store();
    o.k(cg); f.get(g); o.mul(); o.k(cb); f.get(buf); o.mul(); o.add(); f.set(g);
    f.end();
    o.addr(P, i); o.load(P, i); o.k(lr); f.get(g); o.mul(); o.sub(); o.store();
  });
  return f;
}

/**
 * adam: w = p·decay; gr = g + wd·w;
 * m = b1·m + c1·gr; v = b2·v + c2·gr²; p = w − stepSize·m / (sqrt(v / bc2) + eps).
 */
export const ADAM = signature(['p', 'g', 'm', 'v', 'n', 'decay', 'wd', 'b1', 'c1', 'b2', 'c2', 'bc2', 'eps', 'stepSize'], {
  f32: ['decay', 'wd', 'b1', 'c1', 'b2', 'c2', 'bc2', 'eps', 'stepSize'],
});
function adam(): Func {
  const { f, p: { p: P, g: G, m: M, v: V, n, decay, wd, b1, c1, b2, c2, bc2, eps, stepSize } } = funcOf(ADAM);
  const i = f.local(I32);
  const wv = f.local(V128), gv = f.local(V128), mv = f.local(V128), vv = f.local(V128);
  const ws = f.local(F32), gs = f.local(F32), ms = f.local(F32), vs = f.local(F32);
  vectorised(f, n, i, (vec) => {
    const o = ops(f, vec);
    const [w, g, m, v] = vec ? [wv, gv, mv, vv] : [ws, gs, ms, vs];
    o.load(P, i); o.k(decay); o.mul(); f.set(w);
    o.load(G, i); o.k(wd); f.get(w); o.mul(); o.add(); f.set(g);
    o.k(b1); o.load(M, i); o.mul(); o.k(c1); f.get(g); o.mul(); o.add(); f.set(m);
    o.k(b2); o.load(V, i); o.mul(); o.k(c2); f.get(g); f.get(g); o.mul(); o.mul(); o.add(); f.set(v);
    o.addr(M, i); f.get(m); o.store();
    o.addr(V, i); f.get(v); o.store();
    o.addr(P, i); f.get(w); o.k(stepSize); f.get(m); o.mul(); f.get(v); o.k(bc2); o.div(); o.sqrt(); o.k(eps); o.add(); o.div(); o.sub(); o.store();
  });
  return f;
}

export const OPTIM_KERNELS = { sgd: SGD, adam: ADAM };

export function addOptimKernels(mb: ModuleBuilder): void {
  mb.add('sgd', sgd());
  mb.add('adam', adam());
}
