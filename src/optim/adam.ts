// Adam (L2 weight decay folded into the gradient) and AdamW (decoupled decay), following torch.optim.
import { fail } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { checkNumber, num, Optimizer, type Hyper, type OptionRules, type ParamGroup, type ParamState, type Params } from './optimizer.js';

export interface AdamOptions {
  lr?: number;
  betas?: readonly [number, number];
  eps?: number;
  weightDecay?: number;
}

const RULES: OptionRules = {
  lr: num('lr', 0),
  betas: (v, op): Hyper => {
    if (!Array.isArray(v) || v.length !== 2) fail(op, `betas must be a pair [beta1, beta2], got ${JSON.stringify(v)}`);
    return { beta1: checkNumber(op, 'betas[0]', v[0], 0, 1, true), beta2: checkNumber(op, 'betas[1]', v[1], 0, 1, true) };
  },
  eps: num('eps', 0),
  weightDecay: num('weightDecay', 0),
};

/**
 * torch.optim.Adam: g ← g + wd·p (Adam) or p ← p·(1 − lr·wd) (AdamW); m ← β1·m + (1−β1)·g;
 * v ← β2·v + (1−β2)·g²; p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε). One fused kernel per parameter.
 */
export class Adam extends Optimizer {
  readonly kind: string = 'Adam';
  protected readonly decoupled: boolean = false;

  constructor(params: Params<AdamOptions>, options: AdamOptions = {}, defaultDecay = 0, op = 'Adam') {
    super(op, params, options, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: defaultDecay }, RULES);
  }

  protected stateNames(): string[] {
    return ['expAvg', 'expAvgSq'];
  }

  protected update(p: Tensor, g: Tensor, s: ParamState, group: ParamGroup): void {
    const h = group.hyper;
    s.step++;
    const be = p.backend;
    be.adamStep(p.storage, g.storageOn(be, 'Adam.step'), s.tensors.get('expAvg')!.storageOn(be, 'Adam.step'), s.tensors.get('expAvgSq')!.storageOn(be, 'Adam.step'), {
      lr: group.lr,
      beta1: h.beta1 as number,
      beta2: h.beta2 as number,
      eps: h.eps as number,
      weightDecay: h.weightDecay as number,
      decoupled: this.decoupled,
      step: s.step,
    });
  }
}

/** AdamW: Adam with decoupled weight decay (default 0.01, as in torch). */
export class AdamW extends Adam {
  override readonly kind: string = 'AdamW';
  protected override readonly decoupled: boolean = true;
  constructor(params: Params<AdamOptions>, options: AdamOptions = {}) {
    super(params, options, 0.01, 'AdamW');
  }
}
