// The gpu.js adapter's operations as steps (schedule.ts): each picks its kernels of kernels/gpujs by size and mode,
// or the host path (host.ts) when a tensor reaches the 2^24 flat-index limit. Elementwise, reduce, layout,
// window and optimizer ops here; the GEMM in gemm.ts.
import type { AdamParams, AvgPoolGeometry, BinaryOp, GatherGeometry, ReduceOp, SgdParams, Storage, UnaryOp, WindowGeometry } from '../../backend.js';
import { broadcastStrides, sizeOf, type Shape } from '../../shape.js';
import { K } from './compile.js';
import type { Device, GpujsStorage } from './device.js';
import type { HostPath } from './host.js';
import type { Step } from './schedule.js';

/** The size of a reduction's output (the reduced axes kept as 1). */
export function reducedSize(shape: Shape, axes: readonly number[]): number {
  return sizeOf(shape.map((d, i) => (axes.includes(i) ? 1 : d)));
}

export class Ops {
  constructor(
    private readonly d: Device,
    private readonly host: HostPath,
  ) {}

  // ---- elementwise, reduce ----

  *unary(op: UnaryOp, x: Storage, param: number): Step<GpujsStorage> {
    if (this.d.isBig(x.size)) return yield* this.host.unary(op, x, param);
    return yield* this.d.run(K.unary(op, param, x.size), [this.d.arg(x)]);
  }

  *binary(op: BinaryOp, a: Storage, aShape: Shape, b: Storage, bShape: Shape, outShape: Shape): Step<GpujsStorage> {
    const n = sizeOf(outShape);
    if (this.d.isBig(n, a.size, b.size)) return yield* this.host.reference(`binary.${op}`, (r, up) => r.binary(op, up(a), aShape, up(b), bShape, outShape));
    const sa = broadcastStrides(aShape, outShape);
    const sb = broadcastStrides(bShape, outShape);
    return yield* this.d.run(K.binary(op, outShape, sa, sb, n), [this.d.arg(a), this.d.arg(b)]);
  }

  *reduce(op: ReduceOp, x: Storage, shape: Shape, axes: readonly number[]): Step<GpujsStorage> {
    if (this.d.isBig(x.size)) return yield* this.host.reference(`reduce.${op}`, (r, up) => r.reduce(op, up(x), shape, axes));
    // An empty reduction gives the identity (as the reference: 0 for sum, -inf for max).
    if (x.size === 0) return yield* this.d.fill(reducedSize(shape, axes), op === 'sum' ? 0 : -Infinity);
    if (axes.every((a) => shape[a] === 1)) return yield* this.d.run(K.copy(x.size), [this.d.arg(x)]);
    return yield* this.d.run(K.reduce(op, shape, axes), [this.d.arg(x)]);
  }

  /** A fresh copy of `src` taken over by `dst` (host arrays copied on the host; textures through an identity kernel). */
  *copyInto(dst: Storage, src: Storage): Step<void> {
    const d = this.d;
    d.swap(dst, (src as GpujsStorage).tex ? yield* this.unary('pow', src, 1) : d.make(src.size, d.hostOf(src).slice(), null));
  }

  // ---- layout ----

  *permute(x: Storage, shape: Shape, perm: readonly number[]): Step<GpujsStorage> {
    if (this.d.isBig(x.size)) return yield* this.host.reference('permute', (r, up) => r.permute(up(x), shape, perm));
    return yield* this.d.run(K.permute(shape, perm), [this.d.arg(x)]);
  }

  *slice(x: Storage, shape: Shape, axis: number, start: number, length: number): Step<GpujsStorage> {
    if (this.d.isBig(x.size)) return yield* this.host.reference('slice', (r, up) => r.slice(up(x), shape, axis, start, length));
    const outer = sizeOf(shape.slice(0, axis));
    const inner = sizeOf(shape.slice(axis + 1));
    return yield* this.d.run(K.slice(outer, shape[axis], inner, start, length), [this.d.arg(x)]);
  }

