// The standard layers (Conv2d, BatchNorm2d, pools, Linear, ...) as Modules over the functions in F,
// with PyTorch's constructor arguments, attribute names and default initialisation.
import { describeValue, fail, fmt } from '../errors.js';
import * as F from '../functional-scoped.js'; // each call frees its own temporaries (views included)
import * as o from '../ops.js';
import type { Generator } from '../random.js';
import { Tensor } from '../tensor.js';
import { isGradEnabled, keep, noGrad, tidy } from '../engine.js';
import { zeros, ones, full } from '../creation.js';
import { fans, kaimingUniform_, uniform_ } from './init.js';
import { Module } from './module.js';
import { foldEpoch } from './fold-epoch.js';

type Pair = number | readonly [number, number];

function pairOf(v: Pair): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

// ---- constructor argument checks (JavaScript callers have no compiler to catch a missing or mistyped one) ----

function positiveInt(op: string, name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(op, `${name} must be a positive integer, got ${describeValue(v)}${v === undefined ? ` (${USAGE[op] ?? op})` : ''}`);
}

/** How each layer is called, quoted when a required argument is missing. */
const USAGE: Record<string, string> = {
  Conv2d: 'new Conv2d(inChannels, outChannels, kernelSize, options?)',
  Linear: 'new Linear(inFeatures, outFeatures, options?)',
  BatchNorm2d: 'new BatchNorm2d(numFeatures, options?)',
  MaxPool2d: 'new MaxPool2d(kernelSize, options?)',
  AvgPool2d: 'new AvgPool2d(kernelSize, options?)',
  AdaptiveAvgPool2d: 'new AdaptiveAvgPool2d(outputSize)',
};

/** An integer >= min, or a pair of them (kernel sizes, strides, padding). */
function checkPair(op: string, name: string, v: unknown, min: number): void {
  const ok = (d: unknown): boolean => typeof d === 'number' && Number.isInteger(d) && d >= min;
  if (ok(v) || (Array.isArray(v) && v.length === 2 && v.every(ok))) return;
  fail(op, `${name} must be an integer >= ${min} or a pair [h, w] of them, got ${Array.isArray(v) ? JSON.stringify(v) : describeValue(v)}${v === undefined ? ` (${USAGE[op] ?? op})` : ''}`);
}

/** The options object: an object (or undefined), with only the keys the layer knows, each of the right type. */
function checkOptions(op: string, options: unknown, known: Record<string, (v: unknown) => string | null>): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) fail(op, `options must be an object like { ${Object.keys(known)[0]}: … }, got ${describeValue(options)}`);
  for (const [k, v] of Object.entries(options)) {
    const check = known[k];
    if (!check) fail(op, `unknown option '${k}' (known: ${Object.keys(known).join(', ')})`);
    if (v === undefined) continue;
    const why = check(v);
    if (why) fail(op, `options.${k} must be ${why}, got ${describeValue(v)}`);
  }
}

const isBool = (v: unknown): string | null => (typeof v === 'boolean' ? null : 'a boolean');
const pairAtLeast =
  (min: number) =>
  (v: unknown): string | null => {
    const ok = (d: unknown): boolean => typeof d === 'number' && Number.isInteger(d) && d >= min;
    return ok(v) || (Array.isArray(v) && v.length === 2 && v.every(ok)) ? null : `an integer >= ${min} or a pair [h, w] of them`;
  };
const isPositiveInt = (v: unknown): string | null => (typeof v === 'number' && Number.isInteger(v) && v >= 1 ? null : 'a positive integer');
const isGenerator = (v: unknown): string | null => (typeof v === 'object' && v !== null && typeof (v as Generator).uniform === 'function' ? null : 'a Generator');

let deferInit = 0;

/**
 * Builds modules without their default initialisation (weights stay zero), like torch's skip_init: for
 * models that overwrite every weight anyway (ResNet re-initialises its convolutions), this halves the
 * construction time. Call `resetParameters()` on any module whose default you still want.
 */
export function skipInit<T>(build: () => T): T {
  deferInit++;
  try {
    return build();
  } finally {
    deferInit--;
  }
}

/** Whether modules built now skip initialisation (inside skipInit); models with their own init check it. */
export function initSkipped(): boolean {
  return deferInit > 0;
}

