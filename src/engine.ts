// Engine state shared by every tensor: grad mode, tidy scopes, the memory counters and the debug hooks.
import type { Tensor } from './tensor.js';
import { Tensor as TensorClass } from './tensor.js';
import { backendLabel, type Backend, type Storage } from './backend.js';
import { fail } from './errors.js';
import { watch } from './lifetime.js';

/** A backend buffer shared by a tensor and its views (reshape, detach); freed when the last one goes. */
export class Buffer {
  refs = 1;
  /** Bumped by every in-place write; autograd compares it with the version a node saw (PyTorch's version counter). */
  version = 0;
  /** @internal Set on a placeholder whose values are not computed yet (see Deferred); its handle is then unused. */
  deferred: Deferred | null = null;
  constructor(
    readonly backend: Backend,
    readonly handle: Storage,
    readonly bytes: number,
  ) {}
}

/**
 * @internal A value computed on first read (functional/deferred.ts: an eval-mode convolution whose batch norm,
 * residual add and ReLU may still join its GEMM's epilogue). A tensor holding one has a placeholder Buffer: reading
 * its storage resolves it, and releasing the placeholder unread drops it without computing anything.
 */
export interface Deferred {
  /** Computes the values (once) and returns the buffer holding them, with a reference for the caller, which gives up `placeholder`. */
  resolve(placeholder: Buffer): Buffer;
  /** The placeholder's last reference is gone: free what the value holds. */
  release(): void;
  /** `op` applied to this value (`self`, and `other` for a binary op) folded into the deferred computation, or null to compute normally. */
  absorb(op: string, self: Tensor, other?: Tensor): Tensor | null;
}

export interface Engine {
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
  /** Bytes allocated since finalizers last had a turn (lifetime.ts maybeReclaim). */
  allocatedSinceReclaim: number;
  /** Nesting of backward() walks (autograd.ts); see inGradientRules(). */
  backwardDepth: number;
}

export const engine: Engine = { scopes: [], noGradDepth: 0, live: 0, buffers: new Set(), nextId: 0, trackCreation: false, tracked: null, onCreate: null, allocatedSinceReclaim: 0, backwardDepth: 0 };

export function isGradEnabled(): boolean {
  return engine.noGradDepth === 0;
}

/**
 * True while backward() runs gradient rules, recording off: the ops issued compute gradients, not values a later
 * op branches on (a checkpoint's recompute runs with recording on and is a forward again). A backend may round
 * these differently from the forward (the wasm backend's fused multiply-add GEMMs) without moving a ReLU mask
 * or a max-pool winner.
 */
export function inGradientRules(): boolean {
  return engine.backwardDepth > 0 && engine.noGradDepth > 0;
}

/**
 * Runs `fn` without recording the graph, like torch.no_grad(). `fn` must be synchronous: after an `await` the
 * switch would already be off again and ops would record silently, so a returned Promise is refused (use
 * noGradAsync).
 */
export function noGrad<T>(fn: () => T): T {
  engine.noGradDepth++;
  let result: T;
  try {
    result = fn();
  } finally {
    engine.noGradDepth--;
  }
  if (result instanceof Promise) {
    result.catch(() => undefined); // the caller gets this error instead; don't also report an unhandled rejection
    fail('noGrad', 'the function returned a Promise: ops after its first await would record a graph; use await noGradAsync(async () => ...)');
  }
  return result;
}

/** Runs `fn` with recording on, even inside noGrad (torch.enable_grad); activation checkpointing needs it. */
export function withGrad<T>(fn: () => T): T {
  const depth = engine.noGradDepth;
  engine.noGradDepth = 0;
  try {
    return fn();
  } finally {
    engine.noGradDepth = depth;
  }
}

/**
 * The async form of noGrad: nothing records until the returned Promise settles. Like tidyAsync it is a
 * process-wide switch, so other async work running meanwhile does not record either.
 */
export async function noGradAsync<T>(fn: () => Promise<T>): Promise<T> {
  engine.noGradDepth++;
  try {
    return await fn();
  } finally {
    engine.noGradDepth--;
  }
}

function collect(value: unknown, into: Set<Tensor>, seen: Set<unknown>): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (value instanceof TensorClass) {
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
      else watch(t, t.core); // no scope owns it now: the garbage collector does
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

/** `fn` with each call in its own tidy scope (the same signature, overloads included). */
export function scoped<F extends (...args: never[]) => unknown>(fn: F): F {
  return ((...args: Parameters<F>) => tidy(() => fn(...args))) as F;
}

/** Exempts a tensor from every open tidy scope; it lives until disposed. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of engine.scopes) s.delete(t);
  watch(t, t.core);
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
    const k = backendLabel(b.backend);
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
  return [...engine.tracked].map((t) => ({ id: t.id, shape: t.shape, backend: backendLabel(t.backend), createdAt: t.createdAt ?? '' }));
}

/** @internal Installs the per-op hook used by anomaly mode. */
export function setOpHook(fn: ((t: Tensor, op: string) => void) | null): void {
  engine.onCreate = fn;
}

/** @internal */
export function opHook(): ((t: Tensor, op: string) => void) | null {
  return engine.onCreate;
}

/**
 * Refuses an allocation that cannot fit, saying how much was asked, the limit, what is live and what to do. The
 * heap is left as it was, so the program can go on (with a smaller batch, say).
 */
export function outOfMemory(backend: string, requested: number, limit: number, what: string): never {
  const m = memory();
  const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
  fail(
    backend,
    `out of memory: ${mib(requested)} asked, but ${what} holds at most ${mib(limit)} and ${mib(m.backends[backend]?.bytes ?? m.bytes)} are live in ${m.tensors} tensors. ` +
      'Use a smaller batch, accumulate gradients over several smaller batches (gpugrad train --accumulate N), trade compute for memory with nn.checkpoint(), ' +
      'or free tensors you no longer need (dispose()/tidy(); setLeakTracking(true) and liveTensors() show where live tensors were made)',
  );
}
