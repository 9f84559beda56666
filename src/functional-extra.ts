// More of F (re-exported by functional.ts): activations, dropout, padding, resizing, transposed convolution,
// layer/group normalisation and the losses, each composed from primitives with PyTorch's semantics and
// options objects whose unknown names are refused.
import { fail, fmt } from './errors.js';
import { sameShape, sizeOf } from './shape.js';
import * as o from './ops.js';
import { Tensor } from './tensor.js';
import { noGrad } from './engine.js';
import { globalGenerator, type Generator } from './random.js';
import { checkOptions, checkTensor, clamp, constantOf, ge, hostValues, indexSelect, iota, le, ne, where } from './ops-extra.js';
import { logSoftmax } from './functional.js';

type Pair = number | readonly [number, number];

function pairOf(op: string, name: string, v: Pair, min: number): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!Array.isArray(v) && typeof v !== 'number') fail(op, `${name} must be an integer or a pair of them, got ${JSON.stringify(v)}`);
  if (!p.every((d) => Number.isInteger(d) && d >= min)) fail(op, `${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  return p;
}

function finite(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(op, `${name} must be a finite number, got ${String(v)}`);
  return v;
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

// ---- padding and resizing ----

export interface PadOptions {
  mode?: 'constant' | 'reflect' | 'replicate';
  /** The fill of constant padding. */
  value?: number;
}

/**
 * Pads the last dims: pads = [left, right] for the last dim, then [top, bottom] for the one before, … (PyTorch's
 * order). Constant padding may be negative (cropping); reflect and replicate gather edge entries.
 */
export function pad(x: Tensor, pads: readonly number[], options: PadOptions = {}): Tensor {
  checkTensor('pad', 'x', x);
  checkOptions('pad', options, ['mode', 'value']);
  const mode = options.mode ?? 'constant';
  if (mode !== 'constant' && mode !== 'reflect' && mode !== 'replicate') fail('pad', `mode must be 'constant', 'reflect' or 'replicate', got ${JSON.stringify(mode)}`);
  const value = options.value ?? 0;
  if (mode !== 'constant' && options.value !== undefined) fail('pad', `value applies only to mode 'constant', not '${mode}'`);
  if (!Array.isArray(pads) || pads.length % 2 !== 0 || pads.some((p) => !Number.isInteger(p))) fail('pad', `pads must be an even-length list of integers, got ${JSON.stringify(pads)}`);
  if (pads.length / 2 > x.rank) fail('pad', `${pads.length / 2} dims to pad but the input ${fmt(x.shape)} has ${x.rank}`);
  let y = x;
  for (let i = 0; i < pads.length / 2; i++) {
    const axis = x.rank - 1 - i;
    const [before, after] = [pads[2 * i], pads[2 * i + 1]];
    const n = y.shape[axis];
    if (before === 0 && after === 0) continue;
    if (mode === 'constant') {
      if (n + before + after < 0) fail('pad', `padding (${before}, ${after}) leaves a negative size for dim ${axis} of ${fmt(x.shape)}`);
      y = o.slice(y, axis, Math.max(0, -before), n + Math.min(0, before) + Math.min(0, after));
      const parts: Tensor[] = [];
      const block = (k: number): Tensor => o.constant(y, y.shape.map((d, j) => (j === axis ? k : d)), value);
      if (before > 0) parts.push(block(before));
      parts.push(y);
      if (after > 0) parts.push(block(after));
      y = parts.length === 1 ? y : o.concat(parts, axis);
      continue;
    }
    if (before < 0 || after < 0) fail('pad', `${mode} padding must be non-negative, got (${before}, ${after})`);
    if (mode === 'reflect' && (before >= n || after >= n)) fail('pad', `reflect padding (${before}, ${after}) must be smaller than the size ${n} of dim ${axis} (input ${fmt(x.shape)})`);
    if (mode === 'replicate' && n === 0) fail('pad', `cannot replicate-pad the empty dim ${axis} of ${fmt(x.shape)}`);
    const idx: number[] = [];
    for (let j = -before; j < n + after; j++) {
      if (mode === 'replicate') idx.push(Math.min(n - 1, Math.max(0, j)));
      else idx.push(j < 0 ? -j : j >= n ? 2 * (n - 1) - j : j);
    }
    y = indexSelect(y, axis, idx);
  }
  return y === x ? o.reshape(x, x.shape) : y;
}

export interface InterpolateOptions {
  size?: number | readonly number[];
  scaleFactor?: number | readonly number[];
  mode?: 'nearest' | 'linear' | 'bilinear';
  alignCorners?: boolean;
}

/**
 * Resizes the spatial dims of [N, C, L] (nearest, linear) or [N, C, H, W] (nearest, bilinear) with PyTorch's
 * coordinate rules (float32 arithmetic, 1/scaleFactor as the scale when a factor is given). Nearest copies entries
 * (indexSelect); linear modes multiply each spatial dim by a constant interpolation matrix.
 */
export function interpolate(x: Tensor, options: InterpolateOptions): Tensor {
  checkTensor('interpolate', 'x', x);
  checkOptions('interpolate', options, ['size', 'scaleFactor', 'mode', 'alignCorners']);
  const mode = options.mode ?? 'nearest';
  if (mode !== 'nearest' && mode !== 'linear' && mode !== 'bilinear') fail('interpolate', `mode must be 'nearest', 'linear' or 'bilinear', got ${JSON.stringify(mode)}`);
  const sp = x.rank - 2;
  if (sp < 1 || sp > 2) fail('interpolate', `x must be [N, C, L] or [N, C, H, W], got ${fmt(x.shape)}`);
  if (mode === 'linear' && sp !== 1) fail('interpolate', `mode 'linear' needs 3-D input [N, C, L], got ${fmt(x.shape)}`);
  if (mode === 'bilinear' && sp !== 2) fail('interpolate', `mode 'bilinear' needs 4-D input [N, C, H, W], got ${fmt(x.shape)}`);
  if (mode === 'nearest' && options.alignCorners !== undefined) fail('interpolate', "alignCorners can only be set with the interpolating modes 'linear' and 'bilinear'");
  if ((options.size === undefined) === (options.scaleFactor === undefined)) fail('interpolate', 'give exactly one of size and scaleFactor');
  const list = (name: string, v: number | readonly number[]): number[] => {
    const l = typeof v === 'number' ? Array.from({ length: sp }, () => v) : [...v];
    if (l.length !== sp || l.some((d) => typeof d !== 'number' || !(d > 0) || !Number.isFinite(d))) fail('interpolate', `${name} must be a positive number or ${sp} of them for input ${fmt(x.shape)}, got ${JSON.stringify(v)}`);
    return l;
  };
  const ins = x.shape.slice(2);
  let outs: number[];
  let scales: (number | null)[];
  if (options.size !== undefined) {
    outs = list('size', options.size);
    if (outs.some((d) => !Number.isInteger(d))) fail('interpolate', `size must hold integers, got ${JSON.stringify(options.size)}`);
    scales = outs.map(() => null);
  } else {
    const sf = list('scaleFactor', options.scaleFactor as number | readonly number[]);
    outs = ins.map((d, i) => Math.floor(d * sf[i]));
    scales = sf.map((s) => 1 / s);
    if (outs.some((d) => d < 1)) fail('interpolate', `scaleFactor ${JSON.stringify(options.scaleFactor)} gives an empty output for input ${fmt(x.shape)}`);
  }
  const align = options.alignCorners ?? false;
  let y = x;
  for (let i = 0; i < sp; i++) {
    const axis = 2 + i;
    if (ins[i] === outs[i] && mode === 'nearest') continue;
    if (mode === 'nearest') {
      // A copy of the source entries (the gather primitive): ±∞ and NaN stay where they are, as in PyTorch.
      y = indexSelect(y, axis, nearestIndex(ins[i], outs[i], scales[i]));
      continue;
    }
    const M = interpMatrix(ins[i], outs[i], align, scales[i]);
    const m = constantOf(x, M, [outs[i], ins[i]]);
    // Bring the axis to the second-last place, multiply by M on the left, and put it back.
    const moved = axis === x.rank - 2 ? y : o.transpose(y, axis, -2);
    const r = o.matmul(m, moved);
    y = axis === x.rank - 2 ? r : o.transpose(r, axis, -2);
  }
  return y === x ? o.reshape(x, x.shape) : y;
}

/** The source entry of each output position of a nearest resize (PyTorch's float32 rule). */
function nearestIndex(inp: number, out: number, scale: number | null): number[] {
  const f = Math.fround;
  const s = f(scale ?? inp / out);
  return Array.from({ length: out }, (_, d) => Math.min(Math.floor(f(d * s)), inp - 1));
}

/** The [out, in] matrix of one dim's resize (PyTorch's float32 source-index rules). */
function interpMatrix(inp: number, out: number, align: boolean, scale: number | null): Float32Array {
  const f = Math.fround;
  const M = new Float32Array(out * inp);
  const s = align ? (out > 1 ? f((inp - 1) / (out - 1)) : 0) : f(scale ?? inp / out);
  for (let d = 0; d < out; d++) {
    let src = align ? f(s * d) : f(f(s * f(d + 0.5)) - 0.5);
    if (src < 0) src = 0;
    const i0 = Math.floor(src);
    const step = i0 < inp - 1 ? 1 : 0;
    const l1 = f(src - i0);
    const l0 = f(1 - l1);
    M[d * inp + i0] += l0;
    M[d * inp + i0 + step] += l1;
  }
  return M;
}

// ---- transposed convolution ----

export interface ConvTranspose2dOptions {
  stride?: Pair;
  padding?: Pair;
  outputPadding?: Pair;
  groups?: number;
  dilation?: Pair;
}

/**
 * The adjoint of conv2d: x [N, Cin, H, W], weight [Cin, Cout/groups, kh, kw] (PyTorch's layout), bias [Cout].
 * One GEMM per group gives the columns Wᵀ·x and col2im scatters them into the output of size
 * (H − 1)·stride − 2·padding + dilation·(k − 1) + outputPadding + 1.
 */
export function convTranspose2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: ConvTranspose2dOptions = {}): Tensor {
  const op = 'convTranspose2d';
  checkTensor(op, 'input', x);
  checkTensor(op, 'weight', weight);
  checkOptions(op, options, ['stride', 'padding', 'outputPadding', 'groups', 'dilation']);
  if (x.rank !== 4) fail(op, `input must be 4-D [N, C, H, W], got ${fmt(x.shape)}`);
  if (weight.rank !== 4) fail(op, `weight must be 4-D [Cin, Cout/groups, kh, kw], got ${fmt(weight.shape)}`);
  const groups = options.groups ?? 1;
  const [sh, sw] = pairOf(op, 'stride', options.stride ?? 1, 1);
  const [ph, pw] = pairOf(op, 'padding', options.padding ?? 0, 0);
  const [dh, dw] = pairOf(op, 'dilation', options.dilation ?? 1, 1);
  const [oph, opw] = pairOf(op, 'outputPadding', options.outputPadding ?? 0, 0);
  if (!Number.isInteger(groups) || groups < 1) fail(op, `groups must be a positive integer, got ${groups}`);
  const [n, cin, h, w] = x.shape;
  const [wcin, coutg, kh, kw] = weight.shape;
  if (wcin !== cin) fail(op, `input has ${cin} channels but weight ${fmt(weight.shape)} expects ${wcin}`);
  if (cin % groups !== 0) fail(op, `input channels ${cin} are not divisible by groups ${groups}`);
  if (oph >= Math.max(sh, dh) || opw >= Math.max(sw, dw)) fail(op, `outputPadding (${oph}, ${opw}) must be smaller than stride or dilation (stride (${sh}, ${sw}), dilation (${dh}, ${dw}))`);
  const cout = coutg * groups;
  if (bias !== null) {
    checkTensor(op, 'bias', bias);
    if (bias.rank !== 1 || bias.shape[0] !== cout) fail(op, `bias must have shape [${cout}], got ${fmt(bias.shape)}`);
  }
  const oh = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1;
  const ow = (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1;
  if (oh <= 0 || ow <= 0) fail(op, `the output would be ${oh}×${ow} for input ${fmt(x.shape)}, weight ${fmt(weight.shape)}`);
  const L = h * w;
  const cing = cin / groups;
  const ckk = coutg * kh * kw;
  // x as [Cin, N·H·W] (columns image-major, the layout col2im reads), then cols = Wᵀ·x per group.
  const xr = o.permute(o.reshape(x, [n, cin, L]), [1, 0, 2]);
  const cols =
    groups === 1
      ? o.matmulT(o.reshape(weight, [cin, ckk]), o.reshape(xr, [cin, n * L]), true, false, op)
      : o.reshape(o.matmulT(o.reshape(weight, [groups, cing, ckk]), o.reshape(xr, [groups, cing, n * L]), true, false, op), [groups * ckk, n * L]);
  const y = o.col2im(cols, { n, c: cout, h: oh, w: ow, kh, kw, sh, sw, ph, pw, dh, dw, oh: h, ow: w });
  return bias ? o.add(y, o.reshape(bias, [1, cout, 1, 1])) : y;
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
