// Learning-rate schedules with torch.optim.lr_scheduler's formulas: StepLR, MultiStepLR, ExponentialLR, LambdaLR,
// LinearLR, CosineAnnealingLR, OneCycleLR and SequentialLR as closed forms of the epoch (so setEpoch and state
// dicts are exact), and ReduceLROnPlateau, which reacts to a metric. Each sets every parameter group's lr from
// that group's initial lr. Call step() once per epoch (or per iteration, if the schedule is sized in iterations)
// after optimizer.step().
import { fail } from '../errors.js';
import { checkNumber, type Optimizer } from './optimizer.js';

/** A scheduler's state: the epoch, the base rates and the subclass's own fields, as JSON-safe values. */
export interface SchedulerStateDict {
  kind: string;
  lastEpoch: number;
  baseLrs: number[];
  [key: string]: unknown;
}

function positiveInt(op: string, name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) fail(op, `${name} must be a positive integer, got ${v}`);
  return v;
}

function refuseUnknown(op: string, options: object, known: readonly string[]): void {
  if (options === null || typeof options !== 'object') fail(op, `options must be an object, got ${options === null ? 'null' : typeof options}`);
  for (const k of Object.keys(options)) if (!known.includes(k)) fail(op, `unknown option '${k}' (options: ${known.join(', ')})`);
}

export abstract class LRScheduler {
  /** Completed scheduler steps. */
  lastEpoch = 0;
  /** Each group's rate at epoch 0 (its initial lr when the scheduler was made). */
  readonly baseLrs: number[];
  abstract readonly kind: string;

