// F's convolutions and GEMM layers: conv2d (im2col + GEMM), conv2dAffine (conv with the batch-norm/residual/ReLU
// epilogue fused into the GEMM where the backend has one), unfold, convTranspose2d and linear.
import { fail, fmt } from '../errors.js';
import { sameShape } from '../shape.js';
import * as o from '../ops.js';
import { Tensor } from '../tensor.js';
import { isGradEnabled, tidy } from '../engine.js';
import { runAs } from '../opscope.js';
import { checkKeys, describe, isOptions } from '../options.js';
import { checkOptions, checkTensor } from '../ops-extra.js';
import { callForm, flag, geometry, need4d, pair, type Pair } from './common.js';
import type { WindowGeometry } from '../backend.js';

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

/** @internal conv2d's checks without running it: the output shape and the groups (functional/deferred.ts). */
export function convOutput(x: Tensor, weight: Tensor, bias: Tensor | null, options: Conv2dOptions): { shape: number[]; groups: number } {
  const c = convSetup('conv2d', x, weight, bias, options);
  return { shape: [c.n, c.oc, c.g.oh, c.g.ow], groups: c.groups };
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
  // Recorded for a gradient, a groups-1 conv with a window is the conv primitive: its forward and both gradients
  // are the backend's convForward, convInputGrad and convWeightGrad (which may use Winograd).
  if (c.groups === 1 && !c.pointwise && isGradEnabled() && (x.requiresGrad || weight.requiresGrad)) return o.conv2dPrim(x, weight, c.g);
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
    // The GEMM's rows are channels and its columns (image, position): the residual in that order too.
    const resRows = res ? o.permute(o.reshape(res, [n, oc, L]), [1, 0, 2]) : null;
    const resArg = resRows ? o.reshape(resRows, [oc, n * L]) : null;
    // A 1×1 stride-1 conv multiplies x itself; any other goes through the backend's convolution, which may
    // skip the columns or use fewer multiplies.
    const cols = c.pointwise ? convCols(c, x) : null;
    const y = cols
      ? o.matmulEpilogue(o.reshape(weight, [oc, c.ckk]), o.reshape(cols, [c.ckk, n * L]), e.scale, e.shift, resArg, relu, 'conv2dAffine')
      : o.convEpilogue(x, weight, c.g, e.scale, e.shift, resArg, relu, 'conv2dAffine');
    cols?.dispose(); // inference: free the columns now rather than at the end of the caller's tidy
    resRows?.dispose();
    const out = fromChannelRows(y, c);
    y.dispose(); // the permuted copy (or, at batch 1, a view sharing the buffer) is all that is needed
    return out;
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
  const [sh, sw] = pair(op, 'stride', options.stride ?? 1, 1);
  const [ph, pw] = pair(op, 'padding', options.padding ?? 0, 0);
  const [dh, dw] = pair(op, 'dilation', options.dilation ?? 1, 1);
  const [oph, opw] = pair(op, 'outputPadding', options.outputPadding ?? 0, 0);
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
