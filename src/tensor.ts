// The Tensor: a shape, a reference-counted backend buffer and the autograd node that produced it.
// Engine state (grad mode, scopes, memory counters) lives in engine.ts, the creation functions in creation.ts.
import type { Backend, Storage } from './backend.js';
import { fail, fmt } from './errors.js';
import { sizeOf } from './shape.js';
import type { GradNode } from './autograd.js';
import * as ops from './ops.js';
import { backward as runBackward } from './autograd.js';
import { Buffer, engine } from './engine.js';
import type { NestedArray } from './creation.js';
import { formatTensor } from './print.js';

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
