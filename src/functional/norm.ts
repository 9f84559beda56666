// F's normalisations: batch norm (training statistics, and the eval-mode fold into one scale and shift per
// channel), layer norm, group norm and Lp normalize.
import { fail, fmt } from '../errors.js';
import { sameShape } from '../shape.js';
import * as o from '../ops.js';
import { Tensor } from '../tensor.js';
import { noGrad } from '../engine.js';
import { runAs } from '../opscope.js';
import { describe } from '../options.js';
import { checkOptions, checkTensor, clamp } from '../ops-extra.js';
import { callForm, finite, flag, need4d } from './common.js';
import { plainFold, scaleShift } from './deferred.js';

export interface BatchNormOptions {
  training?: boolean;
  momentum?: number;
  eps?: number;
}

/**
 * Batch normalisation over [N, C, H, W] with PyTorch's semantics: in training, normalise with the batch
 * mean and biased variance and update the running statistics in place with momentum and the unbiased
 * variance; otherwise normalise with the running statistics.
 */
export function batchNorm2d(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, weight?: Tensor | null, bias?: Tensor | null, options?: BatchNormOptions): Tensor;
/** PyTorch's positional form: batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps). */
export function batchNorm2d(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, weight: Tensor | null | undefined, bias: Tensor | null | undefined, training: boolean, momentum?: number, eps?: number): Tensor;
export function batchNorm2d(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, weight: Tensor | null = null, bias: Tensor | null = null, ...rest: unknown[]): Tensor {
  return runAs('batchNorm2d', ['input', 'runningMean', 'runningVar', 'weight', 'bias'], [x, runningMean, runningVar, weight, bias], () =>
    batchNormBody(x, runningMean, runningVar, weight, bias, callForm('batchNorm2d', rest, ['training', 'momentum', 'eps'], BN_FORMS)),
  );
}

const BN_FORMS = 'batchNorm2d(input, runningMean, runningVar, weight?, bias?, training?, momentum?, eps?) or batchNorm2d(input, runningMean, runningVar, weight, bias, { training?, momentum?, eps? })';

function batchNormBody(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, weight: Tensor | null, bias: Tensor | null, options: Record<string, unknown>): Tensor {
  need4d('batchNorm2d', 'input', x);
  const training = flag('batchNorm2d', 'training', options.training, false, BN_FORMS);
  const num = (name: string, v: unknown, dflt: number): number => {
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'number') fail('batchNorm2d', `${name} must be a number, got ${describe(v)}; accepted forms: ${BN_FORMS}`);
    return v;
  };
  const momentum = num('momentum', options.momentum, 0.1);
  const eps = num('eps', options.eps, 1e-5);
  const [n, c, h, w] = x.shape;
  const check = (name: string, t: Tensor | null): void => {
    if (t === null) return;
    if (!(t instanceof Tensor)) fail('batchNorm2d', `${name} must be a Tensor or null, got ${describe(t)}; accepted forms: ${BN_FORMS}`);
    if (t.rank !== 1 || t.shape[0] !== c) fail('batchNorm2d', `${name} must have shape [${c}] for input ${fmt(x.shape)} with ${c} channels, got ${fmt(t.shape)}`);
  };
  check('runningMean', runningMean);
  check('runningVar', runningVar);
  check('weight', weight);
  check('bias', bias);
  if ((runningMean === null) !== (runningVar === null)) fail('batchNorm2d', 'runningMean and runningVar must both be given or both be null');
  if (!training && runningMean === null) fail('batchNorm2d', 'running statistics are required when not training');
  if (!(eps > 0)) fail('batchNorm2d', `eps must be positive, got ${eps}`);
  if (training) {
    const count = n * h * w;
    if (count <= 1) fail('batchNorm2d', `expected more than 1 value per channel when training, got input ${fmt(x.shape)}`);
    // One primitive: batch statistics, normalisation and the affine in two passes (its own gradient rule).
    const w1 = weight ?? o.constant(x, [c], 1);
    const b1 = bias ?? o.constant(x, [c], 0);
    const { y, mean: mu, variance } = o.batchNormPrim(x, w1, b1, eps);
    // Stand-ins for an absent weight/bias: the graph reads them in backward; without a graph they can go.
    if (!y.node) for (const [t, given] of [[w1, weight], [b1, bias]] as const) if (!given) t.dispose();
    if (runningMean && runningVar) {
      noGrad(() => {
        const v1 = o.mul(variance, count / (count - 1));
        const nm = o.add(o.mul(runningMean, 1 - momentum), o.mul(mu, momentum));
        const nv = o.add(o.mul(runningVar, 1 - momentum), o.mul(v1, momentum));
        runningMean.assign(nm);
        runningVar.assign(nv);
        for (const t of [v1, nm, nv]) t.dispose();
      });
    }
    mu.dispose();
    variance.dispose();
    return y;
  }
  // Eval: the statistics folded into one scale and shift per channel (joining a deferred convolution's epilogue).
  const { scale, shift } = foldBatchNorm(runningMean as Tensor, runningVar as Tensor, weight, bias, eps);
  return scaleShift(x, plainFold(scale, shift));
}

