// F: the neural-network functions (conv, batch norm, pools, losses), composed from the primitives in ops.ts.
// Activations, padding, resizing, transposed convolution, layer/group norm and the losses live in functional-extra.ts.
import type { WindowGeometry } from './backend.js';
import { fail, fmt } from './errors.js';
import { sameShape } from './shape.js';
import * as o from './ops.js';
import { fromStorage, Tensor } from './tensor.js';
import { isGradEnabled, noGrad, tidy } from './engine.js';
import { runAs } from './opscope.js';
import { checkKeys, describe, isOptions } from './options.js';
import { checkOptions } from './ops-extra.js';

export * from './functional-extra.js';
export { oneHot } from './ops-extra.js';

type Pair = number | readonly [number, number];

function pair(op: string, name: string, v: Pair, min: number, forms = ''): [number, number] {
  const ok = typeof v === 'number' || (Array.isArray(v) && v.length === 2);
  const p: [number, number] = typeof v === 'number' ? [v, v] : ok ? [v[0], v[1]] : [NaN, NaN];
  if (!p.every((d) => Number.isInteger(d) && d >= min)) {
    fail(op, `${name} must be an integer >= ${min} or a pair of them, got ${describe(v)}${forms ? `; accepted forms: ${forms}` : ''}`);
  }
  return p;
}

/**
 * PyTorch's two call styles after the leading arguments: positional values in `names` order (trailing ones
 * optional; null or undefined means the default, like Python's None), or one options object. Anything else
 * — too many values, an options object followed by more, unknown option names — is refused with the forms.
 */
function callForm(op: string, rest: readonly unknown[], names: readonly string[], forms: string): Record<string, unknown> {
  let n = rest.length;
  while (n > 0 && rest[n - 1] === undefined) n--;
  if (n === 0) return {};
  if (isOptions(rest[0])) {
    if (n > 1) fail(op, `an options object must be the last argument, got ${n - 1} more after it; accepted forms: ${forms}`);
    checkKeys(op, 'the options', rest[0], names, forms);
    return rest[0];
  }
  if (n > names.length) fail(op, `takes at most ${names.length} values after its tensor arguments (${names.join(', ')}), got ${n}; accepted forms: ${forms}`);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    if (isOptions(rest[i])) fail(op, `an options object must come right after the tensor arguments, got one in place of ${names[i]}; accepted forms: ${forms}`);
    if (rest[i] !== undefined && rest[i] !== null) out[names[i]] = rest[i];
  }
  return out;
}

function flag(op: string, name: string, v: unknown, dflt: boolean, forms: string): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') fail(op, `${name} must be a boolean, got ${describe(v)}; accepted forms: ${forms}`);
  return v;
}

function need4d(op: string, arg: string, x: unknown): asserts x is Tensor {
  if (!(x instanceof Tensor)) fail(op, `argument '${arg}' must be a Tensor`);
  if (x.rank !== 4) fail(op, `${arg} must be 4-D [N, C, H, W], got shape ${fmt(x.shape)}`);
}

/** Output size of a sliding window along one axis (PyTorch's formula, with optional ceil mode). */
function outSize(op: string, inp: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const eff = d * (k - 1) + 1;
  const span = inp + 2 * p - eff;
  if (span < 0) fail(op, `window of effective size ${eff} (kernel ${k}, dilation ${d}) does not fit input ${inp} with padding ${p}`);
  let o2 = Math.floor(span / s) + 1;
  if (ceil) {
    o2 = Math.ceil(span / s) + 1;
    // The last window must start inside the input or the left padding (PyTorch's rule).
    if ((o2 - 1) * s >= inp + p) o2--;
  }
  return o2;
}

function geometry(op: string, x: Tensor, k: [number, number], s: [number, number], p: [number, number], d: [number, number], ceil = false): WindowGeometry {
  const [n, c, h, w] = x.shape;
  const oh = outSize(op, h, k[0], s[0], p[0], d[0], ceil);
  const ow = outSize(op, w, k[1], s[1], p[1], d[1], ceil);
  return { n, c, h, w, kh: k[0], kw: k[1], sh: s[0], sw: s[1], ph: p[0], pw: p[1], dh: d[0], dw: d[1], oh, ow };
}

export interface Conv2dOptions {
  stride?: Pair;
  /** Zero padding per side, or PyTorch's 'valid' (none) and 'same' (stride 1; output size = input size). */
  padding?: Pair | 'same' | 'valid';
  dilation?: Pair;
  groups?: number;
}

