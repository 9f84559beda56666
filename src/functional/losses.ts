// F's losses with PyTorch's reductions and options: mse, l1, smooth l1, binary cross-entropy (with logits),
// nll and cross-entropy (class weights, ignoreIndex, label smoothing).
import { fail, fmt } from '../errors.js';
import { sameShape, sizeOf } from '../shape.js';
import * as o from '../ops.js';
import { Tensor } from '../tensor.js';
import { noGrad } from '../engine.js';
import { checkOptions, checkTensor, clamp, constantOf, hostValues, iota, ne } from '../ops-extra.js';
import { logSoftmax, softplusOf } from './activations.js';
import { finite } from './common.js';

// ---- losses ----

export type Reduction = 'mean' | 'sum' | 'none';

function reductionOf(op: string, r: unknown): Reduction {
  const v = r ?? 'mean';
  if (v !== 'mean' && v !== 'sum' && v !== 'none') fail(op, `reduction must be 'mean', 'sum' or 'none', got ${JSON.stringify(v)}`);
  return v;
}

function reduce(loss: Tensor, reduction: Reduction): Tensor {
  return reduction === 'none' ? loss : reduction === 'sum' ? o.sum(loss) : o.mean(loss);
}

function sameShapes(op: string, input: Tensor, target: Tensor): void {
  checkTensor(op, 'input', input);
  checkTensor(op, 'target', target);
  if (!sameShape(input.shape, target.shape)) fail(op, `input ${fmt(input.shape)} and target ${fmt(target.shape)} must have the same shape`);
}

export interface LossOptions {
  reduction?: Reduction;
}

/** Mean (or summed, or elementwise) squared error between tensors of the same shape. */
export function mseLoss(input: Tensor, target: Tensor, options: LossOptions = {}): Tensor {
  if (!(input instanceof Tensor) || !(target instanceof Tensor)) fail('mseLoss', 'input and target must be Tensors');
  sameShapes('mseLoss', input, target);
  checkOptions('mseLoss', options, ['reduction']);
  const d = o.sub(input, target);
  return reduce(o.mul(d, d), reductionOf('mseLoss', options.reduction));
}

/** |input − target|, reduced. */
export function l1Loss(input: Tensor, target: Tensor, options: LossOptions = {}): Tensor {
  sameShapes('l1Loss', input, target);
  checkOptions('l1Loss', options, ['reduction']);
  return reduce(o.abs(o.sub(input, target)), reductionOf('l1Loss', options.reduction));
}

export interface SmoothL1Options extends LossOptions {
  /** Where the loss turns from quadratic to linear (1 by default; 0 is the L1 loss). */
  beta?: number;
}

/** 0.5·d²/β where |d| < β, else |d| − 0.5·β (d = input − target), reduced. */
export function smoothL1Loss(input: Tensor, target: Tensor, options: SmoothL1Options = {}): Tensor {
  sameShapes('smoothL1Loss', input, target);
  checkOptions('smoothL1Loss', options, ['reduction', 'beta']);
  const beta = finite('smoothL1Loss', 'beta', options.beta ?? 1);
  if (beta < 0) fail('smoothL1Loss', `beta must be non-negative, got ${beta}`);
  const d = o.sub(input, target);
  const ad = o.abs(d);
  let loss: Tensor;
  if (beta === 0) loss = ad;
  else {
    const q = noGrad(() => o.gt(beta, ad));
    loss = o.add(o.mul(o.mul(o.mul(d, d), 0.5 / beta), q), o.mul(o.sub(ad, 0.5 * beta), noGrad(() => o.sub(1, q))));
  }
  return reduce(loss, reductionOf('smoothL1Loss', options.reduction));
}

export interface BceOptions extends LossOptions {
  /** Multiplies each element's loss (broadcast to the input). */
  weight?: Tensor | null;
}

function weightCheck(op: string, w: Tensor | null | undefined, input: Tensor, name = 'weight'): Tensor | null {
  if (w === undefined || w === null) return null;
  checkTensor(op, name, w);
  const ok = w.rank <= input.rank && w.shape.every((d, i) => d === 1 || d === input.shape[input.rank - w.rank + i]);
  if (!ok) fail(op, `${name} ${fmt(w.shape)} must broadcast to the input ${fmt(input.shape)}`);
  return w;
}

