// The modules over F's activations, normalisations, resizing, transposed convolution and losses: Dropout,
// LayerNorm, GroupNorm, ConvTranspose2d, Upsample, the activation modules and the loss modules, with PyTorch's
// constructor arguments (as options objects), attribute names, state-dict keys and default initialisation.
import { fail, fmt } from '../errors.js';
import * as F from '../functional.js';
import type { Generator } from '../random.js';
import { Tensor } from '../tensor.js';
import { ones, zeros } from '../creation.js';
import { fans, kaimingUniform_, uniform_ } from './init.js';
import { initSkipped } from './layers.js';
import { Module } from './module.js';
import { convRepr, pairOf, positiveInt } from './checks.js';

type Pair = number | readonly [number, number];

/** Refuses option names the module does not know (never ignores them). */
function known(op: string, options: object, names: readonly string[]): void {
  if (options === null || typeof options !== 'object') fail(op, `options must be an object, got ${options === null ? 'null' : typeof options}`);
  for (const k of Object.keys(options)) if (!names.includes(k)) fail(op, `unknown option '${k}' (options: ${names.join(', ') || 'none'})`);
}

// ---- regularisation and normalisation ----

/** torch.nn.Dropout: F.dropout in training mode, the identity in eval mode. */
export class Dropout extends Module {
  constructor(
    readonly p = 0.5,
    private readonly options: { generator?: Generator } = {},
  ) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) fail('Dropout', `p must be a probability in [0, 1], got ${p}`);
    known('Dropout', options, ['generator']);
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training, this.options);
  }
  override extraRepr(): string {
    return `p=${this.p}`;
  }
}

export interface LayerNormOptions {
  eps?: number;
  /** Learnable weight (ones) and bias (zeros) over normalizedShape (default true). */
  elementwiseAffine?: boolean;
  /** With elementwiseAffine, a learnable bias too (default true). */
  bias?: boolean;
}

/** torch.nn.LayerNorm: normalises over the last dims (normalizedShape), with weight and bias of that shape. */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly eps: number;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  constructor(normalizedShape: number | readonly number[], options: LayerNormOptions = {}) {
    super();
    known('LayerNorm', options, ['eps', 'elementwiseAffine', 'bias']);
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    for (const d of this.normalizedShape) positiveInt('LayerNorm', 'normalizedShape', d);
    this.eps = options.eps ?? 1e-5;
    const affine = options.elementwiseAffine ?? true;
    this.weight = affine ? this.registerParameter('weight', ones(this.normalizedShape)) : null;
    this.bias = affine && (options.bias ?? true) ? this.registerParameter('bias', zeros(this.normalizedShape)) : null;
  }
  forward(x: Tensor): Tensor {
    return F.layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
  override extraRepr(): string {
    return `${fmt(this.normalizedShape)}, eps=${this.eps}${this.weight ? '' : ', elementwiseAffine=false'}`;
  }
}