  constructor(readonly optimizer: Optimizer) {
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr);
  }

  /** The first group's base rate. */
  get baseLr(): number {
    return this.baseLrs[0];
  }

  /** The learning rate of group `group` at `epoch`. */
  abstract lrAt(epoch: number, group?: number): number;

  /** Writes every group's rate for `epoch` (subclass constructors call it once their fields are set). */
  protected apply(epoch: number): void {
    this.optimizer.paramGroups.forEach((g, i) => {
      g.lr = this.lrAt(epoch, i);
    });
  }

  step(): void {
    this.lastEpoch++;
    this.apply(this.lastEpoch);
  }

  /** Jumps to `epoch` (used when resuming). */
  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) fail(`${this.kind}.setEpoch`, `epoch must be a non-negative integer, got ${epoch}`);
    this.lastEpoch = epoch;
    this.apply(epoch);
  }

  /** The first group's current rate. */
  get lr(): number {
    return this.optimizer.lr;
  }
  /** Every group's current rate (torch's get_last_lr()). */
  lastLrs(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** The epoch and base rates (and the subclass's own state); the optimizer's lrs live in its own state dict. */
  stateDict(): SchedulerStateDict {
    return { kind: this.kind, lastEpoch: this.lastEpoch, baseLrs: [...this.baseLrs], ...this.extraState() };
  }

  /** Restores stateDict(); the optimizer's rates come from its own loadStateDict, as in torch. */
  loadStateDict(sd: SchedulerStateDict): void {
    const op = `${this.kind}.loadStateDict`;
    if (sd?.kind !== this.kind) fail(op, `the state dict is from ${String(sd?.kind)}, not ${this.kind}`);
    if (!Number.isInteger(sd.lastEpoch) || sd.lastEpoch < 0) fail(op, `lastEpoch must be a non-negative integer, got ${String(sd.lastEpoch)}`);
    if (!Array.isArray(sd.baseLrs) || sd.baseLrs.length !== this.baseLrs.length || !sd.baseLrs.every((v) => typeof v === 'number')) {
      fail(op, `baseLrs must list ${this.baseLrs.length} numbers (one per parameter group), got ${JSON.stringify(sd.baseLrs)}`);
    }
    this.loadExtra(sd, op);
    this.lastEpoch = sd.lastEpoch;
    this.baseLrs.splice(0, this.baseLrs.length, ...sd.baseLrs);
  }

  protected extraState(): Record<string, unknown> {
    return {};
  }
  protected loadExtra(_sd: SchedulerStateDict, _op: string): void {}
}

/** lr = base · γ^⌊epoch / stepSize⌋. */
export class StepLR extends LRScheduler {
  readonly kind = 'StepLR';
  constructor(optimizer: Optimizer, readonly stepSize: number, readonly gamma = 0.1) {
    positiveInt('StepLR', 'stepSize', stepSize);
    checkNumber('StepLR', 'gamma', gamma, 0);
    super(optimizer);
    this.apply(0);
  }
  lrAt(epoch: number, group = 0): number {
    return this.baseLrs[group] * Math.pow(this.gamma, Math.floor(epoch / this.stepSize));
  }
}

/** lr = base · γ^(number of milestones ≤ epoch) (torch.optim.lr_scheduler.MultiStepLR). */
export class MultiStepLR extends LRScheduler {
  readonly kind = 'MultiStepLR';
  readonly milestones: number[];
  constructor(optimizer: Optimizer, milestones: readonly number[], readonly gamma = 0.1) {
    if (!Array.isArray(milestones) || !milestones.every((m) => Number.isInteger(m) && m >= 0)) fail('MultiStepLR', `milestones must be non-negative integers, got ${JSON.stringify(milestones)}`);
    checkNumber('MultiStepLR', 'gamma', gamma, 0);
    super(optimizer);
    this.milestones = [...milestones].sort((a, b) => a - b);
    this.apply(0);
  }
  lrAt(epoch: number, group = 0): number {
    return this.baseLrs[group] * Math.pow(this.gamma, this.milestones.filter((m) => m <= epoch).length);
  }
}

/** lr = base · γ^epoch. */
export class ExponentialLR extends LRScheduler {
  readonly kind = 'ExponentialLR';
  constructor(optimizer: Optimizer, readonly gamma: number) {
    checkNumber('ExponentialLR', 'gamma', gamma, 0);
    super(optimizer);
    this.apply(0);
  }
  lrAt(epoch: number, group = 0): number {
    return this.baseLrs[group] * Math.pow(this.gamma, epoch);
  }
}

/** lr = base · λ(epoch), with one λ for every group or one per group. Its state dict holds no functions. */
export class LambdaLR extends LRScheduler {
  readonly kind = 'LambdaLR';
  readonly lambdas: ((epoch: number) => number)[];
  constructor(optimizer: Optimizer, lrLambda: ((epoch: number) => number) | readonly ((epoch: number) => number)[]) {
    const n = optimizer.paramGroups.length;
    const list = typeof lrLambda === 'function' ? Array.from({ length: n }, () => lrLambda) : [...lrLambda];
    if (list.length !== n || !list.every((f) => typeof f === 'function')) fail('LambdaLR', `lrLambda must be a function or ${n} functions (one per parameter group), got ${list.length}`);
    super(optimizer);
    this.lambdas = list;
    this.apply(0);
  }
  lrAt(epoch: number, group = 0): number {
    const f = this.lambdas[group](epoch);
    if (typeof f !== 'number' || !Number.isFinite(f)) fail('LambdaLR', `lrLambda(${epoch}) returned ${String(f)} for group ${group}, not a finite number`);
    return this.baseLrs[group] * f;
  }
}

export interface LinearLROptions {
  /** Factor at epoch 0 (default 1/3). */
  startFactor?: number;
  /** Factor from totalIters on (default 1). */
  endFactor?: number;
  /** Epochs of the ramp (default 5). */
  totalIters?: number;
}

/** lr = base · (start + (end − start)·min(epoch, totalIters)/totalIters): a linear warmup (or decay). */
export class LinearLR extends LRScheduler {
  readonly kind = 'LinearLR';
  readonly startFactor: number;
  readonly endFactor: number;
  readonly totalIters: number;
  constructor(optimizer: Optimizer, options: LinearLROptions = {}) {
    refuseUnknown('LinearLR', options, ['startFactor', 'endFactor', 'totalIters']);
    const start = options.startFactor ?? 1 / 3;
    if (typeof start !== 'number' || !(start > 0 && start <= 1)) fail('LinearLR', `startFactor must be in (0, 1], got ${start}`);
    const end = checkNumber('LinearLR', 'endFactor', options.endFactor ?? 1, 0, 1);
    const total = positiveInt('LinearLR', 'totalIters', options.totalIters ?? 5);
    super(optimizer);
    [this.startFactor, this.endFactor, this.totalIters] = [start, end, total];
    this.apply(0);
  }
  lrAt(epoch: number, group = 0): number {
    return this.baseLrs[group] * (this.startFactor + ((this.endFactor - this.startFactor) * Math.min(epoch, this.totalIters)) / this.totalIters);
  }
}

/** lr = ηmin + (base − ηmin)·(1 + cos(π·epoch/tMax))/2 (torch's closed form; it keeps cycling past tMax). */
export class CosineAnnealingLR extends LRScheduler {
  readonly kind = 'CosineAnnealingLR';
  constructor(optimizer: Optimizer, readonly tMax: number, readonly etaMin = 0) {
    positiveInt('CosineAnnealingLR', 'tMax', tMax);
    checkNumber('CosineAnnealingLR', 'etaMin', etaMin, 0);
    super(optimizer);
    this.apply(0);
  }
  lrAt(epoch: number, group = 0): number {
    return this.etaMin + ((this.baseLrs[group] - this.etaMin) * (1 + Math.cos((Math.PI * epoch) / this.tMax))) / 2;
  }
}

export interface OneCycleLROptions {
  /** Steps in the cycle; or give epochs and stepsPerEpoch. */
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent increasing the rate (default 0.3). */
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  /** Cycle SGD's/RMSprop's momentum or Adam's beta1 inversely to the rate (default true). */
  cycleMomentum?: boolean;
  baseMomentum?: number;
  maxMomentum?: number;
  /** initial lr = maxLr / divFactor (default 25); final lr = initial / finalDivFactor (default 1e4). */
  divFactor?: number;
  finalDivFactor?: number;
  /** A third phase: up, back down to the initial rate, then down to the final one (default false). */
  threePhase?: boolean;
}

interface Phase {
  endStep: number;
  startLr: 'initial' | 'max' | 'min';
  endLr: 'initial' | 'max' | 'min';
  startMomentum: 'max' | 'base';
  endMomentum: 'max' | 'base';
}

/**
 * torch.optim.lr_scheduler.OneCycleLR: from maxLr/divFactor up to maxLr over pctStart of the steps, then down to
 * initial/finalDivFactor (cosine or linear), with the momentum (or Adam's beta1) cycled the opposite way between
 * maxMomentum and baseMomentum. Sets each group's initial lr to maxLr/divFactor, as torch does.
 */
export class OneCycleLR extends LRScheduler {
  readonly kind = 'OneCycleLR';
  readonly totalSteps: number;
  readonly maxLrs: number[];
  readonly minLrs: number[];
  private readonly phases: Phase[];
  private readonly anneal: (start: number, end: number, pct: number) => number;
  readonly cycleMomentum: boolean;
  /** Which hyper-parameter cycles: 'momentum' (SGD, RMSprop) or 'beta1' (Adam, AdamW). */
  private readonly momentumKey: 'momentum' | 'beta1' | null;
  readonly maxMomentum: number;
  readonly baseMomentum: number;

  constructor(optimizer: Optimizer, maxLr: number | readonly number[], options: OneCycleLROptions = {}) {
    const op = 'OneCycleLR';
    refuseUnknown(op, options, ['totalSteps', 'epochs', 'stepsPerEpoch', 'pctStart', 'annealStrategy', 'cycleMomentum', 'baseMomentum', 'maxMomentum', 'divFactor', 'finalDivFactor', 'threePhase']);
    const n = optimizer.paramGroups.length;
    const maxLrs = typeof maxLr === 'number' ? Array.from({ length: n }, () => maxLr) : [...maxLr];
    if (maxLrs.length !== n) fail(op, `maxLr must be a number or ${n} numbers (one per parameter group), got ${maxLrs.length}`);
    maxLrs.forEach((v, i) => checkNumber(op, `maxLr[${i}]`, v, 0));
    let total: number;
    if (options.totalSteps !== undefined) total = positiveInt(op, 'totalSteps', options.totalSteps);
    else if (options.epochs !== undefined && options.stepsPerEpoch !== undefined) total = positiveInt(op, 'epochs', options.epochs) * positiveInt(op, 'stepsPerEpoch', options.stepsPerEpoch);
    else fail(op, 'give totalSteps, or epochs and stepsPerEpoch');
    const pct = options.pctStart ?? 0.3;
    if (typeof pct !== 'number' || !(pct >= 0 && pct <= 1)) fail(op, `pctStart must be in [0, 1], got ${pct}`);
    const strategy = options.annealStrategy ?? 'cos';
    if (strategy !== 'cos' && strategy !== 'linear') fail(op, `annealStrategy must be 'cos' or 'linear', got ${String(strategy)}`);
    const div = checkNumber(op, 'divFactor', options.divFactor ?? 25, Number.MIN_VALUE);
    const finalDiv = checkNumber(op, 'finalDivFactor', options.finalDivFactor ?? 1e4, Number.MIN_VALUE);
    const cycle = options.cycleMomentum ?? true;
    const sample = optimizer.paramGroups[0].hyper;
    const key = 'momentum' in sample ? 'momentum' : 'beta1' in sample ? 'beta1' : null;
    if (cycle && key === null) fail(op, `cycleMomentum needs an optimizer with momentum or betas; ${optimizer.kind} has neither (pass cycleMomentum: false)`);
    super(optimizer);
    this.totalSteps = total;
    this.maxLrs = maxLrs;
    this.anneal = strategy === 'cos' ? (a, b, t) => b + ((a - b) / 2) * (Math.cos(Math.PI * t) + 1) : (a, b, t) => (b - a) * t + a;
    this.phases = options.threePhase
      ? [
          { endStep: pct * total - 1, startLr: 'initial', endLr: 'max', startMomentum: 'max', endMomentum: 'base' },
          { endStep: 2 * pct * total - 2, startLr: 'max', endLr: 'initial', startMomentum: 'base', endMomentum: 'max' },
          { endStep: total - 1, startLr: 'initial', endLr: 'min', startMomentum: 'max', endMomentum: 'max' },
        ]
      : [
          { endStep: pct * total - 1, startLr: 'initial', endLr: 'max', startMomentum: 'max', endMomentum: 'base' },
          { endStep: total - 1, startLr: 'max', endLr: 'min', startMomentum: 'base', endMomentum: 'max' },
        ];
    // torch overwrites each group's initial_lr: the schedule is fixed by maxLr and the factors.
    optimizer.paramGroups.forEach((g, i) => {
      g.initialLr = maxLrs[i] / div;
      this.baseLrs[i] = g.initialLr;
    });
    this.minLrs = this.baseLrs.map((b) => b / finalDiv);
    this.cycleMomentum = cycle;
    this.momentumKey = cycle ? key : null;
    this.maxMomentum = checkNumber(op, 'maxMomentum', options.maxMomentum ?? 0.95, 0);
    this.baseMomentum = checkNumber(op, 'baseMomentum', options.baseMomentum ?? 0.85, 0);
    this.apply(0);
  }

  /** The phase and fraction through it at `step` (torch's walk over the phases). */
  private where(step: number): { phase: Phase; pct: number } {
    if (step > this.totalSteps) fail('OneCycleLR', `stepped ${step} times, more than totalSteps ${this.totalSteps}`);
    let start = 0;
    for (let i = 0; i < this.phases.length; i++) {
      const phase = this.phases[i];
      if (step <= phase.endStep || i === this.phases.length - 1) return { phase, pct: (step - start) / (phase.endStep - start) };
      start = phase.endStep;
    }
    throw new Error('unreachable');
  }

  lrAt(epoch: number, group = 0): number {
    const { phase, pct } = this.where(epoch);
    const value = (k: Phase['startLr']): number => (k === 'initial' ? this.baseLrs[group] : k === 'max' ? this.maxLrs[group] : this.minLrs[group]);
    return this.anneal(value(phase.startLr), value(phase.endLr), pct);
  }

  /** The momentum (or beta1) at `epoch`. */
  momentumAt(epoch: number): number {
    const { phase, pct } = this.where(epoch);
    const value = (k: 'max' | 'base'): number => (k === 'max' ? this.maxMomentum : this.baseMomentum);
    return this.anneal(value(phase.startMomentum), value(phase.endMomentum), pct);
  }

  protected override apply(epoch: number): void {
    super.apply(epoch);
    if (this.momentumKey) {
      const m = this.momentumAt(epoch);
      for (const g of this.optimizer.paramGroups) g.hyper[this.momentumKey] = m;
    }
  }

  protected override extraState(): Record<string, unknown> {
    return { maxLrs: [...this.maxLrs], minLrs: [...this.minLrs], totalSteps: this.totalSteps };
  }
  protected override loadExtra(sd: SchedulerStateDict, op: string): void {
    if (sd.totalSteps !== this.totalSteps) fail(op, `the state dict is for ${String(sd.totalSteps)} total steps, this scheduler has ${this.totalSteps}`);
    const { maxLrs, minLrs } = sd as unknown as { maxLrs: number[]; minLrs: number[] };
    if (!Array.isArray(maxLrs) || maxLrs.length !== this.maxLrs.length || !Array.isArray(minLrs) || minLrs.length !== this.minLrs.length) fail(op, 'maxLrs/minLrs must list one number per parameter group');
    this.maxLrs.splice(0, this.maxLrs.length, ...maxLrs);
    this.minLrs.splice(0, this.minLrs.length, ...minLrs);
  }
}

/**
 * torch.optim.lr_scheduler.SequentialLR: runs schedulers[0] until milestones[0], then schedulers[1] from its
 * epoch 0, and so on (e.g. a LinearLR warmup, then cosine decay). The schedulers must be on the same optimizer.
 */
export class SequentialLR extends LRScheduler {
  readonly kind = 'SequentialLR';
  readonly schedulers: LRScheduler[];
  readonly milestones: number[];
  constructor(optimizer: Optimizer, schedulers: readonly LRScheduler[], milestones: readonly number[]) {
    const op = 'SequentialLR';
    if (!Array.isArray(schedulers) || schedulers.length < 1) fail(op, 'needs at least one scheduler');
    schedulers.forEach((s, i) => {
      if (!(s instanceof LRScheduler)) fail(op, `schedulers[${i}] is not an LRScheduler`);
      if (s.optimizer !== optimizer) fail(op, `schedulers[${i}] steps another optimizer than the one given`);
    });
    if (!Array.isArray(milestones) || milestones.length !== schedulers.length - 1) fail(op, `needs ${schedulers.length - 1} milestones for ${schedulers.length} schedulers, got ${JSON.stringify(milestones)}`);
    if (!milestones.every((m, i) => Number.isInteger(m) && m > (i ? milestones[i - 1] : 0))) fail(op, `milestones must be increasing positive integers, got ${JSON.stringify(milestones)}`);
    super(optimizer);
    this.schedulers = [...schedulers];
    this.milestones = [...milestones];
    this.apply(0);
  }

  private locate(epoch: number): { s: LRScheduler; e: number } {
    let k = 0;
    while (k < this.milestones.length && this.milestones[k] <= epoch) k++;
    return { s: this.schedulers[k], e: epoch - (k ? this.milestones[k - 1] : 0) };
  }

  lrAt(epoch: number, group = 0): number {
    const { s, e } = this.locate(epoch);
    return s.lrAt(e, group);
  }

  protected override apply(epoch: number): void {
    const { s, e } = this.locate(epoch);
    s.setEpoch(e);
  }

  protected override extraState(): Record<string, unknown> {
    return { schedulers: this.schedulers.map((s) => s.stateDict()) };
  }
  protected override loadExtra(sd: SchedulerStateDict, op: string): void {
    const subs = sd.schedulers as SchedulerStateDict[] | undefined;
    if (!Array.isArray(subs) || subs.length !== this.schedulers.length) fail(op, `the state dict must hold ${this.schedulers.length} scheduler states`);
    this.schedulers.forEach((s, i) => s.loadStateDict(subs[i]));
  }
}

export interface ReduceLROnPlateauOptions {
  /** 'min' (default): lower is better (a loss); 'max': higher is better (an accuracy). */
  mode?: 'min' | 'max';
  /** lr ← lr · factor on a plateau (default 0.1). */
  factor?: number;
  /** Epochs without improvement tolerated before reducing (default 10). */
  patience?: number;
  /** Improvement needed to count: relative (default, 1e-4) or absolute. */
  threshold?: number;
  thresholdMode?: 'rel' | 'abs';
  /** Epochs to wait after a reduction before counting again (default 0). */
  cooldown?: number;
  /** Lower bound of the rate, one for every group or one per group (default 0). */
  minLr?: number | readonly number[];
  /** Changes smaller than eps are skipped (default 1e-8). */
  eps?: number;
}

/** torch.optim.lr_scheduler.ReduceLROnPlateau: call step(metric) once per epoch with the validation metric. */
export class ReduceLROnPlateau {
  readonly kind = 'ReduceLROnPlateau';
  readonly mode: 'min' | 'max';
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: 'rel' | 'abs';
  readonly cooldown: number;
  readonly minLrs: number[];
  readonly eps: number;
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;

  constructor(readonly optimizer: Optimizer, options: ReduceLROnPlateauOptions = {}) {
    const op = 'ReduceLROnPlateau';
    refuseUnknown(op, options, ['mode', 'factor', 'patience', 'threshold', 'thresholdMode', 'cooldown', 'minLr', 'eps']);
    this.mode = options.mode ?? 'min';
    if (this.mode !== 'min' && this.mode !== 'max') fail(op, `mode must be 'min' or 'max', got ${String(this.mode)}`);
    this.factor = checkNumber(op, 'factor', options.factor ?? 0.1, 0, 1, true);
    this.patience = options.patience ?? 10;
    if (!Number.isInteger(this.patience) || this.patience < 0) fail(op, `patience must be a non-negative integer, got ${this.patience}`);
    this.threshold = checkNumber(op, 'threshold', options.threshold ?? 1e-4, 0);
    this.thresholdMode = options.thresholdMode ?? 'rel';
    if (this.thresholdMode !== 'rel' && this.thresholdMode !== 'abs') fail(op, `thresholdMode must be 'rel' or 'abs', got ${String(this.thresholdMode)}`);
    this.cooldown = options.cooldown ?? 0;
    if (!Number.isInteger(this.cooldown) || this.cooldown < 0) fail(op, `cooldown must be a non-negative integer, got ${this.cooldown}`);
    const n = optimizer.paramGroups.length;
    const m = options.minLr ?? 0;
    this.minLrs = typeof m === 'number' ? Array.from({ length: n }, () => m) : [...m];
    if (this.minLrs.length !== n) fail(op, `minLr must be a number or ${n} numbers (one per parameter group), got ${this.minLrs.length}`);
    this.minLrs.forEach((v, i) => checkNumber(op, `minLr[${i}]`, v, 0));
    this.eps = checkNumber(op, 'eps', options.eps ?? 1e-8, 0);
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  private isBetter(a: number): boolean {
    const t = this.threshold;
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? a < this.best * (1 - t) : a < this.best - t;
    return this.thresholdMode === 'rel' ? a > this.best * (1 + t) : a > this.best + t;
  }

  /** Records one epoch's metric; reduces every group's lr after more than `patience` epochs without improvement. */
  step(metric: number): void {
    if (typeof metric !== 'number' || Number.isNaN(metric)) fail('ReduceLROnPlateau.step', `metric must be a number, got ${String(metric)}`);
    this.lastEpoch++;
    if (this.isBetter(metric)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else this.numBadEpochs++;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.patience) {
      this.optimizer.paramGroups.forEach((g, i) => {
        const next = Math.max(g.lr * this.factor, this.minLrs[i]);
        if (g.lr - next > this.eps) g.lr = next;
      });
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
  }

  get lr(): number {
    return this.optimizer.lr;
  }

  stateDict(): SchedulerStateDict {
    return { kind: this.kind, lastEpoch: this.lastEpoch, baseLrs: this.optimizer.paramGroups.map((g) => g.initialLr), best: this.best, numBadEpochs: this.numBadEpochs, cooldownCounter: this.cooldownCounter };
  }

  loadStateDict(sd: SchedulerStateDict): void {
    const op = 'ReduceLROnPlateau.loadStateDict';
    if (sd?.kind !== this.kind) fail(op, `the state dict is from ${String(sd?.kind)}, not ${this.kind}`);
    const { best, numBadEpochs, cooldownCounter, lastEpoch } = sd as unknown as { best: number; numBadEpochs: number; cooldownCounter: number; lastEpoch: number };
    // best is ±Infinity before the first step (JSON writes it as null).
    const b = best === null ? (this.mode === 'min' ? Infinity : -Infinity) : best;
    if (typeof b !== 'number' || !Number.isInteger(numBadEpochs) || !Number.isInteger(cooldownCounter) || !Number.isInteger(lastEpoch)) fail(op, 'best, numBadEpochs, cooldownCounter and lastEpoch must be numbers');
    [this.best, this.numBadEpochs, this.cooldownCounter, this.lastEpoch] = [b, numBadEpochs, cooldownCounter, lastEpoch];
  }
}
