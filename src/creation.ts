// Creating tensors: from values, filled, ranges and seeded random draws.
import { currentBackend, type Backend } from './backend.js';
import { fail, fmt } from './errors.js';
import { checkShape, sizeOf, type Shape } from './shape.js';
import { globalGenerator } from './random.js';
import { fromStorage, type Tensor } from './tensor.js';

export type NestedArray = number | NestedArray[];
export type DataLike = ArrayLike<number> | NestedArray;

export interface TensorOptions {
  requiresGrad?: boolean;
}

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
/** Zeros with t's shape, on t's backend (not the current one: library code works where its tensors live). */
export function zerosLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return fillOn(t.backend, t.shape, 0, options);
}
export function onesLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return fillOn(t.backend, t.shape, 1, options);
}
function fillOn(b: Backend, shape: readonly number[], value: number, options: TensorOptions): Tensor {
  return fromStorage(b, b.fill(sizeOf(shape), value), shape, null, options.requiresGrad ?? false);
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
