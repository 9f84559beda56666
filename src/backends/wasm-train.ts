// The wasm backend's training-only kernels' drivers: batch norm (per-channel statistics and the normalise/affine
// pass as emitted kernels split over threads by channel, kernels/wasm/batchnorm.ts, with the few per-channel
// scalars worked out in JS between them; the backward uses src/backends/batchnorm.ts's one formula) and the
// in-place optimizer steps (kernels/wasm/optim.ts).
import type { AdamParams, BatchNormGrads, BatchNormResult, SgdParams, Storage } from '../backend.js';
import type { Shape } from '../shape.js';
import type { KernelArgs, KernelName } from '../../kernels/wasm/module.js';
import { splitRange } from '../../kernels/wasm/pool.js';
import { bnGradCoefficients, hostMath } from './batchnorm.js';

/** What these drivers use of the backend: storages in its heap, its threads and kernels. */
export interface TrainContext {
  alloc(size: number): Storage;
  release(s: Storage): void;
  threads(big: boolean): number;
  par<K extends KernelName>(name: K, parts: readonly KernelArgs<K>[]): void;
  /** The heap's float view (current after growth). */
  f32(): Float32Array;
  /** A storage's byte address in the heap. */
  ptr(s: Storage): number;
  /** Element ranges of a memory-bound kernel over n floats, one per thread. */
  chunks(n: number): [number, number][];
  /** Drops what the backend keeps derived from a weight (packed panels, Winograd transforms): it is written. */
  forget(s: Storage): void;
}

/**
 * How a batch-norm pass splits its channels over threads: the lane kernels (four channels per f32x4,
 * kernels/wasm/batchnorm.ts) on 1×1 maps, whose channel ranges stay multiples of 4, else the per-channel ones.
 */
function channelSplit(ctx: TrainContext, n: number, c: number, hw: number): { lanes: boolean; split: [number, number][] } {
  const T = ctx.threads(n * c * hw >= 1 << 15);
  const lanes = hw === 1 && c % 4 === 0;
  return { lanes, split: lanes ? splitRange(c / 4, T).map(([a, b]): [number, number] => [4 * a, 4 * b]) : splitRange(c, T) };
}

/** Training-mode batch norm over x [n, c, h, w]: y, and the batch mean and biased variance per channel. */
export function wasmBatchNorm(ctx: TrainContext, x: Storage, shape: Shape, weight: Storage, bias: Storage, eps: number): BatchNormResult {
  const ix = (s: Storage): number => ctx.ptr(s) >>> 2; // float index in the heap view
  const [n, c, h, w] = shape;
  const hw = h * w;
  const out = ctx.alloc(n * c * hw);
  const mean = ctx.alloc(c);
  const variance = ctx.alloc(c);
  const stats = ctx.alloc(2 * c);
  const aff = ctx.alloc(2 * c);
  const { lanes, split } = channelSplit(ctx, n, c, hw);
  ctx.par(lanes ? 'bnstats_c' : 'bnstats', split.map(([c0, c1]) => ({ x: ctx.ptr(x), out: ctx.ptr(stats), n, c, hw, c0, c1 })));
  // Per channel in JS (c values): the statistics out, and y = x·scale + shift with scale = w/√(var + eps).
  const f = ctx.f32();
  const [S, M, V, W, B, A] = [ix(stats), ix(mean), ix(variance), ix(weight), ix(bias), ix(aff)];
  // Mean and variance interleaved per channel, or planar for the lane kernels.
  const [sm, sv] = lanes ? [1, c] : [2, 1];
  for (let ch = 0; ch < c; ch++) {
    const mu = f[S + sm * ch];
    const v = f[S + sm * ch + sv];
    f[M + ch] = mu;
    f[V + ch] = v;
    const scale = f[W + ch] / Math.sqrt(v + eps);
    f[A + ch] = scale;
    f[A + c + ch] = f[B + ch] - mu * scale;
  }
  ctx.par(lanes ? 'chaffine_c' : 'chaffine', split.map(([c0, c1]) => ({ x: ctx.ptr(x), y: ctx.ptr(out), n, c, hw, c0, c1, scale: ctx.ptr(aff), shift: ctx.ptr(aff) + 4 * c })));
  ctx.release(stats);
  ctx.release(aff);
  return { out, mean, var: variance };
}

