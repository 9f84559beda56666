// The Optimizer base class: parameter groups with per-group options (torch.optim's param_groups), zeroGrad,
// per-parameter state tensors and state dicts.
//
// Each group holds its parameters and its hyper-parameters as plain numbers/booleans (`lr` among them), read at
// every step, so schedulers and users can change them between steps. Parameters are numbered across groups in
// order, as torch's state_dict does; the state dict holds per-parameter state by that index, plus every group's
// hyper-parameters.
import { describeValue, fail, fmt } from '../errors.js';
import { Tensor } from '../tensor.js';
import { keep, noGrad, tidy } from '../engine.js';
import { zerosLike } from '../creation.js';
import { invalidateFoldedBatchNorms } from '../nn/fold-epoch.js';
import * as o from '../ops.js';

/** Hyper-parameters of one group, by gpugrad's names (betas are stored as beta1 and beta2). */
export type Hyper = Record<string, number | boolean>;

/** One parameter group: its parameters, lr, the lr schedulers start from, and the optimizer's other options. */
export interface ParamGroup {
  params: Tensor[];
  lr: number;
  /** The learning rate schedulers scale from (torch's initial_lr): the group's lr when it was made. */
  initialLr: number;
  hyper: Hyper;
}

/** A parameter group as given to a constructor or addParamGroup: its parameters and any options to override. */
export type ParamGroupInput<O> = { params: Iterable<Tensor> } & O;

/** What an optimizer constructor takes: parameters, or a list of groups with per-group options. */
export type Params<O> = Iterable<Tensor> | Iterable<ParamGroupInput<O>>;

/** Per-parameter state of an optimizer: named tensors (momentum, moments) and the step count. */
export interface ParamState {
  step: number;
  tensors: Map<string, Tensor>;
}

/**
 * A snapshot of an optimizer. `state` maps parameter index → its state; `hyper` holds the first group's
 * hyper-parameters (lr, momentum, betas, …) and `groups` every group's, with the indices of its parameters,
 * as numbers or booleans so they can go into JSON. The tensors are copies the caller owns (dispose them, or
 * let a tidy scope do it). A state dict without `groups` (written before groups existed) applies `hyper` to
 * every group.
 */
export interface OptimizerStateDict {
  kind: string;
  hyper: Hyper;
  groups?: { hyper: Hyper; params: number[] }[];
  state: Map<number, ParamState>;
}

/**
 * Reads one optimizer's options (refusing unknown names) into hyper-parameters on top of `base`. Each rule
 * checks its value and returns the hyper-parameters it sets; undefined values are skipped.
 */
export type OptionRules = Record<string, (v: unknown, op: string) => Hyper>;

export function parseOptions(op: string, options: object, base: Hyper, rules: OptionRules, skip: readonly string[] = []): Hyper {
  if (options === null || typeof options !== 'object') fail(op, `options must be an object, got ${options === null ? 'null' : typeof options}`);
  const out: Hyper = { ...base };
  for (const [k, v] of Object.entries(options)) {
    if (skip.includes(k)) continue;
    const rule = rules[k];
    if (!rule) fail(op, `unknown option '${k}' (options: ${Object.keys(rules).join(', ')})`);
    if (v !== undefined) Object.assign(out, rule(v, op));
  }
  return out;
}

/** A rule for a number in [min, max] stored under `name` (or `as`). */
export function num(name: string, min: number, max = Infinity, maxOpen = false, as = name): (v: unknown, op: string) => Hyper {
  return (v, op) => ({ [as]: checkNumber(op, name, v, min, max, maxOpen) });
}

export function bool(name: string): (v: unknown, op: string) => Hyper {
  return (v, op) => {
    if (typeof v !== 'boolean') fail(op, `${name} must be a boolean, got ${String(v)}`);
    return { [name]: v };
  };
}

export abstract class Optimizer {
  readonly paramGroups: ParamGroup[] = [];
  /** The options given to the constructor: groups added later start from them. */
  protected readonly defaults: Hyper;
  protected readonly state = new Map<number, ParamState>();
  abstract readonly kind: string;

