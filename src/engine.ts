// Engine state shared by every tensor: grad mode, tidy scopes, the memory counters and the debug hooks.
import type { Tensor } from './tensor.js';
import { Tensor as TensorClass } from './tensor.js';
import type { Backend, Storage } from './backend.js';
import { fail } from './errors.js';

/** A backend buffer shared by a tensor and its views (reshape, detach); freed when the last one goes. */
export class Buffer {
  refs = 1;
  constructor(
    readonly backend: Backend,
    readonly handle: Storage,
    readonly bytes: number,
  ) {}
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
}

export const engine: Engine = { scopes: [], noGradDepth: 0, live: 0, buffers: new Set(), nextId: 0, trackCreation: false, tracked: null, onCreate: null };

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