  *gather(x: Storage, index: Storage, g: GatherGeometry): Step<GpujsStorage> {
    const total = g.outer * g.k * g.inner;
    if (total === 0) return this.d.make(0, new Float32Array(0), null);
    if (this.d.isBig(total, x.size)) return yield* this.host.reference('gather', (r, up) => r.gather(up(x), up(index), g));
    return yield* this.d.run(K.gather(g.outer, g.n, g.k, g.inner), [this.d.arg(x), this.d.arg(index)]);
  }

  *scatterAdd(src: Storage, index: Storage, g: GatherGeometry): Step<GpujsStorage> {
    const total = g.outer * g.n * g.inner;
    if (total === 0) return this.d.make(0, new Float32Array(0), null);
    if (g.k === 0) return yield* this.d.fill(total, 0);
    if (this.d.isBig(total, src.size)) return yield* this.host.reference('scatterAdd', (r, up) => r.scatterAdd(up(src), up(index), g));
    return yield* this.d.run(K.scatterAdd(g.outer, g.n, g.k, g.inner), [this.d.arg(src), this.d.arg(index)]);
  }

  *concat(xs: readonly Storage[], shapes: readonly Shape[], axis: number): Step<GpujsStorage> {
    const d = this.d;
    const total = xs.reduce((s, x) => s + x.size, 0);
    if (d.isBig(total)) return yield* this.host.reference('concat', (r, up) => r.concat(xs.map(up), shapes, axis));
    const outer = sizeOf(shapes[0].slice(0, axis));
    const inner = sizeOf(shapes[0].slice(axis + 1));
    // Empty parts contribute nothing; at most 8 inputs per kernel (texture units on GL), so chain.
    const parts = xs.map((x, i) => ({ x, len: shapes[i][axis] })).filter((p) => p.len > 0 && p.x.size > 0);
    if (parts.length === 0) return d.make(0, new Float32Array(0), null);
    let acc = parts[0];
    let owned: GpujsStorage | null = null;
    for (let i = 1; i < parts.length; i += 7) {
      const group = [acc, ...parts.slice(i, i + 7)];
      const out: GpujsStorage = yield* d.run(K.concat(outer, group.map((p) => p.len), inner), group.map((p) => d.arg(p.x)));
      if (owned) d.free(owned);
      owned = out;
      acc = { x: out, len: group.reduce((s, p) => s + p.len, 0) };
    }
    return owned ?? (yield* d.run(K.copy(acc.x.size), [d.arg(acc.x)]));
  }

  // ---- windows ----

  *im2col(x: Storage, g: WindowGeometry): Step<GpujsStorage> {
    const rows = g.c * g.kh * g.kw;
    const cols = g.n * g.oh * g.ow;
    if (this.d.isBig(x.size, cols)) return yield* this.host.reference('im2col', (r, up) => r.im2col(up(x), g));
    if (!this.d.isBig(rows * cols)) return yield* this.d.run(K.im2col(g, 0, rows), [this.d.arg(x)]);
    return yield* this.host.im2col(x, g);
  }

  *col2im(cols: Storage, g: WindowGeometry): Step<GpujsStorage> {
    const per = g.kh * g.kw * g.n * g.oh * g.ow; // elements of cols per channel
    if (this.d.isBig(g.n * g.c * g.h * g.w, per)) return yield* this.host.reference('col2im', (r, up) => r.col2im(up(cols), g));
    if (!this.d.isBig(cols.size)) return yield* this.d.run(K.col2im(g, g.c), [this.d.arg(cols)]);
    return yield* this.host.col2im(cols, g);
  }

