// Creating tensors: from values, filled, ranges and seeded random draws.
//
// These are the first calls a JavaScript user makes, with no compiler to check them, so every argument is
// checked here at runtime and refused with a GpugradError naming the call and the argument; sizes are checked
// against the backend's limit before any host copy is made.
import { currentBackend, type Backend } from './backend.js';
import { describeValue as describe, fail, fmt } from './errors.js';
import { sizeOf, type Shape } from './shape.js';
import { globalGenerator } from './random.js';
import { fromStorage, Tensor } from './tensor.js';

export type NestedArray = number | NestedArray[];
/** Values `tensor()` accepts: numbers, booleans (0/1), BigInts, nested arrays of them and typed arrays. */
export type DataLike = ArrayLike<number> | NestedArray | boolean | bigint | NestedData | BigInt64Array | BigUint64Array;
type NestedData = ReadonlyArray<number | boolean | bigint | NestedData | ArrayLike<number>>;

export interface TensorOptions {
  requiresGrad?: boolean;
}

/**
 * A shape given as one array or as separate sizes, each optionally followed by options, as PyTorch accepts:
 * `zeros([2, 3])`, `zeros(2, 3)`, `zeros([2, 3], { requiresGrad: true })`, `zeros(2, 3, { requiresGrad: true })`.
 */
export type SizeArgs = [shape: readonly number[], options?: TensorOptions] | [...sizes: number[]] | [...sizes: number[], options: TensorOptions];

/** Nesting deeper than this is a cyclic array or a mistake (no backend handles tensors of such rank). */
const MAX_RANK = 64;
/** The longest typed array V8 (Node 20) allocates; a host copy of more values cannot be made at all. */
const HOST_MAX_ELEMENTS = 2 ** 32;

function isPlainOptions(v: unknown): v is TensorOptions {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v) && !(v instanceof Tensor);
}

function checkOptions(op: string, options: unknown): TensorOptions {
  if (options === undefined) return {};
  if (!isPlainOptions(options)) fail(op, `options must be an object like { requiresGrad: true }, got ${describe(options)}`);
  const rg = options.requiresGrad;
  if (rg !== undefined && typeof rg !== 'boolean') fail(op, `options.requiresGrad must be a boolean, got ${describe(rg)}`);
  return options;
}

/** Checks every size of a shape (any array-like of sizes) and returns it as a plain array. */
function checkSizes(op: string, arg: string, shape: unknown): number[] {
  if (!Array.isArray(shape) && !(ArrayBuffer.isView(shape) && !(shape instanceof DataView))) {
    fail(op, `${arg} must be an array of sizes like [2, 3], got ${describe(shape)}`);
  }
  const dims = Array.from(shape as ArrayLike<unknown>);
  dims.forEach((d, i) => {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      const shown = dims.map(shortText).join(',');
      fail(op, `${arg} [${shown}] has ${describe(d)} at index ${i}; sizes must be non-negative integers`);
    }
  });
  return dims as number[];
}

/** A size as the caller wrote it: 2.5, "3", [3], undefined. */
function shortText(x: unknown): string {
  if (typeof x === 'number') return String(x);
  try {
    return JSON.stringify(x) ?? String(x);
  } catch {
    return String(x); // BigInts
  }
}

/** Reads `zeros([2, 3], opts)` and `zeros(2, 3, opts)` alike. */
function sizeArgs(op: string, args: readonly unknown[]): { shape: number[]; options: TensorOptions } {
  let rest = args;
  let options: TensorOptions = {};
  if (rest.length > 0 && isPlainOptions(rest[rest.length - 1])) {
    options = checkOptions(op, rest[rest.length - 1]);
    rest = rest.slice(0, -1);
  }
  if (rest.length === 0) fail(op, `expected a shape, as ${op}([2, 3]) or ${op}(2, 3); got no sizes`);
  if (typeof rest[0] !== 'number') {
    if (rest.length > 1) fail(op, `expected a shape array then an options object, got ${rest.map(describe).join(', ')}`);
    return { shape: checkSizes(op, 'shape', rest[0]), options };
  }
  return { shape: checkSizes(op, 'sizes', rest), options };
}