/**
 * 2-D convolution (cross-correlation, as PyTorch): x [N,C,H,W], weight [O, C/groups, kh, kw], bias [O] or null.
 * Computed as im2col + one GEMM per group; 1×1 stride-1 unpadded convolutions skip im2col.
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, options?: Conv2dOptions): Tensor;
/** PyTorch's positional form: conv2d(input, weight, bias, stride, padding, dilation, groups). */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null | undefined, stride: Pair, padding?: Pair | 'same' | 'valid', dilation?: Pair, groups?: number): Tensor;
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, ...rest: unknown[]): Tensor {
  return runAs('conv2d', ['input', 'weight', 'bias'], [x, weight, bias], () => {
    const options = callForm('conv2d', rest, CONV_KEYS, CONV_FORMS) as Conv2dOptions;
    const c = convSetup('conv2d', x, weight, bias, options);
    const inference = !(isGradEnabled() && (x.requiresGrad || weight.requiresGrad || (bias?.requiresGrad ?? false)));
    if (inference && imagesPerChunk(c) < c.n) return byImageChunks(c, x, null, (xs) => conv2d(xs, weight, bias, options));
    const y = convGemm(c, x, weight);
    // [O, N·L] → [N, O, oh, ow]; the GEMM's own layout is not needed after that (a graph keeps what it reads).
    let out = fromChannelRows(y, c);
    y.dispose();
    if (bias) out = o.add(out, o.reshape(bias, [1, c.oc, 1, 1]));
    return out;
  });
}

const CONV_KEYS = ['stride', 'padding', 'dilation', 'groups'] as const;
const CONV_FORMS = "conv2d(input, weight, bias?, stride?, padding?, dilation?, groups?) or conv2d(input, weight, bias, { stride?, padding?, dilation?, groups? }), padding a number, a pair, 'valid' or 'same'";

interface ConvSetup {
  n: number;
  oc: number;
  groups: number;
  ckk: number;
  L: number;
  g: WindowGeometry;
  pointwise: boolean;
}

/** Checks conv2d's arguments (throwing with both shapes and the rule) and works out the GEMM's geometry. */
function convSetup(op: string, x: Tensor, weight: Tensor, bias: Tensor | null, options: Conv2dOptions): ConvSetup {
  checkOptions(op, options, ['stride', 'padding', 'dilation', 'groups']);
  need4d(op, 'input', x);
  need4d(op, 'weight', weight);
  const forms = op === 'conv2d' ? CONV_FORMS : AFFINE_FORMS;
  const raw: unknown = options;
  if (!isOptions(raw)) fail(op, `options must be an object, got ${describe(raw)}; accepted forms: ${forms}`);
  checkKeys(op, 'the options', raw, CONV_KEYS, forms);
  const groups = options.groups ?? 1;
  const stride = pair(op, 'stride', options.stride ?? 1, 1, forms);
  const dilation = pair(op, 'dilation', options.dilation ?? 1, 1, forms);
  const [n, c] = x.shape;
  const [oc, icg, kh, kw] = weight.shape;
  const padding = paddingOf(op, options.padding ?? 0, stride, dilation, [kh, kw], forms);
  const wdesc = `weight ${fmt(weight.shape)}, groups ${groups}`;
  if (!Number.isInteger(groups) || groups < 1) fail(op, `groups must be a positive integer, got ${describe(groups)}; accepted forms: ${forms}`);
  if (c % groups !== 0) fail(op, `input channels ${c} are not divisible by groups ${groups} (input ${fmt(x.shape)})`);
  if (oc % groups !== 0) fail(op, `output channels ${oc} are not divisible by groups ${groups} (${wdesc})`);
  if (icg * groups !== c) fail(op, `input has ${c} channels but weight expects ${icg * groups} (${wdesc})`);
  if (bias !== null) {
    if (!(bias instanceof Tensor)) fail(op, `bias must be a Tensor or null, got ${describe(bias)}; accepted forms: ${forms}`);
    if (bias.rank !== 1 || bias.shape[0] !== oc) fail(op, `bias must have shape [${oc}] for ${oc} output channels, got ${fmt(bias.shape)}`);
  }
  const g = geometry(op, x, [kh, kw], stride, padding, dilation);
  // A 1×1 stride-1 unpadded conv reads x directly, without im2col.
  const pointwise = kh === 1 && kw === 1 && stride[0] === 1 && stride[1] === 1 && padding[0] === 0 && padding[1] === 0;
  return { n, oc, groups, ckk: icg * kh * kw, L: g.oh * g.ow, g, pointwise };
}

