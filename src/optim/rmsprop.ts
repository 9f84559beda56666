// RMSprop and Adagrad (torch.optim's rules), composed from tensor ops on the parameter's backend: each step
// computes the new values under noGrad and writes them into the parameter and state tensors in place.
import type { Tensor } from '../tensor.js';
import { noGrad, tidy } from '../engine.js';
import * as o from '../ops.js';
import { bool, num, Optimizer, type ParamGroup, type ParamState, type Params } from './optimizer.js';

export interface RmspropOptions {
  lr?: number;
  alpha?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
  centered?: boolean;
}

/**
 * torch.optim.RMSprop: g ← g + wd·p; v ← α·v + (1−α)·g²; with centered, ḡ ← α·ḡ + (1−α)·g and
 * d = √(v − ḡ²) + ε, else d = √v + ε; with momentum, b ← μ·b + g/d and p ← p − lr·b, else p ← p − lr·g/d.
 */
export class RMSprop extends Optimizer {
  readonly kind = 'RMSprop';
  constructor(params: Params<RmspropOptions>, options: RmspropOptions = {}) {
    super('RMSprop', params, options, { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false }, {
      lr: num('lr', 0),
      alpha: num('alpha', 0),
      eps: num('eps', 0),
      weightDecay: num('weightDecay', 0),
      momentum: num('momentum', 0),
      centered: bool('centered'),
    });
  }

  protected stateNames(group: ParamGroup): string[] {
    return ['squareAvg', ...(group.hyper.momentum !== 0 ? ['momentumBuffer'] : []), ...(group.hyper.centered ? ['gradAvg'] : [])];
  }

  protected update(p: Tensor, grad: Tensor, s: ParamState, group: ParamGroup): void {
    const h = group.hyper;
    const alpha = h.alpha as number;
    s.step++;
    noGrad(() =>
      tidy(() => {
        const g = h.weightDecay ? o.add(grad, o.mul(p, h.weightDecay as number)) : grad;
        const sq = s.tensors.get('squareAvg')!;
        sq.assign(o.add(o.mul(sq, alpha), o.mul(o.mul(g, g), 1 - alpha)));
        let avg: Tensor;
        const ga = s.tensors.get('gradAvg');
        if (h.centered && ga) {
          ga.assign(o.add(o.mul(ga, alpha), o.mul(g, 1 - alpha)));
          avg = o.add(o.sqrt(o.sub(sq, o.mul(ga, ga))), h.eps as number);
        } else avg = o.add(o.sqrt(sq), h.eps as number);
        const buf = s.tensors.get('momentumBuffer');
        if (h.momentum !== 0 && buf) {
          buf.assign(o.add(o.mul(buf, h.momentum as number), o.div(g, avg)));
          p.assign(o.sub(p, o.mul(buf, group.lr)));
        } else p.assign(o.sub(p, o.mul(o.div(g, avg), group.lr)));
      }),
    );
  }
}

export interface AdagradOptions {
  lr?: number;
  lrDecay?: number;
  weightDecay?: number;
  initialAccumulatorValue?: number;
  eps?: number;
}

/**
 * torch.optim.Adagrad: g ← g + wd·p; lr_t = lr / (1 + (t−1)·lrDecay); s ← s + g²; p ← p − lr_t·g/(√s + ε),
 * with s starting at initialAccumulatorValue. A group's own initialAccumulatorValue is used for its parameters
 * (torch 1.13 fills every group's from the constructor's value).
 */
export class Adagrad extends Optimizer {
  readonly kind = 'Adagrad';
  constructor(params: Params<AdagradOptions>, options: AdagradOptions = {}) {
    super('Adagrad', params, options, { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10 }, {
      lr: num('lr', 0),
      lrDecay: num('lrDecay', 0),
      weightDecay: num('weightDecay', 0),
      initialAccumulatorValue: num('initialAccumulatorValue', 0),
      eps: num('eps', 0),
    });
  }

  protected stateNames(): string[] {
    return ['sum'];
  }

  protected override initialState(_name: string, group: ParamGroup): number {
    return group.hyper.initialAccumulatorValue as number;
  }

  protected update(p: Tensor, grad: Tensor, s: ParamState, group: ParamGroup): void {
    const h = group.hyper;
    s.step++;
    const clr = group.lr / (1 + (s.step - 1) * (h.lrDecay as number));
    noGrad(() =>
      tidy(() => {
        const g = h.weightDecay ? o.add(grad, o.mul(p, h.weightDecay as number)) : grad;
        const sum = s.tensors.get('sum')!;
        sum.assign(o.add(sum, o.mul(g, g)));
        p.assign(o.sub(p, o.mul(o.div(g, o.add(o.sqrt(sum), h.eps as number)), clr)));
      }),
    );
  }
}
