// The everyday tensor ops a PyTorch user reaches for beyond the primitives (comparisons, selection, statistics,
// joins and splits, index ops, sorting), each composed from the primitives in ops.ts so every backend runs it
// and autograd differentiates it without a rule of its own. Index results are float32 tensors (gpugrad's only
// dtype), exact up to 2^24.
import { backendLabel, currentBackend } from './backend.js';
import { fail, fmt } from './errors.js';
import { broadcastShapes, normAxes, sameShape, sizeOf } from './shape.js';
import * as o from './ops.js';
import { fromStorage, Tensor } from './tensor.js';
import { noGrad, tidy } from './engine.js';

type Operand = Tensor | number;

// ---- plumbing shared with functional-extra.ts ----

/** Refuses option names the op does not know (a misspelt option must never be ignored silently). */
export function checkOptions(op: string, options: unknown, allowed: readonly string[]): void {
  if (options === undefined || options === null) return;
  if (typeof options !== 'object' || Array.isArray(options)) fail(op, `options must be an object, got ${Array.isArray(options) ? 'an array' : typeof options}`);
  for (const k of Object.keys(options as object)) {
    if (!allowed.includes(k)) fail(op, `unknown option '${k}' (known: ${allowed.length ? allowed.join(', ') : 'none'})`);
  }
}

export function checkTensor(op: string, arg: string, t: unknown): asserts t is Tensor {
  if (!(t instanceof Tensor)) fail(op, `argument '${arg}' must be a Tensor, got ${t === null ? 'null' : Array.isArray(t) ? 'an array' : typeof t}`);
}

/** A constant tensor of the given values on `like`'s backend. */
export function constantOf(like: Tensor, values: ArrayLike<number>, shape: readonly number[]): Tensor {
  const be = like.backend;
  return fromStorage(be, be.upload(Float32Array.from(values)), shape);
}

/** 0, 1, …, n−1 placed along `axis` of a rank-`rank` shape of ones (for broadcasting against an axis). */
export function iota(like: Tensor, n: number, axis: number, rank: number): Tensor {
  const shape = Array.from({ length: rank }, (_, i) => (i === axis ? n : 1));
  return constantOf(like, Array.from({ length: n }, (_, i) => i), shape);
}

/** The values of an index tensor or array when they can be read without waiting (for validation), else null. */
export function hostValues(t: Tensor | ArrayLike<number>): ArrayLike<number> | null {
  if (!(t instanceof Tensor)) return t;
  return t.backend.readSync ? t.backend.readSync(t.storage) : null;
}

function checkIndices(op: string, arg: string, values: ArrayLike<number> | null, n: number, dim: number): void {
  if (!values) return;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || v < 0 || v >= n) fail(op, `${arg}[${i}] is ${v}, not an index into dimension ${dim} of size ${n}`);
  }
}

function firstTensor(op: string, ...xs: Operand[]): Tensor {
  const t = xs.find((v): v is Tensor => v instanceof Tensor);
  if (!t) fail(op, 'at least one operand must be a Tensor');
  return t;
}

// ---- comparisons (0/1 masks, no gradient) ----

/** 1 where a < b, else 0. */
export const lt = (a: Operand, b: Operand): Tensor => o.gt(b, a);
/** 1 where a <= b (NaN compares false, as in PyTorch). */
export const le = (a: Operand, b: Operand): Tensor => noGrad(() => o.add(o.gt(b, a), o.eq(a, b)));
/** 1 where a >= b. */
export const ge = (a: Operand, b: Operand): Tensor => noGrad(() => o.add(o.gt(a, b), o.eq(a, b)));
/** 1 where a ≠ b (NaN ≠ NaN, as in PyTorch): the primitive (ops.ts), re-exported beside lt/le/ge. */
export const ne = o.ne;