/**
 * Refuses a tensor of `count` float32 values that the backend could never hold, before anything is allocated
 * or copied on the host (a too-large randn used to make two host copies before the heap said no).
 */
function checkCapacity(op: string, shape: Shape, count: number, b: Backend): void {
  const bytes = count * 4;
  const limit = b.maxBytes;
  if (limit !== undefined && bytes > limit) {
    fail(op, `shape ${fmt(shape)} needs ${bytes} bytes (${human(bytes)}) but the '${b.name}' backend holds at most ${limit} bytes (${human(limit)}); use a smaller shape or batch (gradient accumulation keeps the effective batch), or split the work`);
  }
  if (count > HOST_MAX_ELEMENTS) {
    fail(op, `shape ${fmt(shape)} has ${count} elements, more than the ${HOST_MAX_ELEMENTS} a JavaScript typed array can hold; use a smaller shape`);
  }
}

function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]}`;
}

function bigintValue(op: string, where: string, v: bigint): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) fail(op, `${where} is the BigInt ${v}n, which is beyond ±2^53 and cannot be converted to a number exactly; convert it yourself with Number() if rounding is acceptable`);
  return n;
}

/** One scalar of the data: numbers as they are, booleans as 0/1 (torch gives a bool tensor; we store float32). */
function scalarValue(op: string, where: string, v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'bigint') return bigintValue(op, where, v);
  const hint = typeof v === 'string' ? ' (convert strings with Number() first)' : v instanceof Tensor ? ' (pass await t.data() or use the tensor itself)' : '';
  return fail(op, `${where} is ${describe(v)}; data must be numbers, booleans, BigInts, nested arrays or typed arrays${hint}`);
}

function isTypedArray(v: unknown): v is ArrayLike<number | bigint> {
  return ArrayBuffer.isView(v) && !(v instanceof DataView);
}

/** Copies a typed array's values into `out` at `at`, converting BigInt64/BigUint64 values. */
function copyTyped(op: string, where: string, src: ArrayLike<number | bigint>, out: Float32Array, at: number): void {
  if (src instanceof BigInt64Array || src instanceof BigUint64Array) {
    for (let i = 0; i < src.length; i++) out[at + i] = bigintValue(op, `${where}[${i}]`, src[i]);
  } else out.set(src as ArrayLike<number>, at);
}

/** What a walk over nested data found: its shape, the depth of its numbers once one was seen, their count. */
interface Walk {
  shape: number[];
  leafDepth: number;
  count: number;
}

/**
 * Walks nested data once to find its shape (checking that it is not ragged and that every leaf is a value), so
 * the element count is known, and checked, before the values are copied.
 */
function inferShape(op: string, data: unknown, path: string, depth: number, w: Walk): void {
  if (depth > MAX_RANK) fail(op, `data is nested deeper than ${MAX_RANK} levels at ${path} (a cyclic array?)`);
  const isArr = Array.isArray(data);
  if (!isArr && !isTypedArray(data)) {
    scalarValue(op, path, data);
    if (w.leafDepth < 0) w.leafDepth = depth;
    if (depth !== w.leafDepth || depth !== w.shape.length) fail(op, `ragged nested array: a number at depth ${depth} (${path}), expected depth ${w.shape.length}`);
    w.count++;
    return;
  }
  const arr = data as ArrayLike<unknown>;
  if (depth === w.shape.length && w.leafDepth < 0) w.shape.push(arr.length);
  else if (depth >= w.shape.length || w.shape[depth] !== arr.length) {
    fail(op, `ragged nested array: length ${arr.length} at depth ${depth} (${path}), expected ${depth < w.shape.length ? `length ${w.shape[depth]}` : 'a number'}`);
  }
  if (!isArr) {
    // A typed array is a row of numbers (BigInts are checked while copying).
    if (w.leafDepth < 0) w.leafDepth = depth + 1;
    if (w.leafDepth !== depth + 1 || w.shape.length !== depth + 1) fail(op, `ragged nested array: a typed array at depth ${depth} (${path}), expected numbers at depth ${w.leafDepth}`);
    w.count += arr.length;
    return;
  }
  for (let i = 0; i < arr.length; i++) {
    if (!(i in (arr as object))) fail(op, `${path}[${i}] is an empty slot of a sparse array`);
    inferShape(op, arr[i], `${path}[${i}]`, depth + 1, w);
  }
}

function copyNested(op: string, data: unknown, path: string, out: Float32Array, at: number): number {
  if (isTypedArray(data)) {
    copyTyped(op, path, data, out, at);
    return at + data.length;
  }
  if (!Array.isArray(data)) {
    out[at] = scalarValue(op, path, data);
    return at + 1;
  }
  for (let i = 0; i < data.length; i++) at = copyNested(op, data[i], `${path}[${i}]`, out, at);
  return at;
}

/**
 * Creates a tensor from values. `data` is a number, boolean or BigInt (a 0-d tensor), nested arrays (shape
 * inferred), or a flat array-like or typed array (then `shape` is required unless 1-D). Values are stored as
 * float32: booleans become 0/1; BigInts are converted when they fit a number exactly, else refused.
 * `tensor(data, { requiresGrad: true })` is accepted too, like torch.tensor(data, requires_grad=True).
 */
export function tensor(data: DataLike, shape?: readonly number[], options?: TensorOptions): Tensor;
export function tensor(data: DataLike, options: TensorOptions): Tensor;
export function tensor(data: DataLike, shapeOrOptions?: readonly number[] | TensorOptions, maybeOptions?: TensorOptions): Tensor {
  const op = 'tensor';
  let shapeArg: unknown = shapeOrOptions;
  let optArg: unknown = maybeOptions;
  if (isPlainOptions(shapeOrOptions)) {
    if (maybeOptions !== undefined) fail(op, `expected tensor(data, shape, options) or tensor(data, options), got options followed by ${describe(maybeOptions)}`);
    shapeArg = undefined;
    optArg = shapeOrOptions;
  }
  const options = checkOptions(op, optArg);
  const given = shapeArg === undefined || shapeArg === null ? undefined : checkSizes(op, 'shape', shapeArg);
  const b = currentBackend();

  let inferred: number[];
  let count: number;
  if (Array.isArray(data)) {
    const w: Walk = { shape: [], leafDepth: -1, count: 0 };
    inferShape(op, data, 'data', 0, w);
    inferred = w.shape;
    count = w.count;
  } else if (isTypedArray(data)) {
    inferred = [data.length];
    count = data.length;
  } else if (typeof data === 'object' && data !== null && !(data instanceof Tensor) && Number.isSafeInteger((data as ArrayLike<unknown>).length) && (data as ArrayLike<unknown>).length >= 0) {
    // Another array-like ({ length, 0: …, 1: … }): read as a flat list.
    const arr = Array.from(data as ArrayLike<unknown>);
    return tensor(arr as NestedData, given, options);
  } else if (typeof data === 'number' || typeof data === 'boolean' || typeof data === 'bigint') {
    inferred = [];
    count = 1;
  } else {
    const hint = typeof data === 'string' ? ' (parse strings with Number() first)' : data instanceof Tensor ? ' (use t.detach() or t.toBackend() to copy a tensor)' : '';
    return fail(op, `data must be a number, boolean, BigInt, nested array or typed array, got ${describe(data)}${hint}`);
  }

  const s = given ?? inferred;
  if (sizeOf(s) !== count) fail(op, `${count} values cannot fill shape ${fmt(s)} (${sizeOf(s)} elements)`);
  checkCapacity(op, s, count, b);
  let flat: Float32Array;
  if (data instanceof Float32Array) flat = data.slice();
  else {
    flat = new Float32Array(count);
    if (Array.isArray(data) || isTypedArray(data)) copyNested(op, data, 'data', flat, 0);
    else flat[0] = scalarValue(op, 'data', data);
  }
  return fromStorage(b, b.upload(flat), s, null, options.requiresGrad ?? false);
}

function fillValue(op: string, value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean' || typeof value === 'bigint') return scalarValue(op, 'value', value);
  return fail(op, `value must be a number, got ${describe(value)}`);
}

/** A tensor of `shape` filled with `value` (torch.full). */
export function full(shape: readonly number[], value: number, options?: TensorOptions): Tensor {
  return filled('full', checkSizes('full', 'shape', shape), fillValue('full', value), checkOptions('full', options));
}

function filled(op: string, shape: number[], value: number, options: TensorOptions, b: Backend = currentBackend()): Tensor {
  const n = sizeOf(shape);
  checkCapacity(op, shape, n, b);
  return fromStorage(b, b.fill(n, value), shape, null, options.requiresGrad ?? false);
}

/** Zeros of a shape given as an array or as sizes: `zeros([2, 3])`, `zeros(2, 3)`, with options last. */
export function zeros(...args: SizeArgs): Tensor {
  const { shape, options } = sizeArgs('zeros', args);
  return filled('zeros', shape, 0, options);
}
/** Ones of a shape given as an array or as sizes: `ones([2, 3])`, `ones(2, 3)`, with options last. */
export function ones(...args: SizeArgs): Tensor {
  const { shape, options } = sizeArgs('ones', args);
  return filled('ones', shape, 1, options);
}

function likeShape(op: string, t: unknown): readonly number[] {
  if (!(t instanceof Tensor)) fail(op, `expected a Tensor, got ${describe(t)}`);
  return t.shape;
}
// On t's backend, not the current one: library code (autograd, optimizers) works where its tensors live.
export function zerosLike(t: Tensor, options?: TensorOptions): Tensor {
  return filled('zerosLike', [...likeShape('zerosLike', t)], 0, checkOptions('zerosLike', options), t.backend);
}
export function onesLike(t: Tensor, options?: TensorOptions): Tensor {
  return filled('onesLike', [...likeShape('onesLike', t)], 1, checkOptions('onesLike', options), t.backend);
}

/** Values start, start+step, ... below end (like torch.arange); arange(n) counts 0..n-1. */
export function arange(start: number, end?: number, step = 1, options?: TensorOptions): Tensor {
  for (const [name, v] of [['start', start], ['end', end], ['step', step]] as const) {
    if (v !== undefined && typeof v !== 'number') fail('arange', `${name} must be a number, got ${describe(v)}`);
  }
  if (end === undefined) {
    end = start;
    start = 0;
  }
  if (step === 0 || !Number.isFinite(step)) fail('arange', `step must be a finite non-zero number, got ${step}`);
  if (!Number.isFinite(start) || !Number.isFinite(end)) fail('arange', `start and end must be finite, got ${start} and ${end}`);
  const opts = checkOptions('arange', options);
  const n = Math.max(0, Math.ceil((end - start) / step));
  checkCapacity('arange', [n], n, currentBackend());
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = start + i * step;
  return tensor(d, [n], opts);
}

function drawn(op: string, args: readonly unknown[], draw: () => number): Tensor {
  const { shape, options } = sizeArgs(op, args);
  const b = currentBackend();
  const n = sizeOf(shape);
  checkCapacity(op, shape, n, b);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = draw();
  // Uploaded directly: d is ours, so the copy tensor() makes of a caller's array is not needed.
  return fromStorage(b, b.upload(d), shape, null, options.requiresGrad ?? false);
}

/** Uniform [0,1) values from the seeded global generator (see manualSeed); `rand([2, 3])` or `rand(2, 3)`. */
export function rand(...args: SizeArgs): Tensor {
  return drawn('rand', args, () => globalGenerator.uniform());
}

/** Standard normal values from the seeded global generator; `randn([2, 3])` or `randn(2, 3)`. */
export function randn(...args: SizeArgs): Tensor {
  return drawn('randn', args, () => globalGenerator.normal());
}

export type { Shape };