  /** Max pooling's values, or (`indices`) the flat index of each window's maximum. */
  *maxPool(x: Storage, g: WindowGeometry, indices: boolean): Step<GpujsStorage> {
    if (this.d.isBig(x.size)) return yield* this.host.reference('maxPool2d', (r, up) => {
      const o = r.maxPool2d(up(x), g);
      return indices ? o.indices : o.out;
    });
    return yield* this.d.run(K.maxPool(g, indices), [this.d.arg(x)]);
  }

  *maxPoolBackward(gy: Storage, indices: Storage, g: WindowGeometry): Step<GpujsStorage> {
    if (this.d.isBig(g.n * g.c * g.h * g.w)) return yield* this.host.reference('maxPool2dBackward', (r, up) => r.maxPool2dBackward(up(gy), up(indices), g));
    return yield* this.d.run(K.maxPoolBackward(g), [this.d.arg(gy), this.d.arg(indices)]);
  }

  *avgPool(x: Storage, g: AvgPoolGeometry): Step<GpujsStorage> {
    if (this.d.isBig(x.size)) return yield* this.host.reference('avgPool2d', (r, up) => r.avgPool2d(up(x), g));
    return yield* this.d.run(K.avgPool(g), [this.d.arg(x)]);
  }

  *avgPoolBackward(gy: Storage, g: AvgPoolGeometry): Step<GpujsStorage> {
    if (this.d.isBig(g.n * g.c * g.h * g.w)) return yield* this.host.reference('avgPool2dBackward', (r, up) => r.avgPool2dBackward(up(gy), g));
    return yield* this.d.run(K.avgPoolBackward(g), [this.d.arg(gy)]);
  }

  // ---- optimizers: new values computed by kernels, then swapped into the same handles ----

  *sgdStep(param: Storage, grad: Storage, momentumBuf: Storage | null, p: SgdParams): Step<void> {
    const d = this.d;
    if (d.isBig(param.size)) return yield* this.host.sgdStep(param, grad, momentumBuf, p);
    const useM = momentumBuf !== null && p.momentum !== 0;
    const h = Float32Array.from([p.lr, p.momentum, p.dampening, p.weightDecay, p.nesterov ? 1 : 0, p.firstStep ? 1 : 0, useM ? 1 : 0]);
    const m = useM ? d.arg(momentumBuf) : d.arg(grad);
    if (useM && d.gl) {
      // One pass with two render targets reads p, g and m once (the split kernels read them twice).
      const [newP, newM] = yield* d.runMap(K.sgdFused(param.size), [d.arg(param), d.arg(grad), m, h]);
      d.swap(momentumBuf, newM);
      d.swap(param, newP);
      return;
    }
    const newP = yield* d.run(K.sgdParam(param.size), [d.arg(param), d.arg(grad), m, h]);
    if (useM) {
      const newM = yield* d.run(K.sgdBuf(param.size), [d.arg(param), d.arg(grad), m, h]);
      d.swap(momentumBuf, newM);
    }
    d.swap(param, newP);
  }

  *adamStep(param: Storage, grad: Storage, m: Storage, v: Storage, p: AdamParams): Step<void> {
    const d = this.d;
    if (d.isBig(param.size)) return yield* this.host.adamStep(param, grad, m, v, p);
    const h = Float32Array.from([p.lr, p.beta1, p.beta2, p.eps, p.weightDecay, p.decoupled ? 1 : 0, 1 - Math.pow(p.beta1, p.step), 1 - Math.pow(p.beta2, p.step)]);
    const args = [d.arg(param), d.arg(grad), d.arg(m), d.arg(v), h];
    // GL: one pass with three render targets; elsewhere (kernel maps would fall back to cpu) three kernels.
    let outs: GpujsStorage[] = [];
    if (d.gl) outs = yield* d.runMap(K.adamFused(param.size), args);
    else for (const which of [0, 1, 2] as const) outs.push(yield* d.run(K.adam(param.size, which), args));
    const [np, nm, nv] = outs;
    d.swap(param, np);
    d.swap(m, nm);
    d.swap(v, nv);
  }
}