/**
 * Elementwise a where cond is non-zero, else b (all three broadcast). The two branches are stacked and the gather
 * primitive copies the chosen one, so NaN or ±∞ in the branch not taken cannot leak in (a·c + b·(1−c) would give
 * ∞·0 = NaN); the gradient goes to the branch taken (scatterAdd), as PyTorch's.
 */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  checkTensor('where', 'condition', cond);
  const asT = (name: string, v: Operand): Tensor => {
    if (v instanceof Tensor) return v;
    if (typeof v !== 'number') fail('where', `${name} must be a Tensor or a number, got ${v === null ? 'null' : typeof v}`);
    return o.constant(cond, [], v);
  };
  const ta = asT('input', a);
  const tb = asT('other', b);
  const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, ta.shape), tb.shape);
  const size = sizeOf(shape);
  const flat = (t: Tensor): Tensor => o.reshape(sameShape(t.shape, shape) ? t : o.expand(t, shape), [1, 1, size]);
  // [1, 2, size]: row 0 the 'else' branch, row 1 the 'then' branch; the index (0 or 1) picks per element.
  const both = o.concat([flat(tb), flat(ta)], 1);
  const idx = noGrad(() => flat(ne(cond, 0)));
  return o.reshape(o.gatherPrim(both, idx, { outer: 1, n: 2, k: 1, inner: size }), shape);
}

/** Elementwise maximum; a tie sends half of the gradient to each side (PyTorch's rule). */
export function maximum(a: Operand, b: Operand): Tensor {
  firstTensor('maximum', a, b);
  const w = noGrad(() => o.add(o.gt(a, b), o.mul(o.eq(a, b), 0.5)));
  return o.add(o.mul(a, w), o.mul(b, noGrad(() => o.sub(1, w))));
}

/** Elementwise minimum; ties split the gradient like maximum. */
export function minimum(a: Operand, b: Operand): Tensor {
  firstTensor('minimum', a, b);
  const w = noGrad(() => o.add(o.gt(b, a), o.mul(o.eq(a, b), 0.5)));
  return o.add(o.mul(a, w), o.mul(b, noGrad(() => o.sub(1, w))));
}

/**
 * Clamps into [min, max] (either may be omitted or null; tensors broadcast). The gradient passes where
 * min <= x <= max, bounds included (PyTorch's clamp); min > max gives max everywhere, as in PyTorch.
 */
export function clamp(x: Tensor, min?: Operand | null, max?: Operand | null): Tensor {
  checkTensor('clamp', 'x', x);
  const none = (v: Operand | null | undefined): v is null | undefined => v === undefined || v === null;
  if (none(min) && none(max)) fail('clamp', 'at least one of min and max must be given');
  for (const [name, v] of [['min', min], ['max', max]] as const) {
    if (!none(v) && !(v instanceof Tensor) && (typeof v !== 'number' || Number.isNaN(v))) fail('clamp', `${name} must be a number, a Tensor or null, got ${String(v)}`);
  }
  // Selections (where), so ±∞ and NaN in x behave as in PyTorch; the gradient reaches x where no bound was taken.
  let y = x;
  if (!none(min) && min !== -Infinity) y = where(lt(y, min), min, y);
  if (!none(max) && max !== Infinity) y = where(o.gt(y, max), max, y);
  return y === x ? o.reshape(x, x.shape) : y;
}

// ---- reductions and statistics ----

/** Minimum over axes (all by default); tied minima share the gradient equally (torch.amin's rule). */
export function min(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  checkTensor('min', 'x', x);
  return o.neg(o.max(o.neg(x), axes, keepdim));
}
export const amax = o.max;
export const amin = min;

function argExtreme(op: 'argmax' | 'argmin', x: Tensor, dim: number | undefined, keepdim: boolean): Tensor {
  checkTensor(op, 'x', x);
  if (dim !== undefined && (typeof dim !== 'number' || !Number.isInteger(dim))) fail(op, `dim must be an integer or undefined, got ${JSON.stringify(dim)}`);
  return noGrad(() => {
    // Without a dim: the index into the flattened tensor (PyTorch), shaped [] (or all ones with keepdim).
    const src = dim === undefined ? o.reshape(x, [x.size]) : x;
    const [d] = dim === undefined ? [0] : normAxes(op, dim, Math.max(x.rank, 1));
    const s = src.rank === 0 ? o.reshape(src, [1]) : src;
    const n = s.shape[d];
    if (n === 0) fail(op, `cannot take ${op} over an empty dimension (shape ${fmt(x.shape)})`);
    const v = op === 'argmax' ? s : o.neg(s);
    const hit = o.eq(v, o.max(v, d, true));
    // The first hit (PyTorch returns the first index of tied extremes): the largest n − index among the hits.
    const score = o.mul(hit, o.sub(n, iota(s, n, d, s.rank)));
    const idx = o.sub(n, o.max(score, d, true));
    if (dim === undefined) return o.reshape(idx, keepdim ? x.shape.map(() => 1) : []);
    return keepdim || x.rank === 0 ? o.reshape(idx, x.rank === 0 ? [] : idx.shape) : o.squeeze(idx, d);
  });
}