/**
 * Without a graph nothing keeps the columns, so a large batch is convolved a few images at a time: the columns
 * (9× the input for a 3×3 conv) and the GEMM's packed copy of them then stay near COLUMN_BUDGET instead of growing
 * with the batch (ResNet-50's stem at batch 64 would need ~0.5 GB of columns, and as much again packed).
 */
const COLUMN_BUDGET = 32 * 2 ** 20;
function imagesPerChunk(c: ConvSetup): number {
  return Math.max(1, Math.floor(COLUMN_BUDGET / (c.ckk * c.L * 4)));
}
function byImageChunks(c: ConvSetup, x: Tensor, residual: Tensor | null, conv: (xs: Tensor, rs: Tensor | null) => Tensor): Tensor {
  const per = imagesPerChunk(c);
  const parts: Tensor[] = [];
  for (let i = 0; i < c.n; i += per) {
    const len = Math.min(per, c.n - i);
    const xs = o.slice(x, 0, i, len);
    const rs = residual ? o.slice(residual, 0, i, len) : null;
    parts.push(tidy(() => conv(xs, rs))); // each chunk's views and temporaries go before the next chunk runs
    xs.dispose();
    rs?.dispose();
  }
  const out = o.concat(parts, 0);
  for (const p of parts) p.dispose();
  return out;
}

/** Numeric padding, or PyTorch's 'valid' / 'same' resolved for this kernel (symmetric 'same' only). */
function paddingOf(op: string, p: unknown, stride: [number, number], dilation: [number, number], k: [number, number], forms: string): [number, number] {
  if (p === 'valid') return [0, 0];
  if (p !== 'same') return pair(op, 'padding', p as Pair, 0, forms);
  if (stride[0] !== 1 || stride[1] !== 1) fail(op, `padding 'same' needs stride 1, got stride ${fmt(stride)} (as in PyTorch)`);
  const total = [0, 1].map((i) => dilation[i] * (k[i] - 1));
  if (total.some((t) => t % 2 !== 0)) {
    fail(op, `padding 'same' for kernel ${fmt(k)} with dilation ${fmt(dilation)} needs uneven padding (${total.join(', ')} in total per axis), which gpugrad does not do; pad the input with different amounts per side first`);
  }
  return [total[0] / 2, total[1] / 2];
}

/** The columns [C·kh·kw, N·L] a convolution multiplies by its weight. */
function convCols(c: ConvSetup, x: Tensor): Tensor {
  return c.pointwise ? o.permute(o.reshape(x, [c.n, x.shape[1], c.L]), [1, 0, 2]) : o.im2col(x, c.g);
}

/** im2col + one GEMM per group: [O, N·L]. */
function convGemm(c: ConvSetup, x: Tensor, weight: Tensor): Tensor {
  const cols = convCols(c, x);
  const { oc, ckk, groups, n, L } = c;
  const y =
    groups === 1
      ? o.matmulT(o.reshape(weight, [oc, ckk]), o.reshape(cols, [ckk, n * L]), false, false, 'conv2d')
      : o.matmulT(o.reshape(weight, [groups, oc / groups, ckk]), o.reshape(cols, [groups, ckk, n * L]), false, false, 'conv2d');
  // The columns are the largest temporary of a forward: free them now (the weight gradient's node keeps them).
  cols.dispose();
  return y;
}

/** [O, N·L] → [N, O, oh, ow] (a view when N is 1). */
function fromChannelRows(y: Tensor, c: ConvSetup): Tensor {
  return o.reshape(o.permute(o.reshape(y, [c.oc, c.n, c.L]), [1, 0, 2]), [c.n, c.oc, c.g.oh, c.g.ow]);
}

export interface ConvEpilogue {
  /** Per output channel: y·scale[c] + shift[c] (a folded batch norm, or scale 1 and the conv's bias). */
  scale: Tensor;
  shift: Tensor;
  /** Added after the shift, shaped like the output (a residual shortcut). */
  residual?: Tensor | null;
  /** ReLU last. */
  relu?: boolean;
}

/**
 * relu?(conv2d(x, weight)·scale[c] + shift[c] + residual): the eval-mode conv → batch norm (→ add) (→ ReLU) of
 * a ResNet block as one call. Where nothing needs a gradient and the backend has a fused GEMM epilogue, one
 * GEMM writes the final values (no separate normalise, add and ReLU passes); otherwise it is composed from
 * conv2d, mul, add and relu, with gradients.
 */
