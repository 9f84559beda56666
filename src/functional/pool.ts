// F's pooling, padding and resizing: max/avg/adaptive-average pooling, pad and interpolate.
import { fail, fmt } from '../errors.js';
import * as o from '../ops.js';
import { fromStorage, Tensor } from '../tensor.js';
import { runAs } from '../opscope.js';
import { checkOptions, checkTensor, constantOf, indexSelect } from '../ops-extra.js';
import { callForm, flag, geometry, need4d, pair, type Pair } from './common.js';

export interface MaxPool2dOptions {
  kernelSize: Pair;
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  ceilMode?: boolean;
}

/**
 * The window of a pool call in either of PyTorch's forms: the options, the geometry (stride defaulting to the
 * kernel, padding bounded by half the kernel) and the flag reader, each error naming `op` and its forms.
 */
function poolWindow(op: 'maxPool2d' | 'avgPool2d', x: Tensor, rest: readonly unknown[], keys: readonly string[], forms: string) {
  need4d(op, 'input', x);
  const options = callForm(op, rest, keys, forms) as Partial<MaxPool2dOptions & AvgPool2dOptions>;
  if (options.kernelSize === undefined) fail(op, `kernelSize is required; accepted forms: ${forms}`);
  const k = pair(op, 'kernelSize', options.kernelSize, 1, forms);
  const s = pair(op, 'stride', options.stride ?? k, 1, forms);
  const p = pair(op, 'padding', options.padding ?? 0, 0, forms);
  const d = pair(op, 'dilation', options.dilation ?? 1, 1, forms);
  // PyTorch bounds padding by half the kernel size itself, dilation or not (torch 1.13 refuses
  // max_pool2d(k=3, padding=2, dilation=2)); a looser bound would accept calls PyTorch refuses.
  for (let i = 0; i < 2; i++) {
    if (p[i] > Math.floor(k[i] / 2)) fail(op, `padding ${p[i]} must be at most half of the kernel size ${k[i]}`);
  }
  const flagOf = (name: 'ceilMode' | 'countIncludePad', dflt: boolean): boolean => flag(op, name, options[name], dflt, forms);
  return { g: geometry(op, x, k, s, p, d, flagOf('ceilMode', false)), flagOf };
}

const MAXPOOL_KEYS = ['kernelSize', 'stride', 'padding', 'dilation', 'ceilMode'] as const;
const MAXPOOL_FORMS = 'maxPool2d(input, kernelSize, stride?, padding?, dilation?, ceilMode?) or maxPool2d(input, { kernelSize, stride?, padding?, dilation?, ceilMode? })';

export function maxPool2d(x: Tensor, options: MaxPool2dOptions): Tensor;
/** PyTorch's positional form: max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode); stride null means the kernel size. */
export function maxPool2d(x: Tensor, kernelSize: Pair, stride?: Pair | null, padding?: Pair, dilation?: Pair, ceilMode?: boolean): Tensor;
export function maxPool2d(x: Tensor, ...rest: unknown[]): Tensor {
  return runAs('maxPool2d', ['input'], [x], () => o.maxPool2dPrim(x, poolWindow('maxPool2d', x, rest, MAXPOOL_KEYS, MAXPOOL_FORMS).g));
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
    // (avgPool2d has no dilation: its keys refuse one, so the window's dilation stays 1.)
    const { g, flagOf } = poolWindow('avgPool2d', x, rest, AVGPOOL_KEYS, AVGPOOL_FORMS);
    return o.avgPool2dPrim(x, { ...g, countIncludePad: flagOf('countIncludePad', true) });
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