/** Index of the (first) maximum along dim, or into the flattened tensor without one. */
export const argmax = (x: Tensor, dim?: number, keepdim = false): Tensor => argExtreme('argmax', x, dim, keepdim);
/** Index of the (first) minimum along dim, or into the flattened tensor without one. */
export const argmin = (x: Tensor, dim?: number, keepdim = false): Tensor => argExtreme('argmin', x, dim, keepdim);

export interface VarOptions {
  /** Subtracted from the count in the divisor: 1 (default) is Bessel's unbiased estimate, 0 the biased one. */
  correction?: number;
  keepdim?: boolean;
}

/** Variance over dims (all by default): Σ(x − mean)² / (N − correction). `variance(x, { correction: 0 })` works too. */
export function variance(x: Tensor, dim?: number | readonly number[] | VarOptions, options: VarOptions = {}): Tensor {
  return varImpl('var', x, dim, options);
}

function varImpl(op: string, x: Tensor, dim: number | readonly number[] | VarOptions | undefined, options: VarOptions): Tensor {
  checkTensor(op, 'x', x);
  if (dim !== undefined && typeof dim === 'object' && !Array.isArray(dim)) {
    options = dim as VarOptions;
    dim = undefined;
  }
  checkOptions(op, options, ['correction', 'keepdim']);
  const correction = options.correction ?? 1;
  if (typeof correction !== 'number' || !Number.isFinite(correction) || correction < 0) fail(op, `correction must be a non-negative number, got ${correction}`);
  const ax = normAxes(op, dim as number | readonly number[] | undefined, x.rank);
  const n = ax.reduce((k, a) => k * x.shape[a], 1);
  const d = o.sub(x, o.mean(x, ax, true));
  return o.div(o.sum(o.mul(d, d), ax, options.keepdim ?? false), Math.max(0, n - correction));
}

/**
 * Standard deviation: √variance with the same options. Where the variance is 0 the gradient is 0, as PyTorch's
 * (√ has an infinite slope there): the root is taken of v + 1 and 1 taken off again.
 */
export function std(x: Tensor, dim?: number | readonly number[] | VarOptions, options: VarOptions = {}): Tensor {
  const v = varImpl('std', x, dim, options);
  const zero = noGrad(() => o.eq(v, 0));
  return o.sub(o.sqrt(o.add(v, zero)), zero);
}

// ---- joins and splits ----

/** Stacks same-shaped tensors along a new dim. */
export function stack(xs: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(xs) || xs.length === 0) fail('stack', 'expected a non-empty array of tensors');
  xs.forEach((t, i) => {
    checkTensor('stack', `tensors[${i}]`, t);
    if (!sameShape(t.shape, xs[0].shape)) fail('stack', `tensors[${i}] has shape ${fmt(t.shape)} but tensors[0] has ${fmt(xs[0].shape)}: all must match`);
  });
  const [d] = normAxes('stack', dim, xs[0].rank + 1);
  return o.concat(xs.map((t) => o.unsqueeze(t, d)), d);
}

/** PyTorch's name for concat. */
export const cat = o.concat;

/** Splits along dim into pieces of `size` (the last may be smaller) or of the listed sizes. */
export function split(x: Tensor, sizes: number | readonly number[], dim = 0): Tensor[] {
  checkTensor('split', 'x', x);
  if (x.rank === 0) fail('split', 'cannot split a zero-dimensional tensor');
  const [d] = normAxes('split', dim, x.rank);
  const n = x.shape[d];
  let parts: number[];
  if (typeof sizes === 'number') {
    if (!Number.isInteger(sizes) || sizes <= 0) fail('split', `split size must be a positive integer, got ${sizes}`);
    parts = [];
    for (let at = 0; at < n; at += sizes) parts.push(Math.min(sizes, n - at));
    if (n === 0) parts.push(0);
  } else {
    parts = [...sizes];
    if (parts.some((s) => !Number.isInteger(s) || s < 0) || parts.reduce((a, b) => a + b, 0) !== n) {
      fail('split', `sizes ${JSON.stringify(sizes)} must be non-negative integers summing to ${n}, the size of dim ${d} of ${fmt(x.shape)}`);
    }
  }
  let at = 0;
  return parts.map((len) => {
    const piece = o.slice(x, d, at, len);
    at += len;
    return piece;
  });
}

