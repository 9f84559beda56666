// The standard layers (Conv2d, pools, Linear, Sequential, ...) as Modules over the functions in F, with PyTorch's
// constructor arguments, attribute names and default initialisation. Batch norm lives in batchnorm.ts.
import { describeValue, fail } from '../errors.js';
import * as F from '../functional-scoped.js'; // each call frees its own temporaries (views included)
import * as o from '../ops.js';
import type { Generator } from '../random.js';
import { Tensor } from '../tensor.js';
import { zeros } from '../creation.js';
import { deferConv } from '../functional/deferred.js';
import { fans, kaimingUniform_, uniform_ } from './init.js';
import { Module } from './module.js';
import { checkOptions, checkPair, convRepr, isBool, isGenerator, isPositiveInt, pairAtLeast, pairOf, positiveInt, type Pair } from './checks.js';

export { BatchNorm, BatchNorm1d, BatchNorm2d, convBn, type BatchNorm2dOptions } from './batchnorm.js';
export { setBatchNormFolding, batchNormFolding } from '../functional/deferred.js';

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
    const options = { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups };
    // Without gradients the output is deferred, so a batch norm, residual add and ReLU applied to it next can join
    // the GEMM (functional/deferred.ts); otherwise, and in training, an ordinary convolution.
    return deferConv(x, this.weight, this.bias, options) ?? F.conv2d(x, this.weight, this.bias, options);
  }

  override extraRepr(): string {
    return convRepr(this, [
      ['stride', this.stride, 1],
      ['padding', this.padding, 0],
      ['dilation', this.dilation, 1],
    ]);
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
    for (const m of this.list) {
      const prev = y;
      y = m.forward(y);
      // Each stage's output is consumed by the next: release it now, as PyTorch's reference count would, rather
      // than when the whole Sequential returns (a graph keeps what backward reads).
      if (prev !== x && prev !== y) prev.dispose();
    }
    return y;
  }
}