/** PyTorch's default for weights with a fan-in: kaiming_uniform(a=√5), bias U(±1/√fan_in). */
function defaultInit(weight: Tensor, bias: Tensor | null, gen?: Generator): void {
  kaimingUniform_(weight, { a: Math.sqrt(5), generator: gen });
  if (bias) {
    const { fanIn } = fans(weight.shape);
    const b = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    uniform_(bias, -b, b, gen);
  }
}

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  /** Default true, as in PyTorch; ResNet's convolutions have none. */
  bias?: boolean;
  generator?: Generator;
}

export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(inChannels: number, outChannels: number, kernelSize: Pair, options?: Conv2dOptions) {
    super();
    positiveInt('Conv2d', 'inChannels', inChannels);
    positiveInt('Conv2d', 'outChannels', outChannels);
    checkPair('Conv2d', 'kernelSize', kernelSize, 1);
    checkOptions('Conv2d', options, { stride: pairAtLeast(1), padding: pairAtLeast(0), dilation: pairAtLeast(1), groups: isPositiveInt, bias: isBool, generator: isGenerator });
    options ??= {};
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = pairOf(kernelSize);
    this.stride = pairOf(options.stride ?? 1);
    this.padding = pairOf(options.padding ?? 0);
    this.dilation = pairOf(options.dilation ?? 1);
    this.groups = options.groups ?? 1;
    positiveInt('Conv2d', 'groups', this.groups);
    for (const k of this.kernelSize) positiveInt('Conv2d', 'kernelSize', k);
    if (inChannels % this.groups || outChannels % this.groups) {
      fail('Conv2d', `inChannels ${inChannels} and outChannels ${outChannels} must both be divisible by groups ${this.groups}`);
    }
    const [kh, kw] = this.kernelSize;
    this.weight = this.registerParameter('weight', zeros([outChannels, inChannels / this.groups, kh, kw]));
    this.bias = options.bias ?? true ? this.registerParameter('bias', zeros([outChannels])) : null;
    this.generator = options.generator;
    if (!deferInit) this.resetParameters();
  }

  private readonly generator: Generator | undefined;

  /** Re-draws the weights with PyTorch's default (kaiming_uniform a=√5; bias U(±1/√fan_in)). */
  resetParameters(): void {
    defaultInit(this.weight, this.bias, this.generator);
  }

  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }

  override extraRepr(): string {
    const parts = [`${this.inChannels}, ${this.outChannels}, kernel=${this.kernelSize.join('×')}`];
    if (this.stride.some((s) => s !== 1)) parts.push(`stride=${this.stride.join(',')}`);
    if (this.padding.some((p) => p !== 0)) parts.push(`padding=${this.padding.join(',')}`);
    if (this.dilation.some((d) => d !== 1)) parts.push(`dilation=${this.dilation.join(',')}`);
    if (this.groups !== 1) parts.push(`groups=${this.groups}`);
    if (!this.bias) parts.push('bias=false');
    return parts.join(', ');
  }
}

export interface BatchNorm2dOptions {
  eps?: number;
  /** Running-average factor (default 0.1); null means a cumulative average over all batches seen. */
  momentum?: number | null;
  /** Learnable weight and bias (default true). */
  affine?: boolean;
  /** Keep running statistics (default true); without them training and eval both use batch statistics. */
  trackRunningStats?: boolean;
}

/**
 * Batch normalisation with PyTorch's buffers: running_mean, running_var and num_batches_tracked (a
 * float32 scalar here; safetensors I/O converts it to and from torch's int64). The shared part of
 * BatchNorm1d and BatchNorm2d (torch's _BatchNorm); the subclasses check their input's rank.
 */
