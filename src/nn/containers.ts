// ModuleList and ModuleDict: containers that register their modules (named '0', '1', … or by key, as in
// torch.nn) so a model can hold a computed number of layers; neither has a forward of its own.
import { fail } from '../errors.js';
import { Module } from './module.js';

/** torch.nn.ModuleList: an indexable, iterable list of registered modules. */
export class ModuleList<M extends Module = Module> extends Module<never[], never> {
  private readonly items: M[] = [];

  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  get length(): number {
    return this.items.length;
  }

  /** The i-th module (negative counts from the end). */
  at(i: number): M {
    const m = this.items[i < 0 ? this.items.length + i : i];
    if (!m) fail('ModuleList.at', `index ${i} is out of range for ${this.items.length} modules`);
    return m;
  }

  append(m: M): this {
    if (!(m instanceof Module)) fail('ModuleList.append', `expects a Module, got ${typeof m}`);
    this.setModule(String(this.items.length), m);
    this.items.push(m);
    return this;
  }

  extend(ms: Iterable<M>): this {
    for (const m of ms) this.append(m);
    return this;
  }

  /** Inserts before index i; later modules are renumbered, as in torch. */
  insert(i: number, m: M): this {
    if (!(m instanceof Module)) fail('ModuleList.insert', `expects a Module, got ${typeof m}`);
    const at = i < 0 ? Math.max(0, this.items.length + i) : Math.min(i, this.items.length);
    this.items.splice(at, 0, m);
    this.renumber();
    return this;
  }

  /** Replaces the module at index i. */
  set(i: number, m: M): this {
    this.at(i);
    const k = i < 0 ? this.items.length + i : i;
    if (!(m instanceof Module)) fail('ModuleList.set', `expects a Module, got ${typeof m}`);
    this.items[k] = m;
    this.setModule(String(k), m);
    return this;
  }

  private renumber(): void {
    for (let k = 0; k < this.items.length; k++) this.setModule(String(k), null);
    this.items.forEach((m, k) => this.setModule(String(k), m));
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }

  forward(): never {
    fail('ModuleList', 'has no forward: iterate over it and call its modules');
  }
}

/** torch.nn.ModuleDict: registered modules by string key, in insertion order. */
export class ModuleDict<M extends Module = Module> extends Module<never[], never> {
  private readonly map = new Map<string, M>();

  constructor(modules: Iterable<readonly [string, M]> | Record<string, M> = {}) {
    super();
    const entries = Symbol.iterator in modules ? [...(modules as Iterable<readonly [string, M]>)] : Object.entries(modules as Record<string, M>);
    for (const [k, m] of entries) this.set(k, m);
  }

  get size(): number {
    return this.map.size;
  }

  /** The module under `key`; a missing key throws (use has() to test). */
  get(key: string): M {
    const m = this.map.get(key);
    if (!m) fail('ModuleDict.get', `no module under '${key}' (keys: ${[...this.map.keys()].join(', ') || 'none'})`);
    return m;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  /** Adds or replaces the module under `key` (a replaced key keeps its position). */
  set(key: string, m: M): this {
    if (typeof key !== 'string' || key === '' || key.includes('.')) fail('ModuleDict.set', `keys must be non-empty strings without '.', got ${JSON.stringify(key)}`);
    if (!(m instanceof Module)) fail('ModuleDict.set', `the value for '${key}' must be a Module`);
    this.setModule(key, m);
    this.map.set(key, m);
    return this;
  }

  /** Removes and returns the module under `key`. */
  pop(key: string): M {
    const m = this.get(key);
    this.map.delete(key);
    this.setModule(key, null);
    return m;
  }

  keys(): string[] {
    return [...this.map.keys()];
  }
  values(): M[] {
    return [...this.map.values()];
  }
  entries(): [string, M][] {
    return [...this.map.entries()];
  }
  [Symbol.iterator](): Iterator<string> {
    return this.map.keys();
  }

  forward(): never {
    fail('ModuleDict', 'has no forward: look up its modules and call them');
  }
}
