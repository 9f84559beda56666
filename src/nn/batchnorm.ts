// Batch normalisation modules (torch's _BatchNorm, BatchNorm1d, BatchNorm2d) with PyTorch's buffers and momentum
// rules. In eval mode after a convolution the batch norm folds into the convolution's GEMM (functional/deferred.ts);
// `convBn` is kept for code written against the older explicit call.
import { fail, fmt } from '../errors.js';
import * as F from '../functional-scoped.js';
import * as o from '../ops.js';
import { Tensor } from '../tensor.js';
import { isGradEnabled, noGrad } from '../engine.js';
import { zeros, ones, full } from '../creation.js';
import { Module } from './module.js';
import { checkOptions, isBool, positiveInt } from './checks.js';
import { dropFold, foldedBatchNorm } from './fold-epoch.js';
import { isDeferredConv, scaleShift } from '../functional/deferred.js';
import type { Conv2d } from './layers.js';

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

  /** Frees the cached eval-mode fold (nn/fold-epoch.ts) with the module. */
  protected override freeCaches(): void {
    dropFold(this);
  }

  /** Normalises a 4-D [N, C, H, W] view of the input (the subclasses reshape to it). */
  protected normalize(x: Tensor): Tensor {
    // Eval mode on a convolution's deferred output, nothing needing a gradient: the cached fold joins the conv's
    // GEMM epilogue (functional/deferred.ts). Every other case runs F.batchNorm2d, whose eval path is the same fold.
    if (!this.training && isDeferredConv(x) && !(isGradEnabled() && (this.weight?.requiresGrad || this.bias?.requiresGrad))) {
      const fold = foldedBatchNorm(this);
      if (fold) return scaleShift(x, fold);
    }
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

/**
 * bn(conv(x)) (+ residual) (→ ReLU), written out. Kept for code that called it before folding was recognised at
 * the call: the same expression written with the modules folds the same way in eval mode.
 */
export function convBn(conv: Conv2d, bn: BatchNorm2d, x: Tensor, opts: { residual?: Tensor | null; relu?: boolean } = {}): Tensor {
  let y = bn.forward(conv.forward(x));
  if (opts.residual) y = o.add(y, opts.residual);
  return opts.relu ? o.relu(y) : y;
}