/** torch.nn.GroupNorm: normalises [N, C, …] over groups of C/numGroups channels, with per-channel weight and bias. */
export class GroupNorm extends Module {
  readonly eps: number;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    options: { eps?: number; affine?: boolean } = {},
  ) {
    super();
    known('GroupNorm', options, ['eps', 'affine']);
    positiveInt('GroupNorm', 'numGroups', numGroups);
    positiveInt('GroupNorm', 'numChannels', numChannels);
    if (numChannels % numGroups) fail('GroupNorm', `numChannels ${numChannels} must be divisible by numGroups ${numGroups}`);
    this.eps = options.eps ?? 1e-5;
    const affine = options.affine ?? true;
    this.weight = affine ? this.registerParameter('weight', ones([numChannels])) : null;
    this.bias = affine ? this.registerParameter('bias', zeros([numChannels])) : null;
  }
  forward(x: Tensor): Tensor {
    return F.groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }
  override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${this.eps}`;
  }
}

// ---- transposed convolution and resizing ----

/** F.convTranspose2d's options, plus the module's bias (default true, as in PyTorch) and its initialiser's generator. */
export interface ConvTranspose2dOptions extends F.ConvTranspose2dOptions {
  bias?: boolean;
  generator?: Generator;
}

/** torch.nn.ConvTranspose2d: weight [in, out/groups, kh, kw], bias [out]; PyTorch's default initialisation. */
export class ConvTranspose2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly outputPadding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  private readonly generator: Generator | undefined;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    options: ConvTranspose2dOptions = {},
  ) {
    super();
    const op = 'ConvTranspose2d';
    known(op, options, ['stride', 'padding', 'outputPadding', 'groups', 'dilation', 'bias', 'generator']);
    positiveInt(op, 'inChannels', inChannels);
    positiveInt(op, 'outChannels', outChannels);
    this.kernelSize = pairOf(kernelSize);
    for (const k of this.kernelSize) positiveInt(op, 'kernelSize', k);
    this.stride = pairOf(options.stride ?? 1);
    this.padding = pairOf(options.padding ?? 0);
    this.outputPadding = pairOf(options.outputPadding ?? 0);
    this.dilation = pairOf(options.dilation ?? 1);
    this.groups = options.groups ?? 1;
    positiveInt(op, 'groups', this.groups);
    if (inChannels % this.groups || outChannels % this.groups) fail(op, `inChannels ${inChannels} and outChannels ${outChannels} must both be divisible by groups ${this.groups}`);
    const [kh, kw] = this.kernelSize;
    this.weight = this.registerParameter('weight', zeros([inChannels, outChannels / this.groups, kh, kw]));
    this.bias = options.bias ?? true ? this.registerParameter('bias', zeros([outChannels])) : null;
    this.generator = options.generator;
    if (!initSkipped()) this.resetParameters();
  }

  /** PyTorch's default: kaiming_uniform(a=√5) on the weight, bias U(±1/√fan_in), fan_in from weight dim 1. */
  resetParameters(): void {
    kaimingUniform_(this.weight, { a: Math.sqrt(5), generator: this.generator });
    if (this.bias) {
      const b = 1 / Math.sqrt(fans(this.weight.shape).fanIn);
      uniform_(this.bias, -b, b, this.generator);
    }
  }

  forward(x: Tensor): Tensor {
    return F.convTranspose2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, outputPadding: this.outputPadding, groups: this.groups, dilation: this.dilation });
  }

  override extraRepr(): string {
    return convRepr(this, [
      ['stride', this.stride, 1],
      ['padding', this.padding, 0],
      ['outputPadding', this.outputPadding, 0],
    ]);
  }
}

/** torch.nn.Upsample: F.interpolate with fixed options ({ size | scaleFactor, mode, alignCorners }). */
export class Upsample extends Module {
  constructor(readonly options: F.InterpolateOptions) {
    super();
    known('Upsample', options ?? {}, ['size', 'scaleFactor', 'mode', 'alignCorners']);
    if (options.size === undefined && options.scaleFactor === undefined) fail('Upsample', 'give size or scaleFactor');
  }
  forward(x: Tensor): Tensor {
    return F.interpolate(x, this.options);
  }
  override extraRepr(): string {
    const o = this.options;
    return [o.size !== undefined ? `size=${JSON.stringify(o.size)}` : `scaleFactor=${JSON.stringify(o.scaleFactor)}`, `mode=${o.mode ?? 'nearest'}`].join(', ');
  }
}

// ---- activations ----

export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
    if (approximate !== 'none' && approximate !== 'tanh') fail('GELU', `approximate must be 'none' or 'tanh', got ${JSON.stringify(approximate)}`);
  }
  forward(x: Tensor): Tensor {
    return F.gelu(x, { approximate: this.approximate });
  }
  override extraRepr(): string {
    return this.approximate === 'none' ? '' : `approximate=${this.approximate}`;
  }
}

export class SiLU extends Module {
  forward(x: Tensor): Tensor {
    return F.silu(x);
  }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return F.sigmoid(x);
  }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return F.tanh(x);
  }
}

export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.leakyRelu(x, this.negativeSlope);
  }
  override extraRepr(): string {
    return `negativeSlope=${this.negativeSlope}`;
  }
}

export class ReLU6 extends Module {
  forward(x: Tensor): Tensor {
    return F.relu6(x);
  }
}

/** torch.nn.Softmax(dim): the dim is required, as PyTorch recommends (its implicit choice is deprecated). */
export class Softmax extends Module {
  constructor(readonly dim: number) {
    super();
    if (!Number.isInteger(dim)) fail('Softmax', `dim must be an integer, got ${String(dim)}`);
  }
  forward(x: Tensor): Tensor {
    return F.softmax(x, this.dim);
  }
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

// ---- losses: forward(input, target), options fixed at construction; class weights are buffers, as in torch ----

abstract class Loss<O extends object> extends Module<[Tensor, F.Labels], Tensor> {
  protected readonly options: O;
  constructor(op: string, options: O, names: readonly string[], weights: readonly [string, string][] = []) {
    super();
    known(op, options, names);
    this.options = { ...options };
    // weight / posWeight tensors are state (torch registers them as buffers 'weight' / 'pos_weight').
    for (const [opt, key] of weights) {
      const w = (options as Record<string, unknown>)[opt];
      if (w !== undefined && w !== null) {
        if (!(w instanceof Tensor)) fail(op, `${opt} must be a Tensor`);
        this.registerBuffer(key, w);
      }
    }
  }
  override extraRepr(): string {
    const r = (this.options as { reduction?: string }).reduction;
    return r && r !== 'mean' ? `reduction=${r}` : '';
  }
}

export class CrossEntropyLoss extends Loss<F.CrossEntropyOptions> {
  constructor(options: F.CrossEntropyOptions = {}) {
    super('CrossEntropyLoss', options, ['weight', 'ignoreIndex', 'labelSmoothing', 'reduction'], [['weight', 'weight']]);
  }
  forward(input: Tensor, target: F.Labels): Tensor {
    return F.crossEntropy(input, target, this.options);
  }
}

export class NLLLoss extends Loss<F.NllLossOptions> {
  constructor(options: F.NllLossOptions = {}) {
    super('NLLLoss', options, ['weight', 'ignoreIndex', 'reduction'], [['weight', 'weight']]);
  }
  forward(input: Tensor, target: F.Labels): Tensor {
    return F.nllLoss(input, target, this.options);
  }
}

export class MSELoss extends Loss<F.LossOptions> {
  constructor(options: F.LossOptions = {}) {
    super('MSELoss', options, ['reduction']);
  }
  forward(input: Tensor, target: F.Labels): Tensor {
    if (!(target instanceof Tensor)) fail('MSELoss', 'target must be a Tensor');
    return F.mseLoss(input, target, this.options);
  }
}

export class L1Loss extends Loss<F.LossOptions> {
  constructor(options: F.LossOptions = {}) {
    super('L1Loss', options, ['reduction']);
  }
  forward(input: Tensor, target: F.Labels): Tensor {
    if (!(target instanceof Tensor)) fail('L1Loss', 'target must be a Tensor');
    return F.l1Loss(input, target, this.options);
  }
}

export class BCEWithLogitsLoss extends Loss<F.BceWithLogitsOptions> {
  constructor(options: F.BceWithLogitsOptions = {}) {
    super('BCEWithLogitsLoss', options, ['weight', 'posWeight', 'reduction'], [
      ['weight', 'weight'],
      ['posWeight', 'pos_weight'],
    ]);
  }
  forward(input: Tensor, target: F.Labels): Tensor {
    if (!(target instanceof Tensor)) fail('BCEWithLogitsLoss', 'target must be a Tensor');
    return F.binaryCrossEntropyWithLogits(input, target, this.options);
  }
}