  /**
   * `params` are tensors (one group) or groups `{ params, ...options }`; `options` are the defaults every group
   * starts from. `rules` read the options; `check` validates one group's merged hyper-parameters.
   */
  constructor(
    protected readonly op: string,
    params: Iterable<Tensor> | Iterable<ParamGroupInput<object>>,
    options: object,
    base: Hyper,
    private readonly rules: OptionRules,
    private readonly check: (h: Hyper, op: string) => void = () => {},
  ) {
    if (params === null || typeof (params as { [Symbol.iterator]?: unknown })?.[Symbol.iterator] !== 'function') {
      const hint = params instanceof Tensor ? `wrap a single tensor in an array: new ${op}([p], …)` : 'pass model.parameters(), a list such as [w, b], or groups [{ params, ...options }]';
      fail(op, `params must be an iterable of tensors, got ${describeValue(params)}; ${hint}`);
    }
    this.defaults = parseOptions(op, options ?? {}, base, rules);
    const list = [...params] as unknown[];
    if (list.length === 0) fail(op, 'got an empty parameter list');
    const isGroup = (x: unknown): x is ParamGroupInput<object> => x !== null && typeof x === 'object' && !(x instanceof Tensor) && 'params' in x;
    if (list.every(isGroup)) for (const g of list) this.addParamGroup(g);
    else if (list.some(isGroup)) fail(op, 'params must be all tensors or all groups { params, ...options }, not a mix');
    else this.addParamGroup({ params: list as Tensor[] });
  }

  /** Every parameter, group after group (the numbering of the state dict). */
  get params(): readonly Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /** The first group's learning rate; setting it sets every group's. */
  get lr(): number {
    return this.paramGroups[0].lr;
  }
  set lr(v: number) {
    checkNumber(this.op, 'lr', v, 0);
    for (const g of this.paramGroups) g.lr = v;
  }

  /** The first group's initial learning rate (schedulers scale every group from its own). */
  get initialLr(): number {
    return this.paramGroups[0].initialLr;
  }

  /** Adds a group `{ params, ...options }`; options not given come from the constructor's. */
  addParamGroup(group: ParamGroupInput<Record<string, unknown>>): void {
    const op = `${this.op}.addParamGroup`;
    if (group === null || typeof group !== 'object' || !('params' in group)) fail(op, 'a group must be an object { params, ...options }');
    const params = group.params instanceof Tensor ? [group.params] : [...(group.params ?? [])];
    const hyper = parseOptions(this.op, group, this.defaults, this.rules, ['params']);
    if (typeof hyper.lr !== 'number') fail(this.op, 'lr is required (in the options or in every group)');
    this.check(hyper, this.op);
    const seen = new Set(this.params);
    const first = this.params.length;
    params.forEach((p, k) => {
      const i = first + k;
      if (!(p instanceof Tensor)) fail(this.op, `parameter ${i} is not a Tensor`);
      if (p.node) fail(this.op, `parameter ${i} ${fmt(p.shape)} is not a leaf tensor (it was computed by an op)`);
      if (seen.has(p)) fail(this.op, `parameter ${i} ${fmt(p.shape)} appears twice${this.paramGroups.length ? ' (parameters may be in only one group)' : ''}`);
      seen.add(p);
    });
    if (params.length === 0 && this.paramGroups.length === 0) fail(this.op, 'got an empty parameter list');
    const { lr, ...rest } = hyper;
    this.paramGroups.push({ params, lr: lr as number, initialLr: lr as number, hyper: rest });
  }