export function conv2dAffine(x: Tensor, weight: Tensor, e: ConvEpilogue, options: Conv2dOptions = {}): Tensor {
  return runAs('conv2dAffine', ['input', 'weight', 'epilogue'], [x, weight, e], () => conv2dAffineBody(x, weight, e, options));
}

const AFFINE_FORMS = 'conv2dAffine(input, weight, { scale, shift, residual?, relu? }, { stride?, padding?, dilation?, groups? }?)';

function conv2dAffineBody(x: Tensor, weight: Tensor, e: ConvEpilogue, options: Conv2dOptions): Tensor {
  const raw: unknown = e;
  if (!isOptions(raw)) fail('conv2dAffine', `the epilogue must be an object, got ${describe(raw)}; accepted forms: ${AFFINE_FORMS}`);
  checkKeys('conv2dAffine', 'the epilogue', raw, ['scale', 'shift', 'residual', 'relu'], AFFINE_FORMS);
  const c = convSetup('conv2dAffine', x, weight, null, options);
  const { n, oc, L } = c;
  const outShape = [n, oc, c.g.oh, c.g.ow];
  for (const [name, t] of [['scale', e.scale], ['shift', e.shift]] as const) {
    if (!(t instanceof Tensor) || t.rank !== 1 || t.shape[0] !== oc) fail('conv2dAffine', `${name} must be a Tensor of shape [${oc}] for ${oc} output channels, got ${t instanceof Tensor ? fmt(t.shape) : typeof t}`);
  }
  const res = e.residual ?? null;
  if (res !== null && (!(res instanceof Tensor) || !sameShape(res.shape, outShape))) {
    fail('conv2dAffine', `residual must have the output's shape ${fmt(outShape)}, got ${res instanceof Tensor ? fmt(res.shape) : typeof res}`);
  }
  const relu = flag('conv2dAffine', 'relu', e.relu, false, AFFINE_FORMS);
  const inputs = res ? [x, weight, e.scale, e.shift, res] : [x, weight, e.scale, e.shift];
  const wantsGrad = isGradEnabled() && inputs.some((t) => t.requiresGrad);
  if (!wantsGrad && c.groups === 1) {
    if (imagesPerChunk(c) < n) return byImageChunks(c, x, res, (xs, rs) => conv2dAffine(xs, weight, { ...e, residual: rs }, options));
    const cols = convCols(c, x);
    // The GEMM's rows are channels and its columns (image, position): the residual in that order too.
    const resRows = res ? o.permute(o.reshape(res, [n, oc, L]), [1, 0, 2]) : null;
    const y = o.matmulEpilogue(o.reshape(weight, [oc, c.ckk]), o.reshape(cols, [c.ckk, n * L]), e.scale, e.shift, resRows ? o.reshape(resRows, [oc, n * L]) : null, relu, 'conv2dAffine');
    if (y) {
      cols.dispose(); // inference: free the (large) columns now rather than at the end of the caller's tidy
      resRows?.dispose();
      const out = fromChannelRows(y, c);
      y.dispose(); // the permuted copy (or, at batch 1, a view sharing the buffer) is all that is needed
      return out;
    }
  }
  let out = o.add(o.mul(conv2d(x, weight, null, options), o.reshape(e.scale, [1, oc, 1, 1])), o.reshape(e.shift, [1, oc, 1, 1]));
  if (res) out = o.add(out, res);
  return relu ? o.relu(out) : out;
}

