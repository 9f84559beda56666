// The Tensor: a shape, a reference-counted backend buffer and the autograd node that produced it;
// plus the engine state around it: tidy scopes, the no-grad switch and the memory counter.
import { currentBackend, type Backend, type Storage } from './backend.js';
import { fail, fmt } from './errors.js';
import { checkShape, sizeOf, type Shape } from './shape.js';
import { globalGenerator } from './random.js';
import type { GradNode } from './autograd.js';
import * as ops from './ops.js';
import { backward as runBackward } from './autograd.js';

/** A backend buffer shared by a tensor and its views (reshape, detach); freed when the last one goes. */
class Buffer {
  refs = 1;
  constructor(
    readonly backend: Backend,
    readonly handle: Storage,
    readonly bytes: number,
  ) {}
}

interface Engine {
  scopes: Set<Tensor>[];
  noGradDepth: number;
  live: number;
  buffers: Set<Buffer>;
  nextId: number;
  /** Debug aid (issue: leak detector): where each live tensor was created. */
  trackCreation: boolean;
  /** Live tensors while leak tracking is on (null otherwise, so normal runs pay nothing). */
  tracked: Set<Tensor> | null;
  /** Called with every tensor an op produces (anomaly mode). */
  onCreate: ((t: Tensor, op: string) => void) | null;
}

const engine: Engine = { scopes: [], noGradDepth: 0, live: 0, buffers: new Set(), nextId: 0, trackCreation: false, tracked: null, onCreate: null };

export type NestedArray = number | NestedArray[];
export type DataLike = ArrayLike<number> | NestedArray;

export interface TensorOptions {
  requiresGrad?: boolean;
}

export class Tensor {
  readonly id: number;
  readonly shape: readonly number[];
  readonly size: number;
  /** Set on tensors that an op produced while recording; null on leaves. */
  node: GradNode | null;
  requiresGrad: boolean;
  /** Accumulated gradient of a leaf after `backward()`. */
  grad: Tensor | null = null;
  /** Stack at creation when leak tracking is on. */
  readonly createdAt: string | undefined;
  private buf: Buffer;
  private disposedFlag = false;

  /** @internal Use `tensor()`, `zeros()` or an op to create tensors. */
  constructor(buf: Buffer, shape: readonly number[], node: GradNode | null, requiresGrad: boolean) {
    this.id = engine.nextId++;
    this.buf = buf;
    this.shape = Object.freeze([...shape]);
    this.size = sizeOf(shape);
    this.node = node;
    this.requiresGrad = requiresGrad;
    this.createdAt = engine.trackCreation ? new Error().stack?.split('\n').slice(2, 8).join('\n') : undefined;
    engine.live++;
    if (engine.tracked) engine.tracked.add(this);
    const scope = engine.scopes[engine.scopes.length - 1];
    if (scope) scope.add(this);
  }

  get rank(): number {
    return this.shape.length;
  }
  get backend(): Backend {
    return this.buf.backend;
  }
  get isDisposed(): boolean {
    return this.disposedFlag;
  }
  /** @internal The backend handle; throws if the tensor was disposed. */
  get storage(): Storage {
    if (this.disposedFlag) fail('Tensor', `tensor #${this.id} ${fmt(this.shape)} was used after dispose()`);
    return this.buf.handle;
  }

