// The Tensor: a shape, a reference-counted backend buffer and the autograd node that produced it.
// Engine state (grad mode, scopes, memory counters) lives in engine.ts, the creation functions in creation.ts.
import { backendLabel, type Backend, type Storage } from './backend.js';
import { fail, fmt } from './errors.js';
import { sizeOf } from './shape.js';
import type { GradNode } from './autograd.js';
import * as ops from './ops.js';
import * as ox from './ops-extra.js';
import * as ip from './inplace.js';
import { backward as runBackward, inBackward } from './autograd.js';
import { Buffer, engine, noGrad } from './engine.js';
import { attachNode, Core, dropHandle, unwatch, watch, makeBuffer, maybeReclaim, releaseBuffer } from './lifetime.js';
import { sameShape } from './shape.js';
import type { NestedArray } from './creation.js';
import { formatTensor } from './print.js';

export class Tensor {
  readonly id: number;
  readonly shape: readonly number[];
  readonly size: number;
  requiresGrad: boolean;
  /** Accumulated gradient of a leaf after `backward()`. */
  grad: Tensor | null = null;
  /** Stack at creation when leak tracking is on. */
  readonly createdAt: string | undefined;
  /** @internal The handle, storage and node with their reference counts (lifetime.ts). */
  readonly core: Core;

  /** @internal Use `tensor()`, `zeros()` or an op to create tensors. */
  constructor(buf: Buffer, shape: readonly number[], node: GradNode | null, requiresGrad: boolean) {
    this.id = engine.nextId++;
    this.core = new Core(buf, node);
    if (node) attachNode(this.core, node, node.inputs.map((t) => t.core));
    this.shape = Object.freeze([...shape]);
    this.size = sizeOf(shape);
    this.requiresGrad = requiresGrad;
    this.createdAt = engine.trackCreation ? new Error().stack?.split('\n').slice(2, 8).join('\n') : undefined;
    engine.live++;
    if (engine.tracked) engine.tracked.add(this);
    const scope = engine.scopes[engine.scopes.length - 1];
    if (scope) scope.add(this);
    else watch(this, this.core);
  }

  /** The autograd node that produced this tensor (null on leaves and outside recording). */
  get node(): GradNode | null {
    return this.core.node;
  }
  get rank(): number {
    return this.shape.length;
  }
  get backend(): Backend {
    return this.core.backend;
  }
  get isDisposed(): boolean {
    return !this.core.handle;
  }
  /**
   * @internal The backend handle; throws if the tensor was disposed. While backward() runs, a tensor the user
   * disposed but the graph still reads stays readable.
   */
  get storage(): Storage {
    const c = this.core;
    if (!c.handle && !(c.buf && inBackward())) fail('Tensor', `tensor #${this.id} ${fmt(this.shape)} was used after dispose()`);
    if (!c.buf) fail('Tensor', `internal: the storage of tensor #${this.id} ${fmt(this.shape)} was released while the graph still needed it`);
    if (c.buf.deferred) c.buf = c.buf.deferred.resolve(c.buf); // computed on first read (engine.ts Deferred)
    return c.buf.handle;
  }
  /** @internal The storage for a kernel of `backend`: refuses a tensor that lives on another backend. */
  storageOn(backend: Backend, op: string): Storage {
    const h = this.storage;
    if (this.backend !== backend) {
      fail(op, `tensor #${this.id} ${fmt(this.shape)} lives on '${backendLabel(this.backend)}' but the kernel runs on '${backendLabel(backend)}'; move it with toBackend()`);
    }
    return h;
  }
  /** @internal The in-place version of the storage (shared with views). */
  get version(): number {
    return this.core.buf ? this.core.buf.version : -1;
  }