/**
 * Batch norm in eval mode as a per-channel affine map: scale = weight/√(runningVar + eps) and
 * shift = bias − runningMean·scale, so y = x·scale + shift. The one place this fold is written: F.batchNorm2d's eval
 * path uses it (with gradients to weight and bias when they need them), and nn's BatchNorm caches it per weight
 * version (nn/fold-epoch.ts).
 */
export function foldBatchNorm(runningMean: Tensor, runningVar: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number): { scale: Tensor; shift: Tensor } {
  let scale = o.pow(o.add(runningVar, eps), -0.5);
  if (weight) scale = o.mul(scale, weight);
  let shift = o.neg(o.mul(runningMean, scale));
  if (bias) shift = o.add(shift, bias);
  return { scale, shift };
}

// ---- normalisation ----

function affineCheck(op: string, name: string, t: Tensor | null | undefined, shape: readonly number[]): void {
  if (t === null || t === undefined) return;
  checkTensor(op, name, t);
  if (!sameShape(t.shape, shape)) fail(op, `${name} must have shape ${fmt(shape)}, got ${fmt(t.shape)}`);
}

/** (x − mean)/√(var + eps) over the trailing dims, times weight plus bias (biased variance, as PyTorch). */
export function layerNorm(x: Tensor, normalizedShape: number | readonly number[], weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  checkTensor('layerNorm', 'x', x);
  const ns = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  const k = ns.length;
  if (k === 0 || k > x.rank || !sameShape(x.shape.slice(x.rank - k), ns)) fail('layerNorm', `normalizedShape ${fmt(ns)} must be the trailing dims of the input ${fmt(x.shape)}`);
  affineCheck('layerNorm', 'weight', weight, ns);
  affineCheck('layerNorm', 'bias', bias, ns);
  if (!(eps > 0)) fail('layerNorm', `eps must be positive, got ${eps}`);
  const axes = ns.map((_, i) => x.rank - k + i);
  let y = normalizeOver(x, axes, eps);
  if (weight) y = o.mul(y, weight);
  if (bias) y = o.add(y, bias);
  return y;
}

function normalizeOver(x: Tensor, axes: number[], eps: number): Tensor {
  const rows = axes.reduce((m, a) => m / x.shape[a], x.size);
  const len = x.size / Math.max(rows, 1);
  // Rows of len values, each normalised on its own, are batch norm's channels: x as [1, rows, len, 1] runs through
  // the training-mode batch-norm primitive (one kernel pair with its own gradient rule; composed from mean/var
  // passes this took ~15× longer on wasm). The trailing axes are contiguous, so the view is free.
  const trailing = axes.every((a, i) => a === x.rank - axes.length + i);
  if (trailing && len > 1 && rows > 0) {
    const ones = o.constant(x, [rows], 1);
    const zeros = o.constant(x, [rows], 0);
    const { y, mean, variance } = o.batchNormPrim(o.reshape(x, [1, rows, len, 1]), ones, zeros, eps);
    mean.dispose();
    variance.dispose();
    if (!y.node) {
      ones.dispose();
      zeros.dispose();
    }
    return o.reshape(y, x.shape);
  }
  const d = o.sub(x, o.mean(x, axes, true));
  const v = o.mean(o.mul(d, d), axes, true);
  return o.mul(d, o.pow(o.add(v, eps), -0.5));
}

/** Normalises x [N, C, …] over each of numGroups channel groups (and all positions), then a per-channel affine. */
export function groupNorm(x: Tensor, numGroups: number, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  checkTensor('groupNorm', 'x', x);
  if (x.rank < 2) fail('groupNorm', `x must be [N, C, …], got ${fmt(x.shape)}`);
  const [n, c] = x.shape;
  if (!Number.isInteger(numGroups) || numGroups < 1 || c % numGroups !== 0) fail('groupNorm', `numGroups ${numGroups} must be a positive integer dividing the ${c} channels of ${fmt(x.shape)}`);
  affineCheck('groupNorm', 'weight', weight, [c]);
  affineCheck('groupNorm', 'bias', bias, [c]);
  if (!(eps > 0)) fail('groupNorm', `eps must be positive, got ${eps}`);
  let y = o.reshape(normalizeOver(o.reshape(x, [n, numGroups, -1]), [2], eps), x.shape);
  const cs = x.shape.map((d, i) => (i === 1 ? d : 1));
  if (weight) y = o.mul(y, o.reshape(weight, cs));
  if (bias) y = o.add(y, o.reshape(bias, cs));
  return y;
}

export interface NormalizeOptions {
  p?: number;
  dim?: number;
  eps?: number;
}

/** x / max(‖x‖ₚ, eps) along dim (1 by default). */
export function normalize(x: Tensor, options: NormalizeOptions = {}): Tensor {
  checkTensor('normalize', 'x', x);
  checkOptions('normalize', options, ['p', 'dim', 'eps']);
  const p = finite('normalize', 'p', options.p ?? 2);
  const eps = finite('normalize', 'eps', options.eps ?? 1e-12);
  if (!(p > 0)) fail('normalize', `p must be positive, got ${p}`);
  const dim = options.dim ?? 1;
  // Clamped before the root, so a zero row has a finite gradient (0), not √0's infinite one.
  const sp = p === 2 ? o.sum(o.mul(x, x), dim, true) : o.sum(o.pow(o.abs(x), p), dim, true);
  const norm = o.pow(clamp(sp, Math.pow(eps, p)), 1 / p);
  return o.div(x, norm);
}