  /** Drops every parameter's gradient (set-to-none, like torch's default). */
  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  /** Applies one update to every parameter that has a gradient. */
  step(): void {
    let i = 0;
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        const index = i++;
        if (!p.grad) continue;
        if (p.isDisposed) fail(`${this.kind}.step`, `parameter ${index} ${fmt(p.shape)} was disposed`);
        if (p.grad.backend !== p.backend) fail(`${this.kind}.step`, `parameter ${index} and its gradient live on different backends`);
        const s = this.paramState(index, p, group);
        // State follows its parameter (Module.to moves parameters in place; the state moves here, once).
        for (const t of s.tensors.values()) if (t.backend !== p.backend) t.moveTo(p.backend);
        this.update(p, p.grad, s, group);
        p.markModified();
        for (const t of s.tensors.values()) t.markModified();
      }
    }
    invalidateFoldedBatchNorms(); // updates run in place: eval-mode BN folds cached before are stale
  }

  /** One parameter's update with its group's hyper-parameters (`group.lr`, `group.hyper`). */
  protected abstract update(p: Tensor, g: Tensor, s: ParamState, group: ParamGroup): void;
  /** The state tensors a parameter of `group` carries (created at its first step). */
  protected abstract stateNames(group: ParamGroup): string[];
  /** The value a state tensor starts at (0; Adagrad's sum starts at initialAccumulatorValue). */
  protected initialState(_name: string, _group: ParamGroup): number {
    return 0;
  }

  private paramState(i: number, p: Tensor, group: ParamGroup): ParamState {
    let s = this.state.get(i);
    if (!s) {
      // Optimizer state lives as long as the optimizer, whatever tidy scope step() runs in; on the parameter's
      // backend, whatever backend is current now.
      const start = (n: string): Tensor => {
        const v = this.initialState(n, group);
        return v === 0 ? zerosLike(p) : noGrad(() => tidy(() => o.add(zerosLike(p), v)));
      };
      const tensors = new Map(this.stateNames(group).map((n) => [n, keep(start(n))] as [string, Tensor]));
      s = { step: 0, tensors };
      this.state.set(i, s);
    }
    return s;
  }

  private groupHyper(g: ParamGroup): Hyper {
    return { lr: g.lr, initialLr: g.initialLr, ...g.hyper };
  }

  /** A copy of the optimizer's state and every group's hyper-parameters (see OptimizerStateDict). */
  stateDict(): OptimizerStateDict {
    const state = new Map<number, ParamState>();
    noGrad(() => {
      for (const [i, s] of this.state) {
        // tidy: adding the scalar 0 creates a constant tensor that must not outlive the copy.
        state.set(i, { step: s.step, tensors: new Map([...s.tensors].map(([n, t]) => [n, tidy(() => t.add(0))] as [string, Tensor])) });
      }
    });
    let next = 0;
    const groups = this.paramGroups.map((g) => ({ hyper: this.groupHyper(g), params: g.params.map(() => next++) }));
    return { kind: this.kind, hyper: groups[0].hyper, groups, state };
  }

  /**
   * Restores a snapshot taken with stateDict() from an optimizer of the same kind with the same group sizes
   * over parameters of the same shapes. Everything is checked before anything changes; the tensors are copied.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const op = `${this.kind}.loadStateDict`;
    if (sd.kind !== this.kind) fail(op, `the state dict is from ${sd.kind}, not ${this.kind}`);
    const problems: string[] = [];
    const params = this.params;
    const groupOf: ParamGroup[] = this.paramGroups.flatMap((g) => g.params.map(() => g));
    const hypers = sd.groups ? sd.groups.map((g) => g.hyper) : this.paramGroups.map(() => sd.hyper);
    if (sd.groups) {
      if (sd.groups.length !== this.paramGroups.length) problems.push(`the state dict has ${sd.groups.length} parameter groups, the optimizer ${this.paramGroups.length}`);
      else sd.groups.forEach((g, k) => {
        if (g.params.length !== this.paramGroups[k].params.length) problems.push(`group ${k} has ${g.params.length} parameters in the state dict, ${this.paramGroups[k].params.length} in the optimizer`);
      });
    }
    hypers.forEach((h, k) => {
      if (typeof h?.lr !== 'number' || !Number.isFinite(h.lr)) problems.push(`group ${k}: lr is not a finite number`);
    });
    // The state tensors a parameter needs depend on its group's options after loading (SGD's momentum).
    const after = (i: number): ParamGroup => {
      const g = groupOf[i];
      const k = this.paramGroups.indexOf(g);
      return { ...g, hyper: { ...g.hyper, ...stripLr(hypers[k] ?? {}) } };
    };
    for (const [i, s] of sd.state) {
      const p = params[i];
      if (!p) {
        problems.push(`state for parameter ${i}, but the optimizer has ${params.length} parameters`);
        continue;
      }
      const names = this.stateNames(after(i));
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
    if (problems.length) fail(op, `state dict does not fit; nothing was loaded:\n  ${problems.join('\n  ')}`);
    for (const s of this.state.values()) for (const t of s.tensors.values()) t.dispose();
    this.state.clear();
    noGrad(() => {
      for (const [i, s] of sd.state) {
        const p = params[i];
        const tensors = new Map<string, Tensor>();
        for (const n of this.stateNames(after(i))) {
          const src = s.tensors.get(n)!;
          const moved = src.backend === p.backend ? src : src.toBackend(p.backend);
          tensors.set(n, keep(tidy(() => moved.add(0))));
          if (moved !== src) moved.dispose();
        }
        this.state.set(i, { step: s.step, tensors });
      }
    });
    this.paramGroups.forEach((g, k) => {
      const h = hypers[k];
      g.lr = h.lr as number;
      if (typeof h.initialLr === 'number') g.initialLr = h.initialLr;
      // Only the names this optimizer knows (a state dict may carry extras, e.g. a scheduler's).
      for (const [name, v] of Object.entries(stripLr(h))) if (name in g.hyper && typeof v === typeof g.hyper[name]) g.hyper[name] = v;
    });
  }

  /** Frees the state tensors (the parameters belong to the model). */
  dispose(): void {
    for (const s of this.state.values()) for (const t of s.tensors.values()) t.dispose();
    this.state.clear();
  }
}

function stripLr(h: Hyper): Hyper {
  const { lr: _lr, initialLr: _i, ...rest } = h;
  return rest;
}

export function checkNumber(op: string, name: string, v: unknown, min: number, max = Infinity, maxOpen = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(op, `${name} must be a finite number, got ${String(v)}`);
  if (v < min || v > max || (maxOpen && v === max)) fail(op, `${name} must be in [${min}, ${max}${maxOpen ? ')' : ']'}, got ${v}`);
  return v;
}
