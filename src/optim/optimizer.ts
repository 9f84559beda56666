// The Optimizer base class: parameter bookkeeping, zeroGrad, per-parameter state tensors and state dicts.
//
// One parameter group per optimizer (enough for the demo and the common case); `lr` is a plain mutable
// field so schedulers can change it between steps. The state dict mirrors torch.optim's layout:
// per-parameter state keyed by the parameter's index, plus the hyper-parameters.
import { describeValue, fail, fmt } from '../errors.js';
import { Tensor } from '../tensor.js';
import { keep, noGrad, tidy } from '../engine.js';
import { zerosLike } from '../creation.js';
import { invalidateFoldedBatchNorms } from '../nn/fold-epoch.js';

/** Per-parameter state of an optimizer: named tensors (momentum, moments) and the step count. */
export interface ParamState {
  step: number;
  tensors: Map<string, Tensor>;
}

/**
 * A snapshot of an optimizer. `state` maps parameter index → its state; `hyper` holds the
 * hyper-parameters (lr, momentum, betas, …) as numbers or booleans so it can go into JSON.
 * The tensors are copies the caller owns (dispose them, or let a tidy scope do it).
 */
export interface OptimizerStateDict {
  kind: string;
  hyper: Record<string, number | boolean>;
  state: Map<number, ParamState>;
}

export abstract class Optimizer {
  readonly params: readonly Tensor[];
  /** The learning rate of the next step; schedulers write it. */
  lr: number;
  /** The learning rate given at construction (schedulers scale from it). */
  readonly initialLr: number;
  protected readonly state = new Map<number, ParamState>();
  abstract readonly kind: string;

  constructor(op: string, params: Iterable<Tensor>, lr: number) {
    if (params === null || typeof (params as { [Symbol.iterator]?: unknown })?.[Symbol.iterator] !== 'function') {
      const hint = params instanceof Tensor ? `wrap a single tensor in an array: new ${op}([p], …)` : 'pass model.parameters() or a list such as [w, b]';
      fail(op, `params must be an iterable of tensors, got ${describeValue(params)}; ${hint}`);
    }
    const list = [...params];
    if (list.length === 0) fail(op, 'got an empty parameter list');
    const seen = new Set<Tensor>();
    list.forEach((p, i) => {
      if (!(p instanceof Tensor)) fail(op, `parameter ${i} is not a Tensor`);
      if (p.node) fail(op, `parameter ${i} ${fmt(p.shape)} is not a leaf tensor (it was computed by an op)`);
      if (seen.has(p)) fail(op, `parameter ${i} ${fmt(p.shape)} appears twice`);
      seen.add(p);
    });
    checkNumber(op, 'lr', lr, 0);
    this.params = list;
    this.lr = lr;
    this.initialLr = lr;
  }

  /** Drops every parameter's gradient (set-to-none, like torch's default). */
  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  /** Applies one update to every parameter that has a gradient. */
  step(): void {
    this.params.forEach((p, i) => {
      if (!p.grad) return;
      if (p.isDisposed) fail(`${this.kind}.step`, `parameter ${i} ${fmt(p.shape)} was disposed`);
      if (p.grad.backend !== p.backend) fail(`${this.kind}.step`, `parameter ${i} and its gradient live on different backends`);
      const s = this.paramState(i);
      // State follows its parameter (Module.to moves parameters in place; the state moves here, once).
      for (const t of s.tensors.values()) if (t.backend !== p.backend) t.moveTo(p.backend);
      this.update(p, p.grad, i, s);
      p.markModified();
      for (const t of s.tensors.values()) t.markModified();
    });
    invalidateFoldedBatchNorms(); // updates run in place: eval-mode BN folds cached before are stale
  }

  protected abstract update(p: Tensor, g: Tensor, index: number, s: ParamState): void;
  protected abstract stateNames(): string[];
  protected abstract hyper(): Record<string, number | boolean>;
  protected abstract setHyper(h: Record<string, number | boolean>): void;