/** Splits into `chunks` pieces of ⌈n/chunks⌉ along dim (fewer when n is small, as in PyTorch). */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  checkTensor('chunk', 'x', x);
  if (!Number.isInteger(chunks) || chunks <= 0) fail('chunk', `chunks must be a positive integer, got ${chunks}`);
  if (x.rank === 0) fail('chunk', 'cannot chunk a zero-dimensional tensor');
  const [d] = normAxes('chunk', dim, x.rank);
  return split(x, Math.max(1, Math.ceil(x.shape[d] / chunks)), d);
}

// ---- index ops ----

/** x[..., index[...], ...] along dim: out[i][j][k] = x[i][index[i][j][k]][k] for dim 1, as torch.gather. */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  checkTensor('gather', 'x', x);
  checkTensor('gather', 'index', index);
  if (x.rank === 0) fail('gather', 'x must have at least one dimension');
  const [d] = normAxes('gather', dim, x.rank);
  if (index.rank !== x.rank) fail('gather', `index ${fmt(index.shape)} must have the rank of x ${fmt(x.shape)}`);
  index.shape.forEach((s, a) => {
    if (a !== d && s > x.shape[a]) fail('gather', `index ${fmt(index.shape)} is larger than x ${fmt(x.shape)} in dim ${a} (only dim ${d} may differ)`);
  });
  const n = x.shape[d];
  checkIndices('gather', 'index', hostValues(index), n, d);
  let xs = x;
  index.shape.forEach((s, a) => {
    if (a !== d && s < x.shape[a]) xs = o.slice(xs, a, 0, s);
  });
  const g = { outer: sizeOf(index.shape.slice(0, d)), n, k: index.shape[d], inner: sizeOf(index.shape.slice(d + 1)) };
  const y = o.gatherPrim(o.reshape(xs, [g.outer, n, g.inner]), o.reshape(index, [g.outer, g.k, g.inner]), g);
  return o.reshape(y, index.shape);
}

/** The entries of x at the given indices along dim (a 1-D tensor or an array of integers), as torch.index_select. */
export function indexSelect(x: Tensor, dim: number, index: Tensor | ArrayLike<number>): Tensor {
  checkTensor('indexSelect', 'x', x);
  const [d] = normAxes('indexSelect', dim, Math.max(x.rank, 1));
  const xx = x.rank === 0 ? o.reshape(x, [1]) : x;
  const n = xx.shape[d];
  let idx: Tensor;
  if (index instanceof Tensor) {
    if (index.rank > 1) fail('indexSelect', `index must be 1-D, got ${fmt(index.shape)}`);
    idx = o.reshape(index, [index.size]);
  } else {
    if (index === null || typeof index !== 'object' || typeof index.length !== 'number') fail('indexSelect', 'index must be a Tensor or an array of integers');
    idx = constantOf(x, index, [index.length]);
  }
  checkIndices('indexSelect', 'index', hostValues(index), n, d);
  const k = idx.size;
  const g = { outer: sizeOf(xx.shape.slice(0, d)), n, k, inner: sizeOf(xx.shape.slice(d + 1)) };
  // The index repeated over the outer and inner positions: the gather primitive reads one entry per output.
  const full = noGrad(() => (g.outer * g.inner === 1 ? o.reshape(idx, [1, k, 1]) : o.expand(o.reshape(idx, [1, k, 1]), [g.outer, k, g.inner])));
  const y = o.gatherPrim(o.reshape(xx, [g.outer, n, g.inner]), full, g);
  return o.reshape(y, xx.shape.map((s, a) => (a === d ? k : s)));
}

