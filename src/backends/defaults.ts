// withDefaults(): completes a backend that implements only the required core (src/backend.ts's CoreBackend) with
// every fast path it lacks, composed from the core's own kernels. Backends that have a fast path keep it; the
// compositions give the same results up to rounding and follow the deferred-execution rule by construction
// (they only issue core calls in order and release their temporaries after use). setBackend() applies it to
// every backend it makes, so the engine calls one complete interface and never tests for a member.
import type { AdamParams, AvgPoolGeometry, Backend, BackendImpl, CoreBackend, FastPaths, GemmEpilogue, MatmulGeometry, SgdParams, Storage, WindowGeometry } from '../backend.js';
import { avgPoolWindow, type Shape } from '../shape.js';
import { bnBackwardComposed, bnForwardComposed } from './batchnorm.js';

/** The fast paths withDefaults() fills in, by name. */
export const FAST_PATHS = ['batchNorm', 'batchNormBackward', 'matmulEpilogue', 'convEpilogue', 'convForward', 'convInputGrad', 'convWeightGrad', 'maxPool2d', 'maxPool2dBackward', 'avgPool2d', 'avgPool2dBackward', 'sgdStep', 'adamStep'] as const satisfies readonly (keyof FastPaths)[];

/** The fast paths `b` implements itself (the rest would come from withDefaults()). */
export function ownFastPaths(b: BackendImpl): Set<keyof FastPaths> {
  return new Set(FAST_PATHS.filter((m) => typeof b[m] === 'function' && !composed.has(b[m] as object)));
}

/** The functions withDefaults() installed, to tell them from a backend's own. */
const composed = new WeakSet<object>();

/**
 * Fills in, on `b` itself, every fast path it does not implement, and returns it typed as complete. Idempotent;
 * the object keeps its identity (tensors and storages compare backends by it).
 */
export function withDefaults<B extends BackendImpl>(b: B): B & Backend {
  const impl = defaults(b);
  const self = b as unknown as Record<string, unknown>;
  for (const m of FAST_PATHS) {
    if (typeof self[m] === 'function') continue;
    const f = impl[m] as (...a: unknown[]) => unknown;
    composed.add(f);
    self[m] = f;
  }
  return b as B & Backend;
}

/** Scratch storages of one composition, released (in order, after their use) at the end. */
function scratch(be: BackendImpl): { t: (s: Storage) => Storage; scalar: (v: number) => Storage; done: () => void } {
  const tmp: Storage[] = [];
  const t = (s: Storage): Storage => (tmp.push(s), s);
  return { t, scalar: (v) => t(be.fill(1, v)), done: () => tmp.forEach((s) => be.release(s)) };
}

/** Per (window position k, output position l) constants of a pooling geometry, as [1, K, 1, L] host arrays. */
function windowTable(g: WindowGeometry, f: (iy: number, ix: number, oy: number, ox: number) => number): Float32Array {
  const K = g.kh * g.kw;
  const L = g.oh * g.ow;
  const out = new Float32Array(K * L);
  for (let ky = 0; ky < g.kh; ky++)
    for (let kx = 0; kx < g.kw; kx++)
      for (let oy = 0; oy < g.oh; oy++)
        for (let ox = 0; ox < g.ow; ox++) out[(ky * g.kw + kx) * L + oy * g.ow + ox] = f(oy * g.sh - g.ph + ky * g.dh, ox * g.sw - g.pw + kx * g.dw, oy, ox);
  return out;
}

/** Each output position's divisor (PyTorch's rule, avgPoolWindow), as a [1, 1, 1, L] host array. */
function avgDivisors(g: AvgPoolGeometry): Float32Array {
  const out = new Float32Array(g.oh * g.ow);
  for (let oy = 0; oy < g.oh; oy++) for (let ox = 0; ox < g.ow; ox++) out[oy * g.ow + ox] = avgPoolWindow(g, oy, ox).div;
  return out;
}

// The conv primitive's three steps from the core (a backend with its own tries its kernel first, then these).
const gemm = (m: number, k: number, n: number, transA: boolean, transB: boolean): MatmulGeometry => ({ batch: 1, batchA: 1, batchB: 1, m, k, n, transA, transB });

/** im2col, then weight [oc, c·kh·kw] · columns; the columns go to the caller (the weight's gradient reads them). */
export function convForwardComposed(be: CoreBackend, x: Storage, weight: Storage, g: WindowGeometry, oc: number): { out: Storage; cols: Storage } {
  const cols = be.im2col(x, g);
  return { out: be.matmul(weight, cols, gemm(oc, g.c * g.kh * g.kw, g.n * g.oh * g.ow, false, false)), cols };
}

