// The Module base class: a tree of named children, parameters and buffers with PyTorch's naming,
// train/eval switching, state dicts (all-or-nothing loading) and disposal. Children, nn.Parameter(...) and
// nn.Buffer(...) values assigned to fields are registered under the field's name, as torch's __setattr__ does.
import { fail, fmt, GpugradError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { keep, noGrad, tidy } from '../engine.js';
import { backendLabel, type Backend } from '../backend.js';
import { invalidateFoldedBatchNorms } from './fold-epoch.js';
import { moduleCall } from '../functional/deferred.js';

export interface LoadStateDictOptions {
  /** Require the keys to match exactly (default true). Shape mismatches are errors either way. */
  strict?: boolean;
}

/** What `loadStateDict(..., { strict: false })` skipped. */
export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

// Tensors marked by Parameter()/Buffer(): a field holding one is registered as a parameter or buffer.
const parameterMarks = new WeakSet<Tensor>();
const bufferMarks = new WeakSet<Tensor>();

/**
 * torch.nn.Parameter: marks a leaf tensor as a module parameter (requiresGrad set, exempt from tidy scopes) and
 * returns it, so `this.scale = nn.Parameter(ones([8]))` in a module registers it as `scale`.
 */
export function Parameter(t: Tensor, requiresGrad = true): Tensor {
  if (!(t instanceof Tensor)) fail('Parameter', 'expects a Tensor');
  if (t.node) fail('Parameter', `tensor ${fmt(t.shape)} must be a leaf (detach it first)`);
  t.requiresGrad = requiresGrad;
  parameterMarks.add(t);
  return keep(t);
}

/** torch.nn.Buffer: marks a tensor as persistent non-trained state; a field holding it is registered as a buffer. */
export function Buffer(t: Tensor): Tensor {
  if (!(t instanceof Tensor)) fail('Buffer', 'expects a Tensor');
  bufferMarks.add(t);
  return keep(t);
}

// Any module whatever its forward's signature. The defaults let `class M extends Module { forward(a, b) … }`
// compile without type arguments; call()'s types come from the subclass's own forward.
export abstract class Module<In extends unknown[] = any[], Out = any> {
  /** Whether the module is in training mode (batch statistics in BatchNorm). Set with train()/eval(). */
  training = true;
  // Maps keep insertion order, which fixes the order of namedParameters() and stateDict() keys
  // (own parameters, own buffers, then children), the same order PyTorch uses.
  private readonly paramMap = new Map<string, Tensor>();
  private readonly bufferMap = new Map<string, Tensor>();
  private readonly childMap = new Map<string, Module>();

  /** The computation: any number of inputs; a tensor, a tuple or an object out. */
  abstract forward(...args: In): Out;

  constructor() {
    // Every forward runs in a tidy scope: its intermediates are freed on return, except what it returns (tensors,
    // or tensors inside a returned tuple or object) and what a recorded graph still needs for backward. This is
    // what lets a plain PyTorch-style loop run without tidy(). Convolution outputs deferred inside (eval-time
    // batch-norm folding, functional/deferred.ts) are computed before the outermost call returns.
    const fwd = this.forward as (...a: unknown[]) => unknown;
    Object.defineProperty(this, 'forward', { value: (...args: unknown[]): unknown => moduleCall(() => tidy(() => fwd.apply(this, args))), writable: true, configurable: true });
  }

  /** Same as forward(...args); reads like calling a torch module. Typed by the subclass's forward. */
  call(...args: Parameters<this['forward']>): ReturnType<this['forward']> {
    return (this.forward as (...a: unknown[]) => ReturnType<this['forward']>)(...args);
  }

  /**
   * Moves every parameter, buffer and gradient to `backend` in place (the tensors keep their identity, so an
   * optimizer built over them follows: its state moves at its next step).
   */
  to(backend: Backend): this {
    for (const [, t] of this.collect('both')) t.moveTo(backend);
    return this;
  }

  /**
   * Registers a trainable tensor under `name` (it becomes a leaf that requires a gradient) and returns it,
   * so a subclass writes `this.weight = this.registerParameter('weight', t)`. The tensor is exempted from
   * tidy scopes: it lives until the module is disposed.
   */
  protected registerParameter(name: string, t: Tensor): Tensor {
    this.checkName(name);
    if (t.node) fail('registerParameter', `parameter '${name}' ${fmt(t.shape)} must be a leaf tensor (detach it first)`);
    t.requiresGrad = true;
    this.paramMap.set(name, keep(t));
    return t;
  }

  /** Registers persistent state that is not trained (running statistics); it goes into stateDict(). */
  protected registerBuffer(name: string, t: Tensor): Tensor {
    this.checkName(name);
    this.bufferMap.set(name, keep(t));
    return t;
  }

  /** Registers a child module under `name` (its parameters are then prefixed `name.`). */
  protected registerModule<M extends Module>(name: string, m: M): M {
    this.checkName(name);
    if (!(m instanceof Module)) fail('registerModule', `child '${name}' must be a Module`);
    this.childMap.set(name, m);
    return m;
  }

  /** Replaces (or adds) the child `name`, keeping its position: for containers such as ModuleDict. */
  protected setModule(name: string, m: Module | null): void {
    if (m === null) {
      this.childMap.delete(name);
      return;
    }
    if (!(m instanceof Module)) fail('Module', `child '${name}' must be a Module`);
    if (name === '' || name.includes('.') || this.paramMap.has(name) || this.bufferMap.has(name)) fail('Module', `invalid child name '${name}'`);
    this.childMap.set(name, m);
  }

  /**
   * Registers what fields hold and registration has not seen: a Module as a child, a Parameter()-marked or
   * requiresGrad leaf tensor as a parameter, a Buffer()-marked tensor as a buffer, each under the field's
   * name (in declaration order, after what was registered explicitly). A field reassigned to another module or
   * marked tensor replaces the one registered under its name in place, as `model.fc = new nn.Linear(…)` does
   * in torch. Runs lazily before every walk of the tree, so it sees assignments made after construction.
   */
  private discover(): void {
    let known: Set<unknown> | null = null;
    for (const key of Object.keys(this)) {
      const v: unknown = (this as Record<string, unknown>)[key];
      if (!(v instanceof Module) && !(v instanceof Tensor)) continue;
      if (v === this || key === '' || key.includes('.')) continue;
      if (this.childMap.get(key) === v || this.paramMap.get(key) === v || this.bufferMap.get(key) === v) continue;
      // A value already registered under another name (BatchNorm2d's runningMean is 'running_mean').
      known ??= new Set<unknown>([...this.childMap.values(), ...this.paramMap.values(), ...this.bufferMap.values()]);
      if (known.has(v)) continue;
      if (v instanceof Module) {
        if (this.paramMap.has(key) || this.bufferMap.has(key)) continue;
        this.childMap.set(key, v);
      } else if (bufferMarks.has(v)) {
        if (this.paramMap.has(key) || this.childMap.has(key) || v.isDisposed) continue;
        this.bufferMap.set(key, keep(v));
      } else if (parameterMarks.has(v) || (v.requiresGrad && !v.node)) {
        if (this.bufferMap.has(key) || this.childMap.has(key) || v.isDisposed) continue;
        this.paramMap.set(key, keep(v));
      } else continue;
      known.add(v);
    }
  }

  private checkName(name: string): void {
    this.discover();
    if (name === '' || name.includes('.')) fail('Module', `invalid name '${name}': names must be non-empty and contain no '.'`);
    if (this.paramMap.has(name) || this.bufferMap.has(name) || this.childMap.has(name)) {
      fail('Module', `name '${name}' is already registered on ${this.constructor.name}`);
    }
  }

  /** Direct children with their names, in registration order. */
  namedChildren(): [string, Module][] {
    this.discover();
    return [...this.childMap];
  }
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }
  /** This module and every descendant, depth first, with dotted names ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, c] of this.namedChildren()) out.push(...c.namedModules(prefix ? `${prefix}.${n}` : n));
    return out;
  }
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  namedParameters(): [string, Tensor][] {
    return this.collect('param');
  }
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }
  namedBuffers(): [string, Tensor][] {
    return this.collect('buffer');
  }
  buffers(): Tensor[] {
    return this.namedBuffers().map(([, t]) => t);
  }

  private collect(kind: 'param' | 'buffer' | 'both', prefix = '', out: [string, Tensor][] = []): [string, Tensor][] {
    const p = prefix ? `${prefix}.` : '';
    this.discover();
    if (kind !== 'buffer') for (const [n, t] of this.paramMap) out.push([p + n, t]);
    if (kind !== 'param') for (const [n, t] of this.bufferMap) out.push([p + n, t]);
    for (const [n, c] of this.childMap) c.collect(kind, p + n, out);
    return out;
  }

  /** Sets training mode on this module and all descendants. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /** Drops every parameter's gradient. */
  zeroGrad(): void {
    for (const t of this.parameters()) t.zeroGrad();
  }

  /** Calls fn on every descendant and then on this module (children first, as torch's apply); returns this. */
  apply(fn: (m: Module) => void): this {
    for (const c of this.children()) c.apply(fn);
    fn(this);
    return this;
  }

  /** Sets requiresGrad on every parameter (false freezes the module, e.g. a backbone being fine-tuned). */
  requiresGrad_(flag = true): this {
    for (const t of this.parameters()) t.requiresGrad = flag;
    return this;
  }

  /**
   * Parameters and buffers by dotted name, in PyTorch's order. The values are the module's own tensors
   * (not copies): read them, save them, but change them only through loadStateDict or an optimizer.
   */
  stateDict(): Map<string, Tensor> {
    return new Map(this.collect('both'));
  }

  /**
   * Copies values from `state` into the module's parameters and buffers. Everything is checked first —
   * every missing key, unexpected key and shape mismatch is reported in one error — and nothing is
   * changed unless all checks pass. Tensors on another backend are copied across.
   */
  loadStateDict(state: Map<string, Tensor>, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = options.strict ?? true;
    if (!(state instanceof Map)) fail('loadStateDict', 'state must be a Map<string, Tensor>');
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !state.has(k));
    const unexpected = [...state.keys()].filter((k) => !own.has(k));
    const problems: string[] = [];
    const pairs: [Tensor, Tensor][] = [];
    const keyOf = new Map<Tensor | undefined, string>();
    for (const [k, src] of state) {
      const dst = own.get(k);
      if (!dst) continue;
      if (!(src instanceof Tensor)) {
        problems.push(`'${k}' is not a Tensor`);
        continue;
      }
      if (src.isDisposed) {
        problems.push(`'${k}' was disposed`);
        continue;
      }
      if (src.rank !== dst.rank || src.shape.some((d, i) => d !== dst.shape[i])) {
        problems.push(`shape mismatch for '${k}': checkpoint ${fmt(src.shape)}, model ${fmt(dst.shape)}`);
        continue;
      }
      if (src.backend !== dst.backend && !src.backend.readSync) {
        problems.push(`'${k}' lives on '${backendLabel(src.backend)}', which cannot be read synchronously; move it with toBackendAsync() first`);
        continue;
      }
      pairs.push([dst, src]);
      keyOf.set(dst, k);
    }
    const lines: string[] = [];
    if (strict && missing.length) lines.push(`missing keys (${missing.length}): ${missing.join(', ')}`);
    if (strict && unexpected.length) lines.push(`unexpected keys (${unexpected.length}): ${unexpected.join(', ')}`);
    lines.push(...problems);
    // A checkpoint saved from a wrapper (DataParallel's 'module.', a training script's 'model.') has every key
    // under one extra prefix: name it and the one-line fix.
    const prefix = unexpected[0]?.split('.')[0];
    if (strict && missing.length && prefix && unexpected.every((k) => k.startsWith(`${prefix}.`)) && missing.every((k) => state.has(`${prefix}.${k}`))) {
      lines.push(`every checkpoint key has the extra prefix '${prefix}.'; strip it first: new Map([...state].map(([k, t]) => [k.slice(${prefix.length + 1}), t]))`);
    }
    if (lines.length) fail('loadStateDict', `${this.constructor.name} state dict does not fit; nothing was loaded:\n  ${lines.join('\n  ')}`);
    // Phase 1 makes everything that needs memory: a copy on the target backend of each tensor that lives on
    // another. Phase 2 assigns, which copies values into the existing storages and allocates nothing. A failure in
    // phase 1 (out of heap, a backend error) frees what it made and leaves every parameter untouched.
    const sources: Tensor[] = [];
    try {
      for (const [dst, src] of pairs) sources.push(src.backend === dst.backend ? src : keep(src.toBackend(dst.backend)));
    } catch (e) {
      pairs.forEach(([, src], i) => i < sources.length && sources[i] !== src && sources[i].dispose());
      const at = pairs[sources.length];
      const why = e instanceof GpugradError ? e.message : `${(e as Error)?.name ?? 'Error'}: ${(e as Error)?.message ?? String(e)}`;
      fail('loadStateDict', `could not copy ${pairs.length} tensors to '${at?.[0].backend.name ?? '?'}' (failed at '${keyOf.get(at?.[0]) ?? '?'}', after ${sources.length}); nothing was loaded: ${why}`);
    }
    noGrad(() =>
      pairs.forEach(([dst, src], i) => {
        dst.assign(sources[i]);
        if (sources[i] !== src) sources[i].dispose();
      }),
    );
    invalidateFoldedBatchNorms(); // cached eval folds (nn/layers.ts) must not outlive the old values
    return { missingKeys: missing, unexpectedKeys: unexpected };
  }

  /** Total number of parameter elements. */
  numParameters(): number {
    return this.parameters().reduce((n, t) => n + t.size, 0);
  }

  /** Frees every parameter, buffer and gradient of this module and its descendants. */
  dispose(): void {
    for (const m of this.modules()) m.freeCaches();
    for (const [, t] of this.collect('both')) t.dispose();
  }

  /** Frees tensors a module derives from its state and keeps between calls (BatchNorm2d's folded affine). */
  protected freeCaches(): void {}

  /** The hyper-parameters shown by toString(), e.g. '3, 64, kernel=7×7, stride=2,2'. */
  extraRepr(): string {
    return '';
  }

  /** The module tree in PyTorch's print(model) style. */
  toString(): string {
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    const children = this.namedChildren();
    if (children.length === 0) return `${head})`;
    const lines = children.map(([n, c]) => `  (${n}): ${c.toString().split('\n').join('\n  ')}`);
    return `${head}\n${lines.join('\n')}\n)`;
  }
}