export abstract class BatchNorm extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly numBatchesTracked: Tensor | null;

  constructor(numFeatures: number, options: BatchNorm2dOptions = {}) {
    super();
    const op = this.constructor.name;
    positiveInt(op, 'numFeatures', numFeatures);
    checkOptions(op, options, {
      eps: (v) => (typeof v === 'number' ? null : 'a positive number'),
      momentum: (v) => (v === null || typeof v === 'number' ? null : 'a number in [0, 1] or null'),
      affine: isBool,
      trackRunningStats: isBool,
    });
    this.numFeatures = numFeatures;
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
    if (!(this.eps > 0)) fail(op, `eps must be positive, got ${this.eps}`);
    if (this.momentum !== null && !(this.momentum >= 0 && this.momentum <= 1)) fail(op, `momentum must be in [0, 1] or null, got ${this.momentum}`);
    const affine = options.affine ?? true;
    this.weight = affine ? this.registerParameter('weight', ones([numFeatures])) : null;
    this.bias = affine ? this.registerParameter('bias', zeros([numFeatures])) : null;
    const track = options.trackRunningStats ?? true;
    this.runningMean = track ? this.registerBuffer('running_mean', zeros([numFeatures])) : null;
    this.runningVar = track ? this.registerBuffer('running_var', ones([numFeatures])) : null;
    this.numBatchesTracked = track ? this.registerBuffer('num_batches_tracked', full([], 0)) : null;
  }

  /** Normalises a 4-D [N, C, H, W] view of the input (the subclasses reshape to it). */
  protected normalize(x: Tensor): Tensor {
    const updating = this.training && this.runningMean !== null;
    let momentum = this.momentum ?? 0;
    const nbt = this.numBatchesTracked;
    if (updating && this.momentum === null && nbt) {
      if (!nbt.backend.readSync) fail(this.constructor.name, 'momentum=null (cumulative average) needs a backend that reads synchronously');
      momentum = 1 / (nbt.itemSync() + 1);
    }
    const y = F.batchNorm2d(x, this.runningMean, this.runningVar, this.weight, this.bias, {
      training: this.training || this.runningMean === null,
      momentum,
      eps: this.eps,
    });
    // Counted after the call so that a rejected input leaves the module untouched.
    if (updating && nbt) {
      noGrad(() => {
        const n = o.add(nbt, 1);
        nbt.assign(n);
        n.dispose();
      });
    }
    return y;
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}`;
  }
}

export class BatchNorm2d extends BatchNorm {
  // Eval-mode folds (conv → BN) are cached per BatchNorm2d.
  protected override freeCaches(): void {
    dropFold(this);
  }

  forward(x: Tensor): Tensor {
    if (!(x instanceof Tensor) || x.rank !== 4) fail('BatchNorm2d', `input must be a 4-D Tensor [N, C, H, W], got ${x instanceof Tensor ? fmt(x.shape) : typeof x}`);
    if (x.shape[1] !== this.numFeatures) fail('BatchNorm2d', `input ${fmt(x.shape)} has ${x.shape[1]} channels, expected ${this.numFeatures}`);
    return this.normalize(x);
  }
}

/** torch.nn.BatchNorm1d: statistics per feature over [N, C] or per channel over [N, C, L]. */
export class BatchNorm1d extends BatchNorm {
  forward(x: Tensor): Tensor {
    if (!(x instanceof Tensor) || (x.rank !== 2 && x.rank !== 3)) fail('BatchNorm1d', `input must be a 2-D [N, C] or 3-D [N, C, L] Tensor, got ${x instanceof Tensor ? fmt(x.shape) : typeof x}`);
    if (x.shape[1] !== this.numFeatures) fail('BatchNorm1d', `input ${fmt(x.shape)} has ${x.shape[1]} features, expected ${this.numFeatures}`);
    if (this.training && x.shape[0] * (x.shape[2] ?? 1) < 2) fail('BatchNorm1d', `training needs more than one value per feature, got input ${fmt(x.shape)}`);
    // [N, C(, L)] → [N, C, L, 1]: the same per-channel statistics as the 2-D kernel's.
    return o.reshape(this.normalize(o.reshape(x, [x.shape[0], x.shape[1], x.shape[2] ?? 1, 1])), x.shape);
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return o.relu(x);
  }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

export class MaxPool2d extends Module {
  readonly options: F.MaxPool2dOptions;
  constructor(kernelSize: Pair, options: Omit<F.MaxPool2dOptions, 'kernelSize'> = {}) {
    super();
    checkPair('MaxPool2d', 'kernelSize', kernelSize, 1);
    checkOptions('MaxPool2d', options, { stride: pairAtLeast(1), padding: pairAtLeast(0), dilation: pairAtLeast(1), ceilMode: isBool });
    this.options = { ...options, kernelSize };
  }
  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.options);
  }
  override extraRepr(): string {
    return `kernel=${pairOf(this.options.kernelSize).join('×')}, stride=${pairOf(this.options.stride ?? this.options.kernelSize).join(',')}, padding=${pairOf(this.options.padding ?? 0).join(',')}`;
  }
}

export class AvgPool2d extends Module {
  readonly options: F.AvgPool2dOptions;
  constructor(kernelSize: Pair, options: Omit<F.AvgPool2dOptions, 'kernelSize'> = {}) {
    super();
    checkPair('AvgPool2d', 'kernelSize', kernelSize, 1);
    checkOptions('AvgPool2d', options, { stride: pairAtLeast(1), padding: pairAtLeast(0), ceilMode: isBool, countIncludePad: isBool });
    this.options = { ...options, kernelSize };
  }
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.options);
  }
  override extraRepr(): string {
    return `kernel=${pairOf(this.options.kernelSize).join('×')}, stride=${pairOf(this.options.stride ?? this.options.kernelSize).join(',')}`;
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super();
    checkPair('AdaptiveAvgPool2d', 'outputSize', outputSize, 1);
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
  override extraRepr(): string {
    return `output=${pairOf(this.outputSize).join('×')}`;
  }
}

export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
    for (const [name, v] of [['startDim', startDim], ['endDim', endDim]] as const) {
      if (typeof v !== 'number' || !Number.isInteger(v)) fail('Flatten', `${name} must be an integer (negative counts from the end), got ${describeValue(v)}`);
    }
  }
  forward(x: Tensor): Tensor {
    return o.flatten(x, this.startDim, this.endDim);
  }
}

export interface LinearOptions {
  bias?: boolean;
  generator?: Generator;
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions = {},
  ) {
    super();
    positiveInt('Linear', 'inFeatures', inFeatures);
    positiveInt('Linear', 'outFeatures', outFeatures);
    checkOptions('Linear', options, { bias: isBool, generator: isGenerator });
    this.weight = this.registerParameter('weight', zeros([outFeatures, inFeatures]));
    this.bias = options.bias ?? true ? this.registerParameter('bias', zeros([outFeatures])) : null;
    this.generator = options.generator;
    if (!deferInit) this.resetParameters();
  }

  private readonly generator: Generator | undefined;

  /** Re-draws the weights with PyTorch's default (kaiming_uniform a=√5; bias U(±1/√fan_in)). */
  resetParameters(): void {
    defaultInit(this.weight, this.bias, this.generator);
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
  override extraRepr(): string {
    return `${this.inFeatures} → ${this.outFeatures}${this.bias ? '' : ', bias=false'}`;
  }
}

/** Runs its children in order; they are named '0', '1', ... as in torch.nn.Sequential. */
export class Sequential extends Module {
  private readonly list: Module[];
  constructor(...modules: Module[]) {
    super();
    modules.forEach((m: unknown, i) => {
      if (m instanceof Module) return;
      const hint = Array.isArray(m) ? ' (pass the modules as separate arguments: new Sequential(...list))' : '';
      fail('Sequential', `argument ${i} must be a Module, got ${describeValue(m)}${hint}`);
    });
    this.list = modules;
    modules.forEach((m, i) => this.registerModule(String(i), m));
  }
  get length(): number {
    return this.list.length;
  }
  /** The i-th module (negative counts from the end); `at<nn.Linear>(1)` types it (unchecked, like a cast). */
  at<T extends Module = Module>(i: number): T {
    const m = this.list[i < 0 ? this.list.length + i : i];
    if (!m) fail('Sequential.at', `index ${i} is out of range for ${this.list.length} modules`);
    return m as T;
  }
  [Symbol.iterator](): Iterator<Module> {
    return this.list[Symbol.iterator]();
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (let i = 0; i < this.list.length; i++) {
      const [m, next, after] = [this.list[i], this.list[i + 1], this.list[i + 2]];
      const prev = y;
      // Conv2d → BatchNorm2d (→ ReLU) runs as one folded call where convBn can fold it (eval, no gradient).
      if (m instanceof Conv2d && next instanceof BatchNorm2d && canFold(m, next, y)) {
        const relu = after instanceof ReLU;
        y = convBn(m, next, y, { relu });
        i += relu ? 2 : 1;
      } else y = m.forward(y);
      // Each stage's output is consumed by the next: release it now, as PyTorch's reference count would, rather
      // than when the whole Sequential returns (a graph keeps what backward reads).
      if (prev !== x && prev !== y) prev.dispose();
    }
    return y;
  }
}

// ---- eval-mode batch-norm folding ----

let folding = true;

/**
 * Turns eval-mode batch-norm folding on or off (default on) and returns the previous setting. Off, every
 * Conv2d → BatchNorm2d pair runs as two modules, as in training; results agree to float32 rounding.
 */
export function setBatchNormFolding(enabled: boolean): boolean {
  const was = folding;
  folding = enabled;
  return was;
}

export function batchNormFolding(): boolean {
  return folding;
}

/** Folding applies in eval mode with running statistics, when no gradient is recorded through the pair. */
function canFold(conv: Conv2d, bn: BatchNorm2d, x: Tensor): boolean {
  if (!folding || bn.training || !bn.runningMean || !bn.runningVar) return false;
  if (bn.numFeatures !== conv.outChannels) return false; // let the modules report the mismatch
  if (!isGradEnabled()) return true;
  return ![x, conv.weight, conv.bias, bn.weight, bn.bias].some((t) => t?.requiresGrad);
}

/**
 * bn(conv(x)) (+ residual) (→ ReLU). In eval mode the batch norm is an affine map per channel, so it folds into
 * the convolution: y = conv(x)·s + t with s = γ/√(running_var + ε) and t = β − running_mean·s (+ the conv's
 * bias·s), and the backend's GEMM applies s, t, the residual and ReLU as it writes the output. In training, with
 * gradients, or with folding turned off, the modules run one by one.
 */
export function convBn(conv: Conv2d, bn: BatchNorm2d, x: Tensor, opts: { residual?: Tensor | null; relu?: boolean } = {}): Tensor {
  const res = opts.residual ?? null;
  if (!canFold(conv, bn, x) || (res !== null && res.requiresGrad && isGradEnabled())) {
    let y = bn.forward(conv.forward(x));
    if (res !== null) y = o.add(y, res);
    return opts.relu ? o.relu(y) : y;
  }
  const { scale, shift } = foldedAffine(conv, bn);
  return F.conv2dAffine(x, conv.weight, { scale, shift, residual: res, relu: opts.relu ?? false }, { stride: conv.stride, padding: conv.padding, dilation: conv.dilation, groups: conv.groups });
}

interface Folded {
  key: unknown[];
  scale: Tensor;
  shift: Tensor;
}
/** Per batch norm: its last fold, reused while every input to it is unchanged (a forward had ~4 small ops per BN). */
const folds = new WeakMap<BatchNorm2d, Folded>();

/**
 * What a fold depends on: the tensors' storages (assign and Module.to swap them), their version counters where
 * Tensor has them, the epoch (optimizers and loadStateDict bump it: they may write in place), eps and the conv.
 */
function foldKey(conv: Conv2d, bn: BatchNorm2d): unknown[] {
  const ts = [conv.bias, bn.weight, bn.bias, bn.runningMean, bn.runningVar];
  return [conv, bn.eps, foldEpoch(), ...ts.flatMap((t) => (t ? [t.storage, (t as { version?: number }).version] : [null, null]))];
}

function foldedAffine(conv: Conv2d, bn: BatchNorm2d): { scale: Tensor; shift: Tensor } {
  const key = foldKey(conv, bn);
  const hit = folds.get(bn);
  if (hit && !hit.scale.isDisposed && !hit.shift.isDisposed && hit.key.length === key.length && hit.key.every((k, i) => k === key[i])) return hit;
  dropFold(bn);
  const [scale, shift] = tidy(() => {
    let s = o.pow(o.add(bn.runningVar as Tensor, bn.eps), -0.5);
    if (bn.weight) s = o.mul(s, bn.weight);
    let t = o.neg(o.mul(bn.runningMean as Tensor, s));
    if (bn.bias) t = o.add(t, bn.bias);
    if (conv.bias) t = o.add(t, o.mul(conv.bias, s));
    return [s, t];
  });
  const f = { key, scale: keep(scale), shift: keep(shift) };
  folds.set(bn, f);
  return f;
}

/** Frees a batch norm's cached fold (its module is disposed, or the fold went stale). */
export function dropFold(bn: BatchNorm2d): void {
  const f = folds.get(bn);
  if (!f) return;
  folds.delete(bn);
  f.scale.dispose();
  f.shift.dispose();
}