  private paramState(i: number): ParamState {
    let s = this.state.get(i);
    if (!s) {
      const p = this.params[i];
      // Optimizer state lives as long as the optimizer, whatever tidy scope step() runs in.
      // On the parameter's backend, whatever backend is current now.
      const tensors = new Map(this.stateNames().map((n) => [n, keep(zerosLike(p))] as [string, Tensor]));
      s = { step: 0, tensors };
      this.state.set(i, s);
    }
    return s;
  }

  /** A copy of the optimizer's state and hyper-parameters (see OptimizerStateDict). */
  stateDict(): OptimizerStateDict {
    const state = new Map<number, ParamState>();
    noGrad(() => {
      for (const [i, s] of this.state) {
        // tidy: adding the scalar 0 creates a constant tensor that must not outlive the copy.
        state.set(i, { step: s.step, tensors: new Map([...s.tensors].map(([n, t]) => [n, tidy(() => t.add(0))] as [string, Tensor])) });
      }
    });
    return { kind: this.kind, hyper: { lr: this.lr, initialLr: this.initialLr, ...this.hyper() }, state };
  }

  /**
   * Restores a snapshot taken with stateDict() from an optimizer of the same kind over parameters of the
   * same shapes. Everything is checked before anything changes; the tensors are copied.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const op = `${this.kind}.loadStateDict`;
    if (sd.kind !== this.kind) fail(op, `the state dict is from ${sd.kind}, not ${this.kind}`);
    const names = this.stateNames();
    const problems: string[] = [];
    for (const [i, s] of sd.state) {
      const p = this.params[i];
      if (!p) {
        problems.push(`state for parameter ${i}, but the optimizer has ${this.params.length} parameters`);
        continue;
      }
      if (!Number.isInteger(s.step) || s.step < 0) problems.push(`parameter ${i}: step ${s.step} is not a non-negative integer`);
      for (const n of names) {
        const t = s.tensors.get(n);
        if (!t) problems.push(`parameter ${i}: missing '${n}'`);
        else if (t.shape.length !== p.shape.length || t.shape.some((d, k) => d !== p.shape[k])) {
          problems.push(`parameter ${i}: '${n}' has shape ${fmt(t.shape)}, parameter has ${fmt(p.shape)}`);
        } else if (t.backend !== p.backend && !t.backend.readSync) problems.push(`parameter ${i}: '${n}' is on another backend that cannot be read synchronously`);
      }
      for (const n of s.tensors.keys()) if (!names.includes(n)) problems.push(`parameter ${i}: unexpected '${n}'`);
    }
    if (typeof sd.hyper.lr !== 'number' || !Number.isFinite(sd.hyper.lr)) problems.push('hyper.lr is not a finite number');
    if (problems.length) fail(op, `state dict does not fit; nothing was loaded:\n  ${problems.join('\n  ')}`);
    for (const s of this.state.values()) for (const t of s.tensors.values()) t.dispose();
    this.state.clear();
    noGrad(() => {
      for (const [i, s] of sd.state) {
        const p = this.params[i];
        const tensors = new Map<string, Tensor>();
        for (const n of names) {
          const src = s.tensors.get(n)!;
          const moved = src.backend === p.backend ? src : src.toBackend(p.backend);
          tensors.set(n, keep(tidy(() => moved.add(0))));
          if (moved !== src) moved.dispose();
        }
        this.state.set(i, { step: s.step, tensors });
      }
    });
    this.lr = sd.hyper.lr as number;
    this.setHyper(sd.hyper);
  }

  /** Frees the state tensors (the parameters belong to the model). */
  dispose(): void {
    for (const s of this.state.values()) for (const t of s.tensors.values()) t.dispose();
    this.state.clear();
  }
}

export function checkNumber(op: string, name: string, v: unknown, min: number, max = Infinity, maxOpen = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(op, `${name} must be a finite number, got ${String(v)}`);
  if (v < min || v > max || (maxOpen && v === max)) fail(op, `${name} must be in [${min}, ${max}${maxOpen ? ')' : ']'}, got ${v}`);
  return v;
}
