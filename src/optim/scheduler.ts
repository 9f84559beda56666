// Learning-rate schedules (torch.optim.lr_scheduler's StepLR and CosineAnnealingLR, closed forms).
// Call step() once per epoch (or per iteration, if the schedule is sized in iterations) after optimizer.step().
import { fail } from '../errors.js';
import { checkNumber, type Optimizer } from './optimizer.js';

export abstract class LRScheduler {
  /** Completed scheduler steps. */
  lastEpoch = 0;
  constructor(
    readonly optimizer: Optimizer,
    /** The learning rate at epoch 0 (the optimizer's initial lr). */
    readonly baseLr: number = optimizer.initialLr,
  ) {
    // Both schedules start at the base rate; subclass fields are not set yet, so lrAt cannot run here.
    optimizer.lr = baseLr;
  }
  abstract lrAt(epoch: number): number;
  step(): void {
    this.lastEpoch++;
    this.optimizer.lr = this.lrAt(this.lastEpoch);
  }
  /** Jumps to `epoch` (used when resuming). */
  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) fail('LRScheduler.setEpoch', `epoch must be a non-negative integer, got ${epoch}`);
    this.lastEpoch = epoch;
    this.optimizer.lr = this.lrAt(epoch);
  }
  get lr(): number {
    return this.optimizer.lr;
  }
}

/** lr = base · γ^⌊epoch / stepSize⌋. */
export class StepLR extends LRScheduler {
  constructor(optimizer: Optimizer, readonly stepSize: number, readonly gamma = 0.1) {
    if (!Number.isInteger(stepSize) || stepSize < 1) fail('StepLR', `stepSize must be a positive integer, got ${stepSize}`);
    checkNumber('StepLR', 'gamma', gamma, 0);
    super(optimizer);
  }
  lrAt(epoch: number): number {
    return this.baseLr * Math.pow(this.gamma, Math.floor(epoch / this.stepSize));
  }
}

/** lr = ηmin + (base − ηmin)·(1 + cos(π·epoch/tMax))/2 (torch's closed form; it keeps cycling past tMax). */
export class CosineAnnealingLR extends LRScheduler {
  constructor(optimizer: Optimizer, readonly tMax: number, readonly etaMin = 0) {
    if (!Number.isInteger(tMax) || tMax < 1) fail('CosineAnnealingLR', `tMax must be a positive integer, got ${tMax}`);
    checkNumber('CosineAnnealingLR', 'etaMin', etaMin, 0);
    super(optimizer);
  }
  lrAt(epoch: number): number {
    return this.etaMin + ((this.baseLr - this.etaMin) * (1 + Math.cos((Math.PI * epoch) / this.tMax))) / 2;
  }
}
