// F's activations and dropout: relu, (log-)softmax, sigmoid, tanh, gelu, silu, leaky ReLU, hardtanh, relu6,
// softplus, elu and dropout.
import { fail } from '../errors.js';
import * as o from '../ops.js';
import { Tensor } from '../tensor.js';
import { noGrad } from '../engine.js';
import { runAs } from '../opscope.js';
import { globalGenerator, type Generator } from '../random.js';
import { checkOptions, checkTensor, constantOf, ge, le, where } from '../ops-extra.js';
import { finite } from './common.js';

export const relu = o.relu;

/** log(softmax(x)) along `dim`, computed stably by subtracting the (constant) maximum. */
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  return runAs('logSoftmax', ['input'], [x], () => {
    if (!(x instanceof Tensor)) fail('logSoftmax', 'input must be a Tensor');
    if (x.rank === 0) fail('logSoftmax', 'input must have at least 1 dimension');
    const m = noGrad(() => o.max(x, dim, true));
    const z = o.sub(x, m);
    return o.sub(z, o.log(o.sum(o.exp(z), dim, true)));
  });
}

export function softmax(x: Tensor, dim = -1): Tensor {
  return runAs('softmax', ['input'], [x], () => {
    return o.exp(logSoftmax(x, dim));
  });
}

// ---- activations ----

export const sigmoid = (x: Tensor): Tensor => o.sigmoid(x);
export const tanh = (x: Tensor): Tensor => o.tanh(x);

export interface GeluOptions {
  /** 'none' (exact, with erf) or 'tanh' (the tanh approximation). */
  approximate?: 'none' | 'tanh';
}

/** x·Φ(x): exactly with erf, or PyTorch's tanh approximation. */
export function gelu(x: Tensor, options: GeluOptions = {}): Tensor {
  checkTensor('gelu', 'x', x);
  checkOptions('gelu', options, ['approximate']);
  const a = options.approximate ?? 'none';
  if (a === 'none') return o.mul(o.mul(x, 0.5), o.add(o.erf(o.mul(x, Math.SQRT1_2)), 1));
  if (a !== 'tanh') fail('gelu', `approximate must be 'none' or 'tanh', got ${JSON.stringify(a)}`);
  const inner = o.mul(o.add(x, o.mul(o.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
  return o.mul(o.mul(x, 0.5), o.add(o.tanh(inner), 1));
}

/** x·sigmoid(x) (swish). */
export function silu(x: Tensor): Tensor {
  checkTensor('silu', 'x', x);
  return o.mul(x, o.sigmoid(x));
}

/** x where x > 0, else negativeSlope·x; the gradient at 0 is the slope (PyTorch's). */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  checkTensor('leakyRelu', 'x', x);
  finite('leakyRelu', 'negativeSlope', negativeSlope);
  const w = noGrad(() => {
    const pos = o.gt(x, 0);
    return o.add(pos, o.mul(o.sub(1, pos), negativeSlope));
  });
  return o.mul(x, w);
}

/** Clamps into [minVal, maxVal] with a zero gradient at and beyond the bounds (PyTorch's hardtanh). */
export function hardtanh(x: Tensor, minVal = -1, maxVal = 1): Tensor {
  checkTensor('hardtanh', 'x', x);
  finite('hardtanh', 'minVal', minVal);
  finite('hardtanh', 'maxVal', maxVal);
  if (minVal > maxVal) fail('hardtanh', `minVal ${minVal} must not exceed maxVal ${maxVal}`);
  // Bounds chosen at and beyond them (le/ge), so the gradient is 0 there (PyTorch's hardtanh, unlike clamp).
  return where(le(x, minVal), minVal, where(ge(x, maxVal), maxVal, x));
}

/** min(max(x, 0), 6). */
export const relu6 = (x: Tensor): Tensor => hardtanh(x, 0, 6);

export interface SoftplusOptions {
  beta?: number;
  /** Above beta·x > threshold the result is x itself. */
  threshold?: number;
}

/** log(1 + e^(βx))/β, computed without overflow; x itself where βx > threshold (PyTorch's). */
export function softplus(x: Tensor, options: SoftplusOptions = {}): Tensor {
  checkTensor('softplus', 'x', x);
  checkOptions('softplus', options, ['beta', 'threshold']);
  const beta = finite('softplus', 'beta', options.beta ?? 1);
  const threshold = finite('softplus', 'threshold', options.threshold ?? 20);
  if (beta === 0) fail('softplus', 'beta must be non-zero');
  const z = beta === 1 ? x : o.mul(x, beta);
  const sp = softplusOf(z);
  const y = beta === 1 ? sp : o.div(sp, beta);
  return where(o.gt(z, threshold), x, y);
}

/** log(1 + e^z) = max(z, 0) + log(1 + e^(−|z|)), with the max and |z| written through a constant sign mask so the
 * gradient at z = 0 is the true ½ (relu'(0) = |·|'(0) = 0 would lose it). */
export function softplusOf(z: Tensor): Tensor {
  const pos = noGrad(() => o.gt(z, 0));
  // Selections rather than products with the mask, so z = ±∞ gives ∞ or 0, not ∞·0 = NaN.
  return o.add(where(pos, z, 0), o.log(o.add(o.exp(where(pos, o.neg(z), z)), 1)));
}

/** x where x > 0, else α(eᕽ − 1). */
export function elu(x: Tensor, alpha = 1): Tensor {
  checkTensor('elu', 'x', x);
  finite('elu', 'alpha', alpha);
  const pos = noGrad(() => o.gt(x, 0));
  // e^x only of the non-positive part (selected, so x = +∞ cannot become ∞·0).
  return where(pos, x, o.mul(o.sub(o.exp(where(pos, 0, x)), 1), alpha));
}

export interface DropoutOptions {
  /** Draw the mask from this generator instead of the global one (manualSeed). */
  generator?: Generator;
}

/**
 * Zeroes each element with probability p and scales the rest by 1/(1−p) when training; the identity (a view)
 * otherwise. The mask comes from the seeded generator, so runs replay.
 */
export function dropout(x: Tensor, p = 0.5, training = true, options: DropoutOptions = {}): Tensor {
  checkTensor('dropout', 'x', x);
  checkOptions('dropout', options, ['generator']);
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) fail('dropout', `p must be a probability in [0, 1], got ${p}`);
  if (typeof training !== 'boolean') fail('dropout', `training must be a boolean, got ${typeof training}`);
  if (!training || p === 0) return o.reshape(x, x.shape);
  const g = options.generator ?? globalGenerator;
  const keep = new Float32Array(x.size);
  const scale = p === 1 ? 0 : 1 / (1 - p);
  for (let i = 0; i < keep.length; i++) keep[i] = g.uniform() >= p ? scale : 0;
  return o.mul(x, constantOf(x, keep, x.shape));
}