/** −w·(y·log p + (1 − y)·log(1 − p)) for probabilities p, with the logs clamped at −100 (PyTorch's). */
export function binaryCrossEntropy(input: Tensor, target: Tensor, options: BceOptions = {}): Tensor {
  sameShapes('binaryCrossEntropy', input, target);
  checkOptions('binaryCrossEntropy', options, ['reduction', 'weight']);
  const w = weightCheck('binaryCrossEntropy', options.weight, input);
  const lp = clampedLog(input);
  const lq = clampedLog(o.sub(1, input));
  let loss = o.neg(o.add(o.mul(target, lp), o.mul(o.sub(1, target), lq)));
  if (w) loss = o.mul(loss, w);
  return reduce(loss, reductionOf('binaryCrossEntropy', options.reduction));
}

/** max(log p, −100) without log(0) = −∞ ever being formed (clamp's ∞·0 would be NaN): where p is 0, log(p + 1) − 100. */
function clampedLog(p: Tensor): Tensor {
  const zero = noGrad(() => o.eq(p, 0));
  return clamp(o.sub(o.log(o.add(p, zero)), o.mul(zero, 100)), -100);
}

export interface BceWithLogitsOptions extends BceOptions {
  /** Weight of the positive class, broadcast along the last dim (one per class). */
  posWeight?: Tensor | null;
}

/** binaryCrossEntropy(sigmoid(x), y) computed stably from the logits: (1 − y)·x + (1 + (pw − 1)·y)·softplus(−x). */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, options: BceWithLogitsOptions = {}): Tensor {
  const op = 'binaryCrossEntropyWithLogits';
  sameShapes(op, input, target);
  checkOptions(op, options, ['reduction', 'weight', 'posWeight']);
  const w = weightCheck(op, options.weight, input);
  const pw = weightCheck(op, options.posWeight, input, 'posWeight');
  const sp = softplusOf(o.neg(input));
  const lw = pw ? o.add(o.mul(o.sub(pw, 1), target), 1) : null;
  let loss = o.add(o.mul(o.sub(1, target), input), lw ? o.mul(lw, sp) : sp);
  if (w) loss = o.mul(loss, w);
  return reduce(loss, reductionOf(op, options.reduction));
}

/** Labels as class indices: a Tensor or a plain array. */
export type Labels = Tensor | ArrayLike<number>;

export interface NllLossOptions extends LossOptions {
  /** A rescaling weight per class, [C]. */
  weight?: Tensor | null;
  /** Targets equal to this contribute nothing (and are left out of the mean's denominator). */
  ignoreIndex?: number;
}

export interface CrossEntropyOptions extends NllLossOptions {
  /** Mixes the target with the uniform distribution: (1 − ε)·target + ε/C. */
  labelSmoothing?: number;
}

/**
 * The per-position weights M [N, C, …] with loss = −Σ_c M·logp and the mean's denominator, for class-index
 * targets (PyTorch's nll_loss with weight, ignore_index and cross_entropy's label smoothing).
 */
function classMask(op: string, input: Tensor, labels: Labels, weight: Tensor | null, ignoreIndex: number, eps: number): { M: Tensor; denom: Tensor } {
  const [n, classes] = input.shape;
  const rest = input.shape.slice(2);
  const tshape = [n, ...rest];
  let tgt: Tensor;
  if (labels instanceof Tensor) {
    if (!sameShape(labels.shape, tshape)) fail(op, `labels must have shape ${fmt(tshape)} for logits ${fmt(input.shape)}, got ${fmt(labels.shape)}`);
    tgt = labels;
  } else {
    if (labels === null || typeof labels !== 'object' || typeof labels.length !== 'number') fail(op, 'labels must be a Tensor or an array of class indices');
    if (labels.length !== sizeOf(tshape)) fail(op, `got ${labels.length} labels for a batch of ${sizeOf(tshape)}${rest.length ? ` (target shape ${fmt(tshape)})` : ''}`);
    tgt = constantOf(input, labels, tshape);
  }
  const vals = hostValues(labels);
  if (vals) {
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i];
      if (v === ignoreIndex) continue;
      if (!Number.isInteger(v)) fail(op, `label ${i} is ${v}, not an integer class index`);
      if (v < 0 || v >= classes) fail(op, `label ${i} is ${v}, outside the ${classes} classes [0, ${classes - 1}]`);
    }
  }
  return noGrad(() => {
    const t1 = o.unsqueeze(tgt, 1);
    const hot = o.eq(t1, iota(input, classes, 1, input.rank));
    const keep = ne(t1, ignoreIndex);
    const wv = weight ? o.reshape(weight, input.shape.map((d, i) => (i === 1 ? d : 1))) : null;
    let M = eps > 0 ? o.add(o.mul(hot, 1 - eps), eps / classes) : hot;
    M = o.mul(M, keep);
    if (wv) M = o.mul(M, wv);
    const denom = wv ? o.sum(o.mul(o.mul(hot, keep), wv)) : o.sum(keep);
    return { M, denom };
  });
}