  /** A copy of the values as a Float32Array (row-major). The only way data leave a backend. */
  async data(): Promise<Float32Array> {
    return this.backend.read(this.storage);
  }
  /** Synchronous read, only on backends whose data are already on the host. */
  dataSync(): Float32Array {
    const b = this.backend;
    if (!b.readSync) fail('dataSync', `backend '${b.name}:${b.mode}' cannot read synchronously; use await t.data()`);
    return b.readSync(this.storage);
  }
  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) fail('item', `tensor of shape ${fmt(this.shape)} has ${this.size} elements, expected 1`);
    return (await this.data())[0];
  }
  itemSync(): number {
    if (this.size !== 1) fail('item', `tensor of shape ${fmt(this.shape)} has ${this.size} elements, expected 1`);
    return this.dataSync()[0];
  }
  /** Nested arrays, like torch's tolist(). */
  async toArray(): Promise<NestedArray> {
    const d = await this.data();
    const build = (dim: number, off: number): NestedArray => {
      if (dim === this.shape.length) return d[off];
      const step = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, off + i * step));
    };
    return build(0, 0);
  }

  /** Frees the buffer (once no view shares it) and the gradient. Safe to call twice. */
  dispose(): void {
    if (this.disposedFlag) return;
    this.disposedFlag = true;
    engine.live--;
    if (engine.tracked) engine.tracked.delete(this);
    for (const s of engine.scopes) s.delete(this);
    releaseBuffer(this.buf);
    this.node = null;
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  /** @internal A new tensor sharing this buffer with another shape (reshape, detach). */
  shareAs(shape: readonly number[], node: GradNode | null, requiresGrad: boolean): Tensor {
    const b = this.buf;
    if (this.disposedFlag) fail('Tensor', `tensor #${this.id} ${fmt(this.shape)} was used after dispose()`);
    b.refs++;
    return new Tensor(b, shape, node, requiresGrad);
  }

  /**
   * Replaces the values in place with those of `src` (same shape and backend); used by optimizers and
   * running statistics. The tensor keeps its identity, so modules and optimizers holding it see the change.
   */
  assign(src: Tensor): this {
    if (!sameDims(src.shape, this.shape)) fail('assign', `source shape ${fmt(src.shape)} differs from target shape ${fmt(this.shape)}`);
    if (src.backend !== this.backend) fail('assign', `source lives on '${src.backend.name}:${src.backend.mode}' and target on '${this.backend.name}:${this.backend.mode}'`);
    const old = this.buf;
    const nb = src.buf;
    nb.refs++;
    this.buf = nb;
    releaseBuffer(old);
    return this;
  }

  /** @internal Swaps in a new backend buffer (in-place kernels that return fresh storage). */
  setStorage(handle: Storage): void {
    const old = this.buf;
    this.buf = makeBuffer(old.backend, handle);
    releaseBuffer(old);
  }

  /**
   * A copy on another backend (get one from `await setBackend(...)`). Synchronous only where the source
   * backend can read synchronously; otherwise use `toBackendAsync`.
   */
  toBackend(target: Backend): Tensor {
    if (target === this.backend) return this.detach();
    const src = this.backend;
    if (!src.readSync) fail('toBackend', `backend '${src.name}:${src.mode}' cannot read synchronously; use await t.toBackendAsync()`);
    return fromStorage(target, target.upload(src.readSync(this.storage)), this.shape);
  }
  async toBackendAsync(target: Backend): Promise<Tensor> {
    if (target === this.backend) return this.detach();
    return fromStorage(target, target.upload(await this.data()), this.shape);
  }

  toString(): string {
    return `Tensor(${fmt(this.shape)}, ${this.backend.name}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  // ---- autograd ----
  /** Back-propagates from this tensor; gradients accumulate into `.grad` of leaves that require them. */
  backward(gradient?: Tensor, options: { retainGraph?: boolean } = {}): void {
    runBackward(this, gradient, options.retainGraph ?? false);
  }
  /** A tensor sharing the data but cut from the graph. */
  detach(): Tensor {
    return this.shareAs(this.shape, null, false);
  }
  /** Drops the accumulated gradient (PyTorch's set_to_none behaviour). */
  zeroGrad(): void {
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }
  /** Marks a leaf as requiring a gradient (in place), like torch's requires_grad_(). */
  requiresGrad_(flag = true): this {
    if (this.node) fail('requiresGrad_', 'only leaf tensors can change requiresGrad; use detach() first');
    this.requiresGrad = flag;
    return this;
  }

  // ---- op methods (the same functions as the free ops) ----
  add(b: Tensor | number): Tensor {
    return ops.add(this, b);
  }
  sub(b: Tensor | number): Tensor {
    return ops.sub(this, b);
  }
  mul(b: Tensor | number): Tensor {
    return ops.mul(this, b);
  }
  div(b: Tensor | number): Tensor {
    return ops.div(this, b);
  }
  neg(): Tensor {
    return ops.neg(this);
  }
  exp(): Tensor {
    return ops.exp(this);
  }
  log(): Tensor {
    return ops.log(this);
  }
  sqrt(): Tensor {
    return ops.sqrt(this);
  }
  abs(): Tensor {
    return ops.abs(this);
  }
  pow(p: number): Tensor {
    return ops.pow(this, p);
  }
  relu(): Tensor {
    return ops.relu(this);
  }
  sum(axes?: number | readonly number[], keepdim = false): Tensor {
    return ops.sum(this, axes, keepdim);
  }
  mean(axes?: number | readonly number[], keepdim = false): Tensor {
    return ops.mean(this, axes, keepdim);
  }
  max(axes?: number | readonly number[], keepdim = false): Tensor {
    return ops.max(this, axes, keepdim);
  }
  reshape(shape: readonly number[]): Tensor {
    return ops.reshape(this, shape);
  }
  view(shape: readonly number[]): Tensor {
    return ops.reshape(this, shape);
  }
  permute(perm: readonly number[]): Tensor {
    return ops.permute(this, perm);
  }
  transpose(dim0 = -2, dim1 = -1): Tensor {
    return ops.transpose(this, dim0, dim1);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return ops.flatten(this, startDim, endDim);
  }
  matmul(b: Tensor): Tensor {
    return ops.matmul(this, b);
  }
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function makeBuffer(backend: Backend, handle: Storage): Buffer {
  const b = new Buffer(backend, handle, backend.bytes(handle));
  engine.buffers.add(b);
  return b;
}

function releaseBuffer(b: Buffer): void {
  if (--b.refs > 0) return;
  engine.buffers.delete(b);
  b.backend.release(b.handle);
}

/** @internal Wraps a fresh backend storage in a tensor. */
export function fromStorage(backend: Backend, handle: Storage, shape: readonly number[], node: GradNode | null = null, requiresGrad = false): Tensor {
  return new Tensor(makeBuffer(backend, handle), shape, node, requiresGrad);
}

// ---- engine: grad mode, scopes, memory ----

export function isGradEnabled(): boolean {
  return engine.noGradDepth === 0;
}

/** Runs `fn` without recording the graph, like torch.no_grad(). */
export function noGrad<T>(fn: () => T): T {
  engine.noGradDepth++;
  try {
    return fn();
  } finally {
    engine.noGradDepth--;
  }
}

function collect(value: unknown, into: Set<Tensor>, seen: Set<unknown>): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (value instanceof Tensor) {
    into.add(value);
    return;
  }
  if (value instanceof Map) {
    for (const v of value.values()) collect(v, into, seen);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, into, seen);
    return;
  }
  if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, into, seen);
  }
}

function closeScope(scope: Set<Tensor>, result: unknown): void {
  const kept = new Set<Tensor>();
  collect(result, kept, new Set());
  const parent = engine.scopes[engine.scopes.length - 1];
  for (const t of scope) {
    if (kept.has(t)) {
      if (parent) parent.add(t);
    } else {
      t.dispose();
    }
  }
}

/**
 * Runs `fn` and disposes every tensor created inside it except those it returns (directly, or inside
 * arrays, plain objects and Maps). Tensors passed to `keep()` survive too.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  engine.scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    engine.scopes.pop();
    closeScope(scope, undefined);
    throw e;
  }
  engine.scopes.pop();
  if (result instanceof Promise) {
    closeScope(scope, undefined);
    fail('tidy', 'the function returned a Promise; use tidyAsync() for async code');
  }
  closeScope(scope, result);
  return result;
}

/**
 * The async form of `tidy`. Scopes nest by call order, so do not run two tidyAsync blocks concurrently
 * on tensors you mean to keep: a tensor is owned by the innermost scope open when it was created.
 */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  const scope = new Set<Tensor>();
  engine.scopes.push(scope);
  const pop = (): void => {
    const i = engine.scopes.lastIndexOf(scope);
    if (i >= 0) engine.scopes.splice(i, 1);
  };
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    pop();
    closeScope(scope, undefined);
    throw e;
  }
  pop();
  closeScope(scope, result);
  return result;
}

/** Exempts a tensor from every open tidy scope; it lives until disposed. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of engine.scopes) s.delete(t);
  return t;
}

export interface MemoryInfo {
  /** Live (not disposed) tensors, views included. */
  tensors: number;
  /** Distinct backend buffers held. */
  buffers: number;
  /** Bytes held by those buffers. */
  bytes: number;
  /** The same, per backend ('reference', 'gpujs:webasm', ...). */
  backends: Record<string, { buffers: number; bytes: number }>;
}

export function memory(): MemoryInfo {
  const backends: Record<string, { buffers: number; bytes: number }> = {};
  let bytes = 0;
  for (const b of engine.buffers) {
    const k = b.backend.name === 'reference' ? 'reference' : `${b.backend.name}:${b.backend.mode}`;
    const e = (backends[k] ??= { buffers: 0, bytes: 0 });
    e.buffers++;
    e.bytes += b.bytes;
    bytes += b.bytes;
  }
  return { tensors: engine.live, buffers: engine.buffers.size, bytes, backends };
}

/** Turns on recording of creation stacks, so `liveTensors()` can say where leaks come from. */
export function setLeakTracking(on: boolean): void {
  engine.trackCreation = on;
  engine.tracked = on ? new Set() : null;
}

export interface LiveTensor {
  id: number;
  shape: readonly number[];
  backend: string;
  /** Stack frames where the tensor was created. */
  createdAt: string;
}

/** Tensors created since leak tracking was turned on and not yet disposed, with where they were made. */
export function liveTensors(): LiveTensor[] {
  if (!engine.tracked) fail('liveTensors', 'leak tracking is off; call setLeakTracking(true) before the code under test');
  return [...engine.tracked].map((t) => ({ id: t.id, shape: t.shape, backend: `${t.backend.name}:${t.backend.mode}`, createdAt: t.createdAt ?? '' }));
}

/** @internal Installs the per-op hook used by anomaly mode. */
export function setOpHook(fn: ((t: Tensor, op: string) => void) | null): void {
  engine.onCreate = fn;
}

/** @internal */
export function opHook(): ((t: Tensor, op: string) => void) | null {
  return engine.onCreate;
}

// ---- creation ----

function flattenNested(op: string, data: NestedArray, shape: number[], out: number[], depth: number): void {
  if (typeof data === 'number') {
    if (depth !== shape.length && shape.length > 0) fail(op, `ragged nested array: a number at depth ${depth}, expected depth ${shape.length}`);
    out.push(data);
    return;
  }
  if (depth === shape.length) shape.push(data.length);
  else if (shape[depth] !== data.length) fail(op, `ragged nested array: length ${data.length} at depth ${depth}, expected ${shape[depth]}`);
  for (const d of data) flattenNested(op, d, shape, out, depth + 1);
}

/**
 * Creates a tensor from values. `data` is a flat array-like (then `shape` is required unless 1-D) or
 * nested arrays (shape inferred). Values are stored as float32.
 */
export function tensor(data: DataLike, shape?: readonly number[], options: TensorOptions = {}): Tensor {
  let flat: Float32Array;
  let inferred: number[];
  if (typeof data === 'number') {
    flat = new Float32Array([data]);
    inferred = [];
  } else if (Array.isArray(data)) {
    const values: number[] = [];
    inferred = [];
    flattenNested('tensor', data as NestedArray[], inferred, values, 0);
    flat = Float32Array.from(values);
  } else {
    flat = Float32Array.from(data as ArrayLike<number>);
    inferred = [flat.length];
  }
  const s = shape ? [...shape] : inferred;
  checkShape('tensor', 'shape', s);
  if (sizeOf(s) !== flat.length) fail('tensor', `${flat.length} values cannot fill shape ${fmt(s)} (${sizeOf(s)} elements)`);
  const b = currentBackend();
  return fromStorage(b, b.upload(flat), s, null, options.requiresGrad ?? false);
}

export function full(shape: readonly number[], value: number, options: TensorOptions = {}): Tensor {
  checkShape('full', 'shape', shape);
  const b = currentBackend();
  return fromStorage(b, b.fill(sizeOf(shape), value), shape, null, options.requiresGrad ?? false);
}
export function zeros(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return full(shape, 0, options);
}
export function ones(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return full(shape, 1, options);
}
export function zerosLike(t: Tensor): Tensor {
  return full(t.shape, 0);
}
export function onesLike(t: Tensor): Tensor {
  return full(t.shape, 1);
}

/** Values start, start+step, ... below end (like torch.arange); arange(n) counts 0..n-1. */
export function arange(start: number, end?: number, step = 1, options: TensorOptions = {}): Tensor {
  if (end === undefined) {
    end = start;
    start = 0;
  }
  if (step === 0 || !Number.isFinite(step)) fail('arange', `step must be a finite non-zero number, got ${step}`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = start + i * step;
  return tensor(d, [n], options);
}

/** Uniform [0,1) values from the seeded global generator (see manualSeed). */
export function rand(shape: readonly number[], options: TensorOptions = {}): Tensor {
  checkShape('rand', 'shape', shape);
  const d = new Float32Array(sizeOf(shape));
  for (let i = 0; i < d.length; i++) d[i] = globalGenerator.uniform();
  return tensor(d, shape, options);
}

/** Standard normal values from the seeded global generator. */
export function randn(shape: readonly number[], options: TensorOptions = {}): Tensor {
  checkShape('randn', 'shape', shape);
  const d = new Float32Array(sizeOf(shape));
  for (let i = 0; i < d.length; i++) d[i] = globalGenerator.normal();
  return tensor(d, shape, options);
}

export type { Shape };