/** im2col in PyTorch's F.unfold layout: [N, C·kh·kw, L]. */
export interface UnfoldOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
}
const UNFOLD_FORMS = 'unfold(input, kernelSize, dilation?, padding?, stride?) (PyTorch\'s order) or unfold(input, kernelSize, { dilation?, padding?, stride? })';
export function unfold(x: Tensor, kernelSize: Pair, options?: UnfoldOptions): Tensor;
/** PyTorch's positional form: unfold(input, kernel_size, dilation, padding, stride). */
export function unfold(x: Tensor, kernelSize: Pair, dilation: Pair, padding?: Pair, stride?: Pair): Tensor;
export function unfold(x: Tensor, kernelSize: Pair, ...rest: unknown[]): Tensor {
  return runAs('unfold', ['input'], [x], () => {
    need4d('unfold', 'input', x);
    const options = callForm('unfold', rest, ['dilation', 'padding', 'stride'], UNFOLD_FORMS) as UnfoldOptions;
    const k = pair('unfold', 'kernelSize', kernelSize, 1, UNFOLD_FORMS);
    const g = geometry('unfold', x, k, pair('unfold', 'stride', options.stride ?? 1, 1, UNFOLD_FORMS), pair('unfold', 'padding', options.padding ?? 0, 0, UNFOLD_FORMS), pair('unfold', 'dilation', options.dilation ?? 1, 1, UNFOLD_FORMS));
    const rows = g.c * g.kh * g.kw;
    return o.permute(o.reshape(o.im2col(x, g), [rows, g.n, g.oh * g.ow]), [1, 0, 2]);
  });
}

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
  const cshape = [1, c, 1, 1];
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
  // Eval: fold the statistics into one scale and shift per channel.
  let scale = o.pow(o.add(runningVar as Tensor, eps), -0.5);
  if (weight) scale = o.mul(scale, weight);
  let shift = o.neg(o.mul(runningMean as Tensor, scale));
  if (bias) shift = o.add(shift, bias);
  return o.add(o.mul(x, o.reshape(scale, cshape)), o.reshape(shift, cshape));
}

export interface MaxPool2dOptions {
  kernelSize: Pair;
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  ceilMode?: boolean;
}

// PyTorch bounds padding by half the kernel size itself, dilation or not (torch 1.13 refuses
// max_pool2d(k=3, padding=2, dilation=2)); a looser bound would accept calls PyTorch refuses.
function poolChecks(op: string, k: [number, number], p: [number, number]): void {
  for (let i = 0; i < 2; i++) {
    if (p[i] > Math.floor(k[i] / 2)) fail(op, `padding ${p[i]} must be at most half of the kernel size ${k[i]}`);
  }
}

const MAXPOOL_KEYS = ['kernelSize', 'stride', 'padding', 'dilation', 'ceilMode'] as const;
const MAXPOOL_FORMS = 'maxPool2d(input, kernelSize, stride?, padding?, dilation?, ceilMode?) or maxPool2d(input, { kernelSize, stride?, padding?, dilation?, ceilMode? })';

export function maxPool2d(x: Tensor, options: MaxPool2dOptions): Tensor;
/** PyTorch's positional form: max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode); stride null means the kernel size. */
export function maxPool2d(x: Tensor, kernelSize: Pair, stride?: Pair | null, padding?: Pair, dilation?: Pair, ceilMode?: boolean): Tensor;
export function maxPool2d(x: Tensor, ...rest: unknown[]): Tensor {
  return runAs('maxPool2d', ['input'], [x], () => {
    need4d('maxPool2d', 'input', x);
    const options = callForm('maxPool2d', rest, MAXPOOL_KEYS, MAXPOOL_FORMS) as Partial<MaxPool2dOptions>;
    if (options.kernelSize === undefined) fail('maxPool2d', `kernelSize is required; accepted forms: ${MAXPOOL_FORMS}`);
    const k = pair('maxPool2d', 'kernelSize', options.kernelSize, 1, MAXPOOL_FORMS);
    const s = pair('maxPool2d', 'stride', options.stride ?? k, 1, MAXPOOL_FORMS);
    const p = pair('maxPool2d', 'padding', options.padding ?? 0, 0, MAXPOOL_FORMS);
    const d = pair('maxPool2d', 'dilation', options.dilation ?? 1, 1, MAXPOOL_FORMS);
    poolChecks('maxPool2d', k, p);
    return o.maxPool2dPrim(x, geometry('maxPool2d', x, k, s, p, d, flag('maxPool2d', 'ceilMode', options.ceilMode, false, MAXPOOL_FORMS)));
  });
}

export interface AvgPool2dOptions {
  kernelSize: Pair;
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
  countIncludePad?: boolean;
}

const AVGPOOL_KEYS = ['kernelSize', 'stride', 'padding', 'ceilMode', 'countIncludePad'] as const;
const AVGPOOL_FORMS = 'avgPool2d(input, kernelSize, stride?, padding?, ceilMode?, countIncludePad?) or avgPool2d(input, { kernelSize, stride?, padding?, ceilMode?, countIncludePad? })';