function classLoss(op: string, logp: Tensor, target: Labels, options: CrossEntropyOptions, allowSmoothing: boolean): Tensor {
  const reduction = reductionOf(op, options.reduction);
  const [, classes] = logp.shape;
  const weight = options.weight ?? null;
  if (weight !== null) {
    checkTensor(op, 'weight', weight);
    if (weight.rank !== 1 || weight.shape[0] !== classes) fail(op, `weight must have shape [${classes}] (one per class), got ${fmt(weight.shape)}`);
  }
  const eps = allowSmoothing ? (options.labelSmoothing ?? 0) : 0;
  if (typeof eps !== 'number' || !(eps >= 0 && eps <= 1)) fail(op, `labelSmoothing must be in [0, 1], got ${eps}`);
  const ignoreIndex = options.ignoreIndex ?? -100;
  if (!Number.isInteger(ignoreIndex)) fail(op, `ignoreIndex must be an integer, got ${ignoreIndex}`);
  // Probabilities: a target shaped like the input.
  if (target instanceof Tensor && sameShape(target.shape, logp.shape)) {
    if (options.ignoreIndex !== undefined) fail(op, 'ignoreIndex cannot be used with probability targets');
    let M: Tensor = eps > 0 ? o.add(o.mul(target, 1 - eps), eps / classes) : target;
    if (weight) M = o.mul(M, o.reshape(weight, logp.shape.map((d, i) => (i === 1 ? d : 1))));
    const loss = o.neg(o.sum(o.mul(logp, M), 1));
    return reduction === 'none' ? loss : reduction === 'sum' ? o.sum(loss) : o.div(o.sum(loss), logp.size / classes);
  }
  const { M, denom } = classMask(op, logp, target, weight, ignoreIndex, eps);
  const loss = o.neg(o.sum(o.mul(logp, M), 1));
  return reduction === 'none' ? loss : reduction === 'sum' ? o.sum(loss) : o.div(o.sum(loss), denom);
}

function checkLogits(op: string, name: string, x: Tensor): void {
  if (!(x instanceof Tensor)) fail(op, `${name} must be a Tensor`);
  if (x.rank < 2) fail(op, `${name} must be 2-D or more ([N, C, d1, …]), got ${fmt(x.shape)}`);
  if (x.shape[0] === 0) fail(op, 'the batch is empty');
}

/**
 * The negative log-likelihood loss of class-index targets under log-probabilities [N, C, …] (targets [N, …]),
 * with per-class weights, an ignored index and mean/sum/none reduction (the mean divides by the total weight).
 */
export function nllLoss(input: Tensor, target: Labels, options: NllLossOptions = {}): Tensor {
  checkLogits('nllLoss', 'input', input);
  checkOptions('nllLoss', options, ['weight', 'ignoreIndex', 'reduction']);
  if (target instanceof Tensor && sameShape(target.shape, input.shape)) fail('nllLoss', `target must hold class indices of shape ${fmt([input.shape[0], ...input.shape.slice(2)])}, got ${fmt(target.shape)}`);
  return classLoss('nllLoss', input, target, options, false);
}

/**
 * Cross-entropy of logits [N, C, …] against class indices [N, …] (a Tensor or an array) or class probabilities
 * shaped like the logits, with weight, ignoreIndex, labelSmoothing and reduction as torch.nn.functional.
 */
export function crossEntropy(logits: Tensor, target: Labels, options: CrossEntropyOptions = {}): Tensor {
  checkLogits('crossEntropy', 'logits', logits);
  checkOptions('crossEntropy', options, ['weight', 'ignoreIndex', 'labelSmoothing', 'reduction']);
  return classLoss('crossEntropy', logSoftmax(logits, 1), target, options, true);
}