/** One-hot rows: labels [...] → [..., numClasses] of 0/1 (numClasses −1: max label + 1, read from the labels). */
export function oneHot(labels: Tensor | ArrayLike<number>, numClasses = -1): Tensor {
  const vals = hostValues(labels);
  let t: Tensor;
  if (labels instanceof Tensor) t = labels;
  else {
    if (labels === null || typeof labels !== 'object' || typeof labels.length !== 'number') fail('oneHot', 'labels must be a Tensor or an array of integers');
    const be = currentBackend();
    t = fromStorage(be, be.upload(Float32Array.from(labels)), [labels.length]);
  }
  if (numClasses === -1) {
    if (!vals) fail('oneHot', `numClasses must be given on backend '${backendLabel(t.backend)}' (its values cannot be read synchronously)`);
    numClasses = vals.length ? Math.max(...Array.from(vals)) + 1 : 0;
  }
  if (!Number.isInteger(numClasses) || numClasses < 0) fail('oneHot', `numClasses must be a non-negative integer or -1, got ${numClasses}`);
  checkIndices('oneHot', 'labels', vals, numClasses, t.rank);
  return noGrad(() => o.eq(o.unsqueeze(t, t.rank), iota(t, numClasses, t.rank, t.rank + 1)));
}

// ---- layout ----

/** The transpose of a matrix; tensors of rank < 2 come back as they are (a view), as torch.t. */
export function t(x: Tensor): Tensor {
  checkTensor('t', 'x', x);
  if (x.rank > 2) fail('t', `expects a tensor of at most 2 dimensions, got ${fmt(x.shape)}; use transpose(d0, d1) or permute`);
  return x.rank < 2 ? o.reshape(x, x.shape) : o.transpose(x, 0, 1);
}

/** All dims reversed (PyTorch's .T). */
export function reverseDims(x: Tensor): Tensor {
  checkTensor('T', 'x', x);
  return o.permute(x, x.shape.map((_, i) => x.rank - 1 - i));
}

/** A copy with its own storage; gradients flow through it. */
export function clone(x: Tensor): Tensor {
  checkTensor('clone', 'x', x);
  return o.mul(x, 1);
}

// ---- sorting ----

/** Values and indices (index values as float32), usable as `{ values, indices }` or as `[values, indices]`. */
export type ValuesIndices = [Tensor, Tensor] & { values: Tensor; indices: Tensor };

function pair(values: Tensor, indices: Tensor): ValuesIndices {
  return Object.assign([values, indices] as [Tensor, Tensor], { values, indices });
}

/**
 * The first k of x sorted along dim: a [.., k, n] one-hot of the chosen positions gives their indices (its product
 * with 0..n−1), and the gather primitive the values (its adjoint, scatterAdd, their gradient). Ties keep their order (stable), like PyTorch's stable sort.
 * Small k on long rows (topk's usual case) picks the extreme k times, O(k·n) per row; otherwise each element's rank counts the
 * elements before it, O(n²) per row. The one-hot keeps n innermost so every pass runs over contiguous rows, and
 * the selection's intermediates are freed at once (they carry no graph).
 */
function rankSelect(op: string, x: Tensor, k: number, dim: number, descending: boolean): ValuesIndices {
  const [d] = normAxes(op, dim, Math.max(x.rank, 1));
  const xx = x.rank === 0 ? o.reshape(x, [1]) : x;
  const n = xx.shape[d];
  const last = xx.rank - 1;
  const xt = d === last ? xx : o.transpose(xx, d, last);
  const r = xt.rank;
  // The positions from the one-hot (its sums with 0..n−1 are exact), then the values copied by the gather
  // primitive: no product with x, so NaN or ±∞ elsewhere in a row cannot leak into the chosen values.
  let indices = noGrad(() =>
    tidy(() => {
      const hot = k <= SMALL_K && n > 64 ? pickRepeatedly(xt, n, k, descending) : byRank(xt, n, k, descending);
      return o.sum(o.mul(hot, iota(x, n, r, r + 1)), -1);
    }),
  );
  const outer = sizeOf(xt.shape.slice(0, -1));
  let values = o.reshape(o.gatherPrim(o.reshape(xt, [outer, n, 1]), o.reshape(indices, [outer, k, 1]), { outer, n, k, inner: 1 }), indices.shape);
  if (d !== last) {
    values = o.transpose(values, d, last);
    indices = o.transpose(indices, d, last);
  }
  if (x.rank === 0) return pair(o.reshape(values, []), o.reshape(indices, []));
  return pair(values, indices);
}