  /** A copy of the values as a Float32Array (row-major). The only way data leave a backend. */
  async data(): Promise<Float32Array> {
    const out = await this.backend.read(this.storage);
    await maybeReclaim();
    return out;
  }
  /** Synchronous read, only on backends whose data are already on the host. */
  dataSync(): Float32Array {
    const b = this.backend;
    if (!b.readSync) fail('dataSync', `backend '${backendLabel(b)}' cannot read synchronously; use await t.data()`);
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

  /**
   * Releases this handle and the gradient. The storage is freed once no view shares it and no recorded graph
   * still needs it for backward (then it goes when that graph is freed). Safe to call twice.
   */
  dispose(): void {
    if (!this.core.handle) return;
    if (engine.tracked) engine.tracked.delete(this);
    for (const s of engine.scopes) s.delete(this);
    unwatch(this.core);
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
    dropHandle(this.core);
  }

  /** @internal A new tensor sharing this buffer with another shape (reshape, detach). */
  shareAs(shape: readonly number[], node: GradNode | null, requiresGrad: boolean): Tensor {
    this.storage; // throws if disposed
    const b = this.core.buf as Buffer;
    b.refs++;
    return new Tensor(b, shape, node, requiresGrad);
  }

  /**
   * Overwrites the values in place with those of `src` (same shape and backend); used by optimizers, running
   * statistics and loadStateDict. Every view of this tensor sees the new values, and a graph that saved them
   * refuses to backward (the version check).
   */
  assign(src: Tensor): this {
    if (!(src instanceof Tensor)) fail('assign', `source must be a Tensor, got ${src === null ? 'null' : typeof src}`);
    if (!sameShape(src.shape, this.shape)) fail('assign', `source shape ${fmt(src.shape)} differs from target shape ${fmt(this.shape)}`);
    if (src.backend !== this.backend) fail('assign', `source lives on '${backendLabel(src.backend)}' and target on '${backendLabel(this.backend)}'`);
    if (src.core.buf === this.core.buf) return this;
    this.backend.copyInto(this.storage, src.storage);
    this.markModified();
    return this;
  }

  /** @internal Records an in-place write (optimizer kernels call this after updating the storage). */
  markModified(): void {
    if (this.core.buf) this.core.buf.version++;
  }

  /** @internal Moves the values to another backend in place: the tensor keeps its identity (Module.to). */
  moveTo(target: Backend): void {
    const c = this.core;
    if (!c.buf || c.buf.backend === target) return;
    if (c.node) fail('to', `tensor #${this.id} ${fmt(this.shape)} is part of a recorded graph; only leaves (parameters, buffers) move in place`);
    const src = c.buf.backend;
    if (!src.readSync) fail('to', `backend '${backendLabel(src)}' cannot read synchronously; use toBackendAsync()`);
    const moved = makeBuffer(target, target.upload(src.readSync(c.buf.handle)));
    releaseBuffer(c.buf);
    c.buf = moved;
    c.backend = target;
    if (this.grad) this.grad.moveTo(target);
  }

  /**
   * A copy on another backend (get one from `await setBackend(...)`). Synchronous only where the source
   * backend can read synchronously; otherwise use `toBackendAsync`.
   */
  toBackend(target: Backend): Tensor {
    if (target === this.backend) return this.detach();
    const src = this.backend;
    if (!src.readSync) fail('toBackend', `backend '${backendLabel(src)}' cannot read synchronously; use await t.toBackendAsync()`);
    return fromStorage(target, target.upload(src.readSync(this.storage)), this.shape);
  }
  async toBackendAsync(target: Backend): Promise<Tensor> {
    if (target === this.backend) return this.detach();
    return fromStorage(target, target.upload(await this.data()), this.shape);
  }

  /** The values (summarised like PyTorch's), shape, backend and autograd state; see print.ts. */
  toString(): string {
    return formatTensor(this);
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

  /** console.log and util.inspect print the same text as toString() instead of the backend's internals. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return formatTensor(this);
  }

  // ---- PyTorch-parity methods (ops-extra.ts, functional.ts; issue #18) ----
  eq(b: Tensor | number): Tensor {
    return ops.eq(this, b);
  }
  gt(b: Tensor | number): Tensor {
    return ops.gt(this, b);
  }
  lt(b: Tensor | number): Tensor {
    return ox.lt(this, b);
  }
  le(b: Tensor | number): Tensor {
    return ox.le(this, b);
  }
  ge(b: Tensor | number): Tensor {
    return ox.ge(this, b);
  }
  ne(b: Tensor | number): Tensor {
    return ox.ne(this, b);
  }
  maximum(b: Tensor | number): Tensor {
    return ox.maximum(this, b);
  }
  minimum(b: Tensor | number): Tensor {
    return ox.minimum(this, b);
  }
  clamp(min?: Tensor | number | null, max?: Tensor | number | null): Tensor {
    return ox.clamp(this, min, max);
  }
  /** this where cond is non-zero, else other (torch's x.where(cond, y)). */
  where(cond: Tensor, other: Tensor | number): Tensor {
    return ox.where(cond, this, other);
  }
  min(axes?: number | readonly number[], keepdim = false): Tensor {
    return ox.min(this, axes, keepdim);
  }
  amax(axes?: number | readonly number[], keepdim = false): Tensor {
    return ops.max(this, axes, keepdim);
  }
  amin(axes?: number | readonly number[], keepdim = false): Tensor {
    return ox.min(this, axes, keepdim);
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return ox.argmax(this, dim, keepdim);
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return ox.argmin(this, dim, keepdim);
  }
  var(dim?: number | readonly number[] | ox.VarOptions, options: ox.VarOptions = {}): Tensor {
    return ox.variance(this, dim, options);
  }
  std(dim?: number | readonly number[] | ox.VarOptions, options: ox.VarOptions = {}): Tensor {
    return ox.std(this, dim, options);
  }
  split(sizes: number | readonly number[], dim = 0): Tensor[] {
    return ox.split(this, sizes, dim);
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return ox.chunk(this, chunks, dim);
  }
  gather(dim: number, index: Tensor): Tensor {
    return ox.gather(this, dim, index);
  }
  indexSelect(dim: number, index: Tensor | ArrayLike<number>): Tensor {
    return ox.indexSelect(this, dim, index);
  }
  /** The matrix transpose (rank <= 2). */
  t(): Tensor {
    return ox.t(this);
  }
  /** All dims reversed. */
  get T(): Tensor {
    return ox.reverseDims(this);
  }
  squeeze(dim?: number): Tensor {
    return ops.squeeze(this, dim);
  }
  unsqueeze(dim: number): Tensor {
    return ops.unsqueeze(this, dim);
  }
  softmax(dim: number): Tensor {
    return ops.exp(this.logSoftmax(dim));
  }
  logSoftmax(dim: number): Tensor {
    const m = noGrad(() => ops.max(this, dim, true));
    const z = ops.sub(this, m);
    return ops.sub(z, ops.log(ops.sum(ops.exp(z), dim, true)));
  }
  sigmoid(): Tensor {
    return ops.sigmoid(this);
  }
  tanh(): Tensor {
    return ops.tanh(this);
  }
  clone(): Tensor {
    return ox.clone(this);
  }
  /** The number of dims (rank). */
  dim(): number {
    return this.rank;
  }
  /** The number of elements. */
  numel(): number {
    return this.size;
  }
  topk(k: number, dim = -1, options: ox.TopkOptions = {}): ox.ValuesIndices {
    return ox.topk(this, k, dim, options);
  }
  sort(dim = -1, options: ox.SortOptions = {}): ox.ValuesIndices {
    return ox.sort(this, dim, options);
  }
  argsort(dim = -1, options: ox.SortOptions = {}): Tensor {
    return ox.argsort(this, dim, options);
  }

  // ---- in-place ops (inplace.ts): values change in the existing storage; the version check guards backward ----
  add_(other: Tensor | number, options: ip.AddOptions = {}): this {
    ip.add_(this, other, options);
    return this;
  }
  sub_(other: Tensor | number): this {
    ip.sub_(this, other);
    return this;
  }
  mul_(other: Tensor | number): this {
    ip.mul_(this, other);
    return this;
  }
  div_(other: Tensor | number): this {
    ip.div_(this, other);
    return this;
  }
  zero_(): this {
    ip.zero_(this);
    return this;
  }
  fill_(value: number): this {
    ip.fill_(this, value);
    return this;
  }
  copy_(src: Tensor): this {
    ip.copy_(this, src);
    return this;
  }
  clamp_(min?: Tensor | number | null, max?: Tensor | number | null): this {
    ip.clamp_(this, min, max);
    return this;
  }
}

/** @internal Wraps a fresh backend storage in a tensor. */
export function fromStorage(backend: Backend, handle: Storage, shape: readonly number[], node: GradNode | null = null, requiresGrad = false): Tensor {
  return new Tensor(makeBuffer(backend, handle), shape, node, requiresGrad);
}

