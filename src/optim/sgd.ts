// SGD with momentum, dampening, Nesterov momentum and L2 weight decay, following torch.optim.SGD.
import { fail } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { bool, num, Optimizer, type Hyper, type ParamGroup, type ParamState, type Params } from './optimizer.js';

export interface SgdOptions {
  lr?: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

const RULES = { lr: num('lr', 0), momentum: num('momentum', 0), dampening: num('dampening', 0, 1), weightDecay: num('weightDecay', 0), nesterov: bool('nesterov') };

function checkGroup(h: Hyper, op: string): void {
  if (h.nesterov && ((h.momentum as number) <= 0 || h.dampening !== 0)) fail(op, `nesterov needs momentum > 0 and dampening 0, got momentum ${h.momentum}, dampening ${h.dampening}`);
}

/**
 * torch.optim.SGD's rule: g ← g + wd·p; with momentum, b ← g on the first step and b ← μ·b + (1−τ)·g
 * after; g ← g + μ·b (Nesterov) or b; p ← p − lr·g. One fused backend kernel per parameter.
 */
export class SGD extends Optimizer {
  readonly kind = 'SGD';

  /** `options.lr` is required unless every group sets its own, as in torch. */
  constructor(params: Params<SgdOptions>, options: SgdOptions = {}) {
    if (options === null || typeof options !== 'object') fail('SGD', 'options { lr, ... } are required');
    super('SGD', params, options, { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false }, RULES, checkGroup);
  }

  protected stateNames(group: ParamGroup): string[] {
    return group.hyper.momentum !== 0 ? ['momentumBuffer'] : [];
  }

  protected update(p: Tensor, g: Tensor, s: ParamState, group: ParamGroup): void {
    const h = group.hyper;
    const buf = h.momentum !== 0 ? (s.tensors.get('momentumBuffer') ?? null) : null;
    const be = p.backend;
    be.sgdStep(p.storage, g.storageOn(be, 'SGD.step'), buf ? buf.storageOn(be, 'SGD.step') : null, {
      lr: group.lr,
      momentum: buf ? (h.momentum as number) : 0,
      dampening: h.dampening as number,
      weightDecay: h.weightDecay as number,
      nesterov: h.nesterov as boolean,
      firstStep: s.step === 0 || !buf,
    });
    s.step++;
  }
}