/** weightᵀ·gy gives the columns' gradient [c·kh·kw, n·oh·ow]; col2im sums it back over the windows. */
export function convInputGradComposed(be: CoreBackend, gy: Storage, weight: Storage, g: WindowGeometry, oc: number): Storage {
  const cols = be.matmul(weight, gy, gemm(g.c * g.kh * g.kw, oc, g.n * g.oh * g.ow, true, false));
  const dx = be.col2im(cols, g);
  be.release(cols);
  return dx;
}

/** gy·colsᵀ, with the forward's columns or im2col(x) made (and dropped) here. */
export function convWeightGradComposed(be: CoreBackend, gy: Storage, x: Storage, cols: Storage | null, g: WindowGeometry, oc: number): Storage {
  const c = cols ?? be.im2col(x, g);
  const dw = be.matmul(gy, c, gemm(oc, g.n * g.oh * g.ow, g.c * g.kh * g.kw, false, true));
  if (!cols) be.release(c);
  return dw;
}

/** The composed fast paths for one backend. */
function defaults(be: BackendImpl): FastPaths {
  return {
    batchNorm: (x, shape, weight, bias, eps) => bnForwardComposed(be, x, shape, weight, bias, eps),
    batchNormBackward: (dy, x, shape, mean, variance, weight, eps) => bnBackwardComposed(be, dy, x, shape, mean, variance, weight, eps),

    // act(A·B·scale[i] + shift[i] (+ residual)), in the order the unfused path applies them.
    matmulEpilogue(a: Storage, b: Storage, g: MatmulGeometry, e: GemmEpilogue): Storage {
      const { t, done } = scratch(be);
      const mn = [g.m, g.n];
      const col = [g.m, 1];
      let y = be.binary('add', t(be.binary('mul', t(be.matmul(a, b, g)), mn, e.scale, col, mn)), mn, e.shift, col, mn);
      if (e.residual) y = be.binary('add', t(y), mn, e.residual, mn, mn);
      if (e.relu) y = be.unary('relu', t(y), 0);
      done();
      return y;
    },
    // im2col, then the backend's matmulEpilogue (its own, or the composition above).
    convEpilogue(x: Storage, weight: Storage, g: WindowGeometry, oc: number, e: GemmEpilogue): Storage {
      const k = g.c * g.kh * g.kw;
      const cols = be.im2col(x, g);
      const y = (be as Backend).matmulEpilogue(weight, cols, { batch: 1, batchA: 1, batchB: 1, m: oc, k, n: g.n * g.oh * g.ow, transA: false, transB: false }, e);
      be.release(cols);
      return y;
    },
    convForward: (x, weight, g, oc) => convForwardComposed(be, x, weight, g, oc),
    convInputGrad: (gy, weight, g, oc) => convInputGradComposed(be, gy, weight, g, oc),
    convWeightGrad: (gy, x, cols, g, oc) => convWeightGradComposed(be, gy, x, cols, g, oc),

    // The windows as im2col columns [c, K, n, L]; padding made −∞ so it never wins. PyTorch's index: the first
    // maximum, or where the window holds NaN (which propagates) its last NaN. Each hit scores big − index (a
    // maximum: the smallest index scores most) or 2·big + index (a NaN: the largest scores most, above any
    // maximum's), and the window's best score is decoded back (exact while 3·h·w < 2^24).
    maxPool2d(x: Storage, g: WindowGeometry): { out: Storage; indices: Storage } {
      const { t, scalar, done } = scratch(be);
      const K = g.kh * g.kw;
      const L = g.oh * g.ow;
      const valid = (iy: number, ix: number): boolean => iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
      const big = g.h * g.w; // > every plane index, so big − index ≥ 1 marks a valid position
      const win: Shape = [g.c, K, g.n, L];
      const per: Shape = [1, K, 1, L];
      const red: Shape = [g.c, 1, g.n, L];
      const pen = t(be.upload(windowTable(g, (iy, ix) => (valid(iy, ix) ? 0 : -Infinity))));
      const rank = t(be.upload(windowTable(g, (iy, ix) => (valid(iy, ix) ? big - (iy * g.w + ix) : 0))));
      const nanRank = t(be.upload(windowTable(g, (iy, ix) => (valid(iy, ix) ? 2 * big + (iy * g.w + ix) : 0))));
      const v = t(be.binary('add', t(be.im2col(x, g)), win, pen, per, win));
      const mx = t(be.reduce('max', v, win, [1]));
      const score = t(be.binary('add', t(be.binary('mul', t(be.binary('eq', v, win, mx, red, win)), win, rank, per, win)), win, t(be.binary('mul', t(be.binary('ne', v, win, v, win, win)), win, nanRank, per, win)), win, win));
      const best = t(be.reduce('max', score, win, [1]));
      // index = big − best, or best − 2·big where best > big (a NaN): (big − best) + isNaN·(2·best − 3·big).
      const isNan = t(be.binary('gt', best, red, scalar(big), [], red));
      const nanFix = t(be.binary('mul', isNan, red, t(be.binary('sub', t(be.binary('mul', best, red, scalar(2), [], red)), red, scalar(3 * big), [], red)), red, red));
      const idx = t(be.binary('add', t(be.binary('sub', scalar(big), [], best, red, red)), red, nanFix, red, red));
      const cnl = [g.c, g.n, L];
      const out = { out: be.permute(mx, cnl, [1, 0, 2]), indices: be.permute(idx, cnl, [1, 0, 2]) };
      done();
      return out;
    },
    // Each output's gradient added at its max's plane index.
    maxPool2dBackward: (gy, indices, g) => be.scatterAdd(gy, indices, { outer: g.n * g.c, n: g.h * g.w, k: g.oh * g.ow, inner: 1 }),

    // Window sums from im2col (zero padding adds nothing) over PyTorch's divisor per output position.
    avgPool2d(x: Storage, g: AvgPoolGeometry): Storage {
      const { t, done } = scratch(be);
      const L = g.oh * g.ow;
      const win = [g.c, g.kh * g.kw, g.n, L];
      const red = [g.c, 1, g.n, L];
      const s = t(be.reduce('sum', t(be.im2col(x, g)), win, [1]));
      const q = t(be.binary('div', s, red, t(be.upload(avgDivisors(g))), [1, 1, 1, L], red));
      const out = be.permute(q, [g.c, g.n, L], [1, 0, 2]);
      done();
      return out;
    },
    // Each output's share spread over its window's columns, summed back into the input by col2im.
    avgPool2dBackward(gy: Storage, g: AvgPoolGeometry): Storage {
      const { t, done } = scratch(be);
      const K = g.kh * g.kw;
      const L = g.oh * g.ow;
      const red = [g.c, 1, g.n, L];
      const share = t(be.binary('div', t(be.permute(gy, [g.n, g.c, L], [1, 0, 2])), red, t(be.upload(avgDivisors(g))), [1, 1, 1, L], red));
      const cols = t(be.binary('mul', share, red, t(be.fill(K, 1)), [1, K, 1, 1], [g.c, K, g.n, L]));
      const out = be.col2im(cols, g);
      done();
      return out;
    },

    // torch.optim's SGD, element for element as the reference backend's loop; new values copied in at the end.
    sgdStep(param: Storage, grad: Storage, momentumBuf: Storage | null, p: SgdParams): void {
      const { t, scalar, done } = scratch(be);
      const S = [param.size];
      const axpy = (x: Storage, a: number, y: Storage, b: number): Storage => t(be.binary('add', t(be.binary('mul', x, S, scalar(a), [], S)), S, t(be.binary('mul', y, S, scalar(b), [], S)), S, S));
      let g = t(be.binary('add', grad, S, t(be.binary('mul', param, S, scalar(p.weightDecay), [], S)), S, S));
      if (momentumBuf && p.momentum !== 0) {
        const buf = p.firstStep ? g : axpy(momentumBuf, p.momentum, g, 1 - p.dampening);
        be.copyInto(momentumBuf, buf);
        g = p.nesterov ? t(be.binary('add', g, S, t(be.binary('mul', buf, S, scalar(p.momentum), [], S)), S, S)) : buf;
      }
      be.copyInto(param, t(be.binary('sub', param, S, t(be.binary('mul', g, S, scalar(p.lr), [], S)), S, S)));
      done();
    },
    // torch.optim's Adam/AdamW, as the reference backend's loop.
    adamStep(param: Storage, grad: Storage, m: Storage, v: Storage, p: AdamParams): void {
      const { t, scalar, done } = scratch(be);
      const S = [param.size];
      const bin = (op: 'add' | 'sub' | 'mul' | 'div', a: Storage, b: Storage): Storage => t(be.binary(op, a, S, b, S, S));
      const times = (a: Storage, s: number): Storage => t(be.binary('mul', a, S, scalar(s), [], S));
      const bc1 = 1 - Math.pow(p.beta1, p.step);
      const bc2 = 1 - Math.pow(p.beta2, p.step);
      let w = param;
      let g = grad;
      if (p.decoupled) w = times(param, 1 - p.lr * p.weightDecay);
      else g = bin('add', grad, times(param, p.weightDecay));
      const m1 = bin('add', times(m, p.beta1), times(g, 1 - p.beta1));
      const v1 = bin('add', times(v, p.beta2), bin('mul', times(g, 1 - p.beta2), g));
      const denom = t(be.binary('add', t(be.unary('sqrt', t(be.binary('div', v1, S, scalar(bc2), [], S)), 0)), S, scalar(p.eps), [], S));
      const w1 = bin('sub', w, times(bin('div', m1, denom), p.lr / bc1));
      be.copyInto(m, m1);
      be.copyInto(v, v1);
      be.copyInto(param, w1);
      done();
    },
  };
}