export function avgPool2d(x: Tensor, options: AvgPool2dOptions): Tensor;
/** PyTorch's positional form: avg_pool2d(input, kernel_size, stride, padding, ceil_mode, count_include_pad); stride null means the kernel size. */
export function avgPool2d(x: Tensor, kernelSize: Pair, stride?: Pair | null, padding?: Pair, ceilMode?: boolean, countIncludePad?: boolean): Tensor;
export function avgPool2d(x: Tensor, ...rest: unknown[]): Tensor {
  return runAs('avgPool2d', ['input'], [x], () => {
    need4d('avgPool2d', 'input', x);
    const options = callForm('avgPool2d', rest, AVGPOOL_KEYS, AVGPOOL_FORMS) as Partial<AvgPool2dOptions>;
    if (options.kernelSize === undefined) fail('avgPool2d', `kernelSize is required; accepted forms: ${AVGPOOL_FORMS}`);
    const k = pair('avgPool2d', 'kernelSize', options.kernelSize, 1, AVGPOOL_FORMS);
    const s = pair('avgPool2d', 'stride', options.stride ?? k, 1, AVGPOOL_FORMS);
    const p = pair('avgPool2d', 'padding', options.padding ?? 0, 0, AVGPOOL_FORMS);
    poolChecks('avgPool2d', k, p);
    const g = geometry('avgPool2d', x, k, s, p, [1, 1], flag('avgPool2d', 'ceilMode', options.ceilMode, false, AVGPOOL_FORMS));
    return o.avgPool2dPrim(x, { ...g, countIncludePad: flag('avgPool2d', 'countIncludePad', options.countIncludePad, true, AVGPOOL_FORMS) });
  });
}

/**
 * Adaptive average pooling to [oh, ow] with PyTorch's windows (start ⌊i·H/oh⌋, end ⌈(i+1)·H/oh⌉).
 * Global pooling is a mean; evenly dividing sizes are an ordinary average pool; otherwise a product
 * with a constant pooling matrix.
 */
export function adaptiveAvgPool2d(x: Tensor, outputSize: Pair): Tensor {
  return runAs('adaptiveAvgPool2d', ['input'], [x], () => {
    need4d('adaptiveAvgPool2d', 'input', x);
    const [oh, ow] = pair('adaptiveAvgPool2d', 'outputSize', outputSize, 1);
    const [n, c, h, w] = x.shape;
    if (h === 0 || w === 0) fail('adaptiveAvgPool2d', `input ${fmt(x.shape)} has an empty spatial dimension`);
    if (oh === 1 && ow === 1) return o.mean(x, [2, 3], true);
    if (h % oh === 0 && w % ow === 0) return avgPool2d(x, { kernelSize: [h / oh, w / ow] });
    const pm = new Float32Array(h * w * oh * ow);
    for (let i = 0; i < oh; i++) {
      const y0 = Math.floor((i * h) / oh);
      const y1 = Math.ceil(((i + 1) * h) / oh);
      for (let j = 0; j < ow; j++) {
        const x0 = Math.floor((j * w) / ow);
        const x1 = Math.ceil(((j + 1) * w) / ow);
        const inv = 1 / ((y1 - y0) * (x1 - x0));
        for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) pm[(yy * w + xx) * oh * ow + i * ow + j] = inv;
      }
    }
    const be = x.backend;
    const P = fromStorage(be, be.upload(pm), [h * w, oh * ow]);
    return o.reshape(o.matmul(o.reshape(x, [n * c, h * w]), P), [n, c, oh, ow]);
  });
}

/** y = x·Wᵀ + b for x [..., in], weight [out, in], bias [out] or null. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return runAs('linear', ['input', 'weight', 'bias'], [x, weight, bias], () => {
    if (!(x instanceof Tensor) || !(weight instanceof Tensor)) fail('linear', 'input and weight must be Tensors');
    if (weight.rank !== 2) fail('linear', `weight must be 2-D [out, in], got ${fmt(weight.shape)}`);
    if (x.rank < 1) fail('linear', `input must have at least 1 dimension, got ${fmt(x.shape)}`);
    const [out, inF] = weight.shape;
    if (x.shape[x.rank - 1] !== inF) fail('linear', `input has ${x.shape[x.rank - 1]} features (last dim of ${fmt(x.shape)}) but weight ${fmt(weight.shape)} expects ${inF}`);
    if (bias !== null && (bias.rank !== 1 || bias.shape[0] !== out)) fail('linear', `bias must have shape [${out}], got ${fmt(bias.shape)}`);
    const lead = x.shape.slice(0, -1);
    const x2 = o.reshape(x, [lead.reduce((a, b) => a * b, 1), inF]);
    let y = o.matmulT(x2, weight, false, true, 'linear');
    if (bias) y = o.add(y, bias);
    return o.reshape(y, [...lead, out]);
  });
}

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