/** Its gradient: dx, dweight and dbias from dy, the input and the saved statistics. */
export function wasmBatchNormBackward(ctx: TrainContext, dy: Storage, x: Storage, shape: Shape, mean: Storage, variance: Storage, weight: Storage, eps: number): BatchNormGrads {
  const ix = (s: Storage): number => ctx.ptr(s) >>> 2;
  const [n, c, h, w] = shape;
  const hw = h * w;
  const cnt = n * hw;
  const dx = ctx.alloc(n * c * hw);
  const dweight = ctx.alloc(c);
  const dbias = ctx.alloc(c);
  const sums = ctx.alloc(2 * c);
  const coef = ctx.alloc(3 * c);
  const { lanes, split } = channelSplit(ctx, n, c, hw);
  ctx.par(lanes ? 'bnbwdstats_c' : 'bnbwdstats', split.map(([c0, c1]) => ({ dy: ctx.ptr(dy), x: ctx.ptr(x), n, c, hw, c0, c1, mean: ctx.ptr(mean), out: ctx.ptr(sums) })));
  // dx = a·dy + k·(x − mean) + m per channel (bnGradCoefficients), applied as a·dy + k·x + (m − k·mean).
  const f = ctx.f32();
  const [S, M, V, W, DW, DB, K] = [ix(sums), ix(mean), ix(variance), ix(weight), ix(dweight), ix(dbias), ix(coef)];
  // Sums and coefficients interleaved per channel, or planar for the lane kernels.
  const [s0, s1, k0, k1] = lanes ? [1, c, 1, c] : [2, 1, 3, 1];
  for (let ch = 0; ch < c; ch++) {
    const { a, k, m, dweight: dw, dbias: db } = bnGradCoefficients(hostMath, f[W + ch], 1 / Math.sqrt(f[V + ch] + eps), f[S + s0 * ch], f[S + s0 * ch + s1], cnt);
    f[DB + ch] = db;
    f[DW + ch] = dw;
    f[K + k0 * ch] = a;
    f[K + k0 * ch + k1] = k;
    f[K + k0 * ch + 2 * k1] = m - k * f[M + ch];
  }
  ctx.par(lanes ? 'bnbwdapply_c' : 'bnbwdapply', split.map(([c0, c1]) => ({ dy: ctx.ptr(dy), x: ctx.ptr(x), dx: ctx.ptr(dx), n, c, hw, c0, c1, coef: ctx.ptr(coef) })));
  ctx.release(sums);
  ctx.release(coef);
  return { dx, dweight, dbias };
}

/** SGD in place (torch.optim semantics, kernels/wasm/optim.ts). */
export function wasmSgdStep(ctx: TrainContext, param: Storage, grad: Storage, momentumBuf: Storage | null, p: SgdParams): void {
  ctx.forget(param); // written in place below: a kept packing would be stale
  const useM = momentumBuf !== null && p.momentum !== 0;
  // buf = a·m + b·g; g' = cg·g + cb·buf (see kernels/wasm/optim.ts)
  const a = p.firstStep ? 0 : p.momentum;
  const b = p.firstStep ? 1 : 1 - p.dampening;
  const [cg, cb] = p.nesterov ? [1, p.momentum] : [0, 1];
  const P = ctx.ptr(param);
  const G = ctx.ptr(grad);
  const M = useM ? ctx.ptr(momentumBuf as Storage) : 0;
  const [lr, wd] = [p.lr, p.weightDecay];
  ctx.par('sgd', ctx.chunks(param.size).map(([i0, i1]) => ({ p: P + i0 * 4, g: G + i0 * 4, m: M + (useM ? i0 * 4 : 0), n: i1 - i0, lr, wd, a, b, cg, cb, useM: useM ? 1 : 0 })));
}

/** Adam/AdamW in place. */
export function wasmAdamStep(ctx: TrainContext, param: Storage, grad: Storage, mS: Storage, vS: Storage, p: AdamParams): void {
  ctx.forget(param); // written in place below
  const bc1 = 1 - Math.pow(p.beta1, p.step);
  const bc2 = 1 - Math.pow(p.beta2, p.step);
  const decay = p.decoupled ? 1 - p.lr * p.weightDecay : 1;
  const wd = p.decoupled ? 0 : p.weightDecay;
  const [P, G, M, V] = [param, grad, mS, vS].map((s) => ctx.ptr(s));
  const coef = { decay, wd, b1: p.beta1, c1: 1 - p.beta1, b2: p.beta2, c2: 1 - p.beta2, bc2, eps: p.eps, stepSize: p.lr / bc1 };
  ctx.par('adam', ctx.chunks(param.size).map(([i0, i1]) => ({ ...coef, p: P + i0 * 4, g: G + i0 * 4, m: M + i0 * 4, v: V + i0 * 4, n: i1 - i0 })));
}
