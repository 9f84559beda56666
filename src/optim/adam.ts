// Adam (L2 weight decay folded into the gradient) and AdamW (decoupled decay), following torch.optim.
import type { Tensor } from '../tensor.js';
import { checkNumber, Optimizer, type ParamState } from './optimizer.js';

export interface AdamOptions {
  lr?: number;
  betas?: readonly [number, number];
  eps?: number;
  weightDecay?: number;
}

/**
 * torch.optim.Adam: g ← g + wd·p (Adam) or p ← p·(1 − lr·wd) (AdamW); m ← β1·m + (1−β1)·g;
 * v ← β2·v + (1−β2)·g²; p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε). One fused kernel per parameter.
 */
export class Adam extends Optimizer {
  readonly kind: string = 'Adam';
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  protected readonly decoupled: boolean = false;

  constructor(params: Iterable<Tensor>, options: AdamOptions = {}, defaultDecay = 0, op = 'Adam') {
    super(op, params, options.lr ?? 1e-3);
    const [b1, b2] = options.betas ?? [0.9, 0.999];
    this.beta1 = checkNumber(op, 'betas[0]', b1, 0, 1, true);
    this.beta2 = checkNumber(op, 'betas[1]', b2, 0, 1, true);
    this.eps = checkNumber(op, 'eps', options.eps ?? 1e-8, 0);
    this.weightDecay = checkNumber(op, 'weightDecay', options.weightDecay ?? defaultDecay, 0);
  }

  protected stateNames(): string[] {
    return ['expAvg', 'expAvgSq'];
  }

  protected update(p: Tensor, g: Tensor, _i: number, s: ParamState): void {
    s.step++;
    const be = p.backend;
    be.adamStep(p.storage, g.storageOn(be, 'Adam.step'), s.tensors.get('expAvg')!.storageOn(be, 'Adam.step'), s.tensors.get('expAvgSq')!.storageOn(be, 'Adam.step'), {
      lr: this.lr,
      beta1: this.beta1,
      beta2: this.beta2,
      eps: this.eps,
      weightDecay: this.weightDecay,
      decoupled: this.decoupled,
      step: s.step,
    });
  }

  protected hyper(): Record<string, number | boolean> {
    return { beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay };
  }
  protected setHyper(h: Record<string, number | boolean>): void {
    if (typeof h.beta1 === 'number') this.beta1 = h.beta1;
    if (typeof h.beta2 === 'number') this.beta2 = h.beta2;
    if (typeof h.eps === 'number') this.eps = h.eps;
    if (typeof h.weightDecay === 'number') this.weightDecay = h.weightDecay;
  }
}

/** AdamW: Adam with decoupled weight decay (default 0.01, as in torch). */
export class AdamW extends Adam {
  override readonly kind: string = 'AdamW';
  protected override readonly decoupled: boolean = true;
  constructor(params: Iterable<Tensor>, options: AdamOptions = {}) {
    super(params, options, 0.01, 'AdamW');
  }
}