/**
 * Up to this k, on rows longer than 64, topk/sort select by repeated extremes (about 12 passes per pick) rather than
 * by ranks (an n×n comparison, cheaper for short rows). Measured on wasm: topk(5) of [32, 1000] 26 ms.
 */
const SMALL_K = 16;

/** [.., k, n]: the j-th pick is the first position holding the extreme of what is not yet taken. */
function pickRepeatedly(xt: Tensor, n: number, k: number, descending: boolean): Tensor {
  const r = xt.rank;
  const v = descending ? xt : o.neg(xt);
  const pos = iota(xt, n, r - 1, r);
  const firstScore = o.sub(n, pos); // n − index: the largest score is the first position
  let taken = o.constant(xt, xt.shape, 0);
  const picks: Tensor[] = [];
  for (let j = 0; j < k; j++) {
    // Taken entries drop to −∞ (log 0), so the next maximum is among the rest.
    const free = o.sub(1, taken);
    const cur = o.add(v, o.log(free));
    const hit = o.mul(o.eq(cur, o.max(cur, -1, true)), free);
    const first = o.sub(n, o.max(o.mul(hit, firstScore), -1, true));
    const pick = o.eq(pos, first);
    picks.push(o.unsqueeze(pick, -2));
    taken = o.add(taken, pick);
  }
  return o.concat(picks, r - 1);
}

/** [.., k, n]: position i is the r-th when r elements come before it (strictly, or equal and earlier). */
function byRank(xt: Tensor, n: number, k: number, descending: boolean): Tensor {
  const r = xt.rank;
  const A = o.unsqueeze(xt, -1); // i along the second-last axis
  const B = o.unsqueeze(xt, -2); // j along the last
  const tri = constantOf(xt, Array.from({ length: n * n }, (_, f) => (f % n < Math.floor(f / n) ? 1 : 0)), [n, n]);
  const before = descending ? o.gt(B, A) : o.gt(A, B);
  // Summed over the contiguous last axis: [.., n, 1], which is already [.., 1, n] in memory.
  const rank = o.reshape(o.sum(o.add(before, o.mul(o.eq(A, B), tri)), -1, true), [...xt.shape.slice(0, -1), 1, n]);
  return o.eq(rank, iota(xt, k, r - 1, r + 1));
}

export interface SortOptions {
  descending?: boolean;
  /** Accepted for PyTorch code; gpugrad's sort is always stable. */
  stable?: boolean;
}

/** Sorted values and their indices along dim (−1 by default); ties keep their order. */
export function sort(x: Tensor, dim = -1, options: SortOptions = {}): ValuesIndices {
  checkTensor('sort', 'x', x);
  checkOptions('sort', options, ['descending', 'stable']);
  const d = x.rank === 0 ? 0 : normAxes('sort', dim, x.rank)[0];
  return rankSelect('sort', x, x.rank === 0 ? 1 : x.shape[d], dim, options.descending ?? false);
}

/** The indices that sort x along dim. */
export function argsort(x: Tensor, dim = -1, options: SortOptions = {}): Tensor {
  checkOptions('argsort', options, ['descending', 'stable']);
  const r = sort(x, dim, options);
  return r.indices;
}

export interface TopkOptions {
  /** The k largest (default) or smallest. */
  largest?: boolean;
  /** Accepted for PyTorch code; results are always sorted. */
  sorted?: boolean;
}

/** The k largest (or smallest) values along dim and their indices, sorted; ties keep their order. */
export function topk(x: Tensor, k: number, dim = -1, options: TopkOptions = {}): ValuesIndices {
  checkTensor('topk', 'x', x);
  checkOptions('topk', options, ['largest', 'sorted']);
  const n = x.rank === 0 ? 1 : x.shape[normAxes('topk', dim, x.rank)[0]];
  if (!Number.isInteger(k) || k < 0 || k > n) fail('topk', `k must be an integer in [0, ${n}] for dim ${dim} of ${fmt(x.shape)}, got ${k}`);
  return rankSelect('topk', x, k, dim, options.largest ?? true);
}
