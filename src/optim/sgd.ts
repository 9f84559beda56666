// SGD with momentum, dampening, Nesterov momentum and L2 weight decay, following torch.optim.SGD.
import { fail } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { checkNumber, Optimizer, type ParamState } from './optimizer.js';

export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

/**
 * torch.optim.SGD's rule: g ← g + wd·p; with momentum, b ← g on the first step and b ← μ·b + (1−τ)·g
 * after; g ← g + μ·b (Nesterov) or b; p ← p − lr·g. One fused backend kernel per parameter.
 */
export class SGD extends Optimizer {
  readonly kind = 'SGD';
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;

  constructor(params: Iterable<Tensor>, options: SgdOptions) {
    super('SGD', params, options?.lr);
    if (typeof options !== 'object') fail('SGD', 'options { lr, ... } are required');
    this.momentum = checkNumber('SGD', 'momentum', options.momentum ?? 0, 0);
    this.dampening = checkNumber('SGD', 'dampening', options.dampening ?? 0, 0, 1);
    this.weightDecay = checkNumber('SGD', 'weightDecay', options.weightDecay ?? 0, 0);
    this.nesterov = options.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) fail('SGD', `nesterov needs momentum > 0 and dampening 0, got momentum ${this.momentum}, dampening ${this.dampening}`);
  }

  protected stateNames(): string[] {
    return this.momentum !== 0 ? ['momentumBuffer'] : [];
  }

  protected update(p: Tensor, g: Tensor, _i: number, s: ParamState): void {
    const buf = s.tensors.get('momentumBuffer') ?? null;
    const be = p.backend;
    be.sgdStep(p.storage, g.storageOn(be, 'SGD.step'), buf ? buf.storageOn(be, 'SGD.step') : null, {
      lr: this.lr,
      momentum: this.momentum,
      dampening: this.dampening,
      weightDecay: this.weightDecay,
      nesterov: this.nesterov,
      firstStep: s.step === 0,
    });
    s.step++;
  }

  protected hyper(): Record<string, number | boolean> {
    return { momentum: this.momentum, dampening: this.dampening, weightDecay: this.weightDecay, nesterov: this.nesterov };
  }
  protected setHyper(h: Record<string, number | boolean>): void {
    if (typeof h.momentum === 'number') this.momentum = h.momentum;
    if (typeof h.dampening === 'number') this.dampening = h.dampening;
    if (typeof h.weightDecay === 'number') this.weightDecay = h.weightDecay;
    if (typeof h.nesterov === 'boolean') this.nesterov = h.nesterov;
  }
}
