// The op layer: each primitive validates its arguments, dispatches one backend kernel and records its
// autograd node; the remaining tensor ops are compositions of those primitives.
import { backendLabel, type AvgPoolGeometry, type Backend, type BinaryOp, type GatherGeometry, type Storage, type UnaryOp, type WindowGeometry } from './backend.js';
import { fail, fmt } from './errors.js';
import { broadcastShapes, checkShape, normAxes, sameShape, sizeOf, type Shape } from './shape.js';
import { fromStorage, Tensor } from './tensor.js';
import { isGradEnabled, keep, opHook } from './engine.js';
import { inBackward, type GradNode, type Prim, type PrimAttrs } from './autograd.js';
import { primHook, runAs } from './opscope.js';

// ---- plumbing ----

function backendOf(op: string, ts: readonly Tensor[]): Backend {
  const b = ts[0].backend;
  for (const t of ts) {
    if (t.isDisposed && !inBackward()) fail(op, `an input tensor ${fmt(t.shape)} was used after dispose()`);
    if (t.backend !== b) {
      fail(op, `inputs live on different backends ('${backendLabel(b)}' and '${backendLabel(t.backend)}'); move one with toBackend()`);
    }
  }
  return b;
}

/** Wraps a kernel's output and records the node when any input needs a gradient. */
function record<P extends Prim>(op: P, inputs: Tensor[], attrs: PrimAttrs[P], handle: Storage, shape: Shape, saved: Tensor[] = []): Tensor {
  const b = inputs[0].backend;
  const needs = isGradEnabled() && op !== 'eq' && op !== 'ne' && op !== 'gt' && inputs.some((t) => t.requiresGrad);
  const node: GradNode<P> | null = needs ? { op, inputs, attrs, saved, freed: false, versions: [] } : null;
  // Saved tensors belong to the node (freed with it), not to the scope they were made in.
  if (node) for (const t of saved) keep(t);
  const out = fromStorage(b, handle, shape, node as GradNode | null, needs);
  const hook = opHook();
  if (hook) hook(out, op);
  const check = primHook();
  if (check) check(op, inputs, out);
  return out;
}

function asTensor(op: string, v: Tensor | number, like: Tensor): Tensor {
  if (v instanceof Tensor) return v;
  if (typeof v !== 'number') fail(op, `expected a Tensor or a number, got ${typeof v}`);
  const b = like.backend;
  return fromStorage(b, b.fill(1, v), []);
}

/** A constant tensor of `shape` on `like`'s backend (no gradient). */
export function constant(like: Tensor, shape: Shape, value: number): Tensor {
  return fromStorage(like.backend, like.backend.fill(sizeOf(shape), value), shape);
}

function checkTensor(op: string, arg: string, t: unknown): asserts t is Tensor {
  if (!(t instanceof Tensor)) fail(op, `argument '${arg}' must be a Tensor, got ${t === null ? 'null' : typeof t}`);
}

// ---- elementwise primitives ----

function binary(op: BinaryOp & Prim, a: Tensor | number, b: Tensor | number): Tensor {
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) fail(op, 'at least one operand must be a Tensor');
  const like = a instanceof Tensor ? a : (b as Tensor);
  const ta = asTensor(op, a, like);
  const tb = asTensor(op, b, like);
  const be = backendOf(op, [ta, tb]);
  // A deferred convolution output may take the op into its GEMM's epilogue (engine.ts Deferred).
  const fused = ta.core.buf?.deferred?.absorb(op, ta, tb) ?? tb.core.buf?.deferred?.absorb(op, tb, ta);
  if (fused) return fused;
  const out = broadcastShapes(op, ta.shape, tb.shape);
  return record(op, [ta, tb], null, be.binary(op, ta.storage, ta.shape, tb.storage, tb.shape, out), out);
}

export const add = (a: Tensor | number, b: Tensor | number): Tensor => binary('add', a, b);
export const sub = (a: Tensor | number, b: Tensor | number): Tensor => binary('sub', a, b);
export const mul = (a: Tensor | number, b: Tensor | number): Tensor => binary('mul', a, b);
export const div = (a: Tensor | number, b: Tensor | number): Tensor => binary('div', a, b);
/** 1 where a == b, else 0 (no gradient). */
export const eq = (a: Tensor | number, b: Tensor | number): Tensor => binary('eq', a, b);
/** 1 where a > b, else 0 (no gradient). */
export const gt = (a: Tensor | number, b: Tensor | number): Tensor => binary('gt', a, b);
/** 1 where a != b (NaN included), else 0 (no gradient). */
export const ne = (a: Tensor | number, b: Tensor | number): Tensor => binary('ne', a, b);

function unary(op: UnaryOp & Prim, x: Tensor, param = 0, attrs: PrimAttrs[typeof op] = null as never): Tensor {
  checkTensor(op, 'x', x);
  const be = backendOf(op, [x]);
  const fused = x.core.buf?.deferred?.absorb(op, x);
  if (fused) return fused;
  return record(op, [x], attrs, be.unary(op, x.storage, param), x.shape);
}

export const neg = (x: Tensor): Tensor => unary('neg', x);
export const exp = (x: Tensor): Tensor => unary('exp', x);
export const log = (x: Tensor): Tensor => unary('log', x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
export const abs = (x: Tensor): Tensor => unary('abs', x);
export const relu = (x: Tensor): Tensor => unary('relu', x);
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
export const erf = (x: Tensor): Tensor => unary('erf', x);
export function pow(x: Tensor, p: number): Tensor {
  if (typeof p !== 'number' || !Number.isFinite(p)) fail('pow', `exponent must be a finite number, got ${p}`);
  return unary('pow', x, p, { p });
}

// ---- reductions ----

function reduce(op: 'sum' | 'max', x: Tensor, axes: number | readonly number[] | undefined, keepdim: boolean): Tensor {
  checkTensor(op, 'x', x);
  const be = backendOf(op, [x]);
  const ax = normAxes(op, axes, x.rank);
  if (op === 'max') {
    for (const a of ax) if (x.shape[a] === 0) fail('max', `cannot reduce over axis ${a} of size 0 (shape ${fmt(x.shape)})`);
  }
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const y = record(op, [x], { axes: ax }, be.reduce(op, x.storage, x.shape, ax), kept);
  return keepdim ? y : reshape(y, x.shape.filter((_, i) => !ax.includes(i)));
}

export const sum = (x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor => reduce('sum', x, axes, keepdim);
export const max = (x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor => reduce('max', x, axes, keepdim);
export function mean(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  checkTensor('mean', 'x', x);
  const ax = normAxes('mean', axes, x.rank);
  const count = ax.reduce((n, a) => n * x.shape[a], 1);
  return runAs('mean', ['input'], [x], () => div(sum(x, ax, keepdim), count));
}

// ---- movement ----

/** Broadcasts x to `shape` (materialised). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('expand', 'x', x);
  const out = broadcastShapes('expand', x.shape, shape);
  if (!sameShape(out, shape)) fail('expand', `shape ${fmt(x.shape)} cannot be expanded to ${fmt(shape)}`);
  if (sameShape(x.shape, shape)) return reshape(x, shape);
  const be = backendOf('expand', [x]);
  return record('expand', [x], null, be.binary('add', x.storage, x.shape, zeroOf(be), [], shape), shape);
}

const zeros = new WeakMap<Backend, Storage>();
function zeroOf(b: Backend): Storage {
  let z = zeros.get(b);
  if (!z) {
    z = b.fill(1, 0);
    zeros.set(b, z);
  }
  return z;
}

/** Sums a broadcast gradient back to `shape` (the adjoint of broadcasting). */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = axes.length ? sum(g, axes, true) : g;
  return reshape(s, shape);
}

/** A view with a new shape of the same size; one dimension may be -1 (inferred). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('reshape', 'x', x);
  const s = [...shape];
  const neg = s.filter((d) => d === -1).length;
  if (neg > 1) fail('reshape', `only one dimension can be -1, got ${fmt(shape)}`);
  if (neg === 1) {
    const known = s.reduce((n, d) => (d === -1 ? n : n * d), 1);
    const i = s.indexOf(-1);
    if (known === 0 || x.size % known !== 0) fail('reshape', `shape ${fmt(shape)} is invalid for input ${fmt(x.shape)} of size ${x.size}`);
    s[i] = x.size / known;
  }
  checkShape('reshape', 'shape', s);
  if (sizeOf(s) !== x.size) fail('reshape', `shape ${fmt(shape)} (${sizeOf(s)} elements) is invalid for input ${fmt(x.shape)} of size ${x.size}`);
  if (sameShape(s, x.shape) && !x.requiresGrad) return x.shareAs(s, null, false);
  const needs = isGradEnabled() && x.requiresGrad;
  return x.shareAs(s, needs ? ({ op: 'reshape', inputs: [x], attrs: null, saved: [], freed: false, versions: [] } as GradNode) : null, needs);
}
export const view = reshape;

export function permute(x: Tensor, perm: readonly number[]): Tensor {
  checkTensor('permute', 'x', x);
  if (perm.length !== x.rank) fail('permute', `permutation ${fmt(perm)} has ${perm.length} entries for a tensor of rank ${x.rank} ${fmt(x.shape)}`);
  const p = perm.map((d) => (d < 0 ? d + x.rank : d));
  const seen = new Set(p);
  if (seen.size !== p.length || p.some((d) => !Number.isInteger(d) || d < 0 || d >= x.rank)) {
    fail('permute', `${fmt(perm)} is not a permutation of 0..${x.rank - 1}`);
  }
  const outShape = p.map((d) => x.shape[d]);
  // Moving only size-1 dimensions keeps the memory order: a view suffices.
  const moved = p.filter((d) => x.shape[d] !== 1);
  if (moved.every((d, i) => i === 0 || d > moved[i - 1])) return reshape(x, outShape);
  const be = backendOf('permute', [x]);
  return record('permute', [x], { perm: p }, be.permute(x.storage, x.shape, p), outShape);
}

export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  checkTensor('transpose', 'x', x);
  if (x.rank < 2 && dim0 === -2 && dim1 === -1) return reshape(x, x.shape);
  // Normalised one at a time: transpose(d, d) (also d and d - rank) is the identity, as in PyTorch.
  const [a] = normAxes('transpose', dim0, x.rank);
  const [b] = normAxes('transpose', dim1, x.rank);
  if (a === b) return reshape(x, x.shape);
  const p = x.shape.map((_, i) => i);
  p[a] = b;
  p[b] = a;
  return permute(x, p);
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  checkTensor('flatten', 'x', x);
  if (x.rank === 0) return reshape(x, [1]);
  const [s] = normAxes('flatten', startDim, x.rank);
  const [e] = normAxes('flatten', endDim, x.rank);
  if (s > e) fail('flatten', `startDim ${startDim} comes after endDim ${endDim} for shape ${fmt(x.shape)}`);
  const mid = x.shape.slice(s, e + 1).reduce((n, d) => n * d, 1);
  return reshape(x, [...x.shape.slice(0, s), mid, ...x.shape.slice(e + 1)]);
}

export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const [a] = normAxes('squeeze', axis, x.rank);
  // A no-op squeeze still returns a new handle (a view), so disposing it cannot dispose x.
  return reshape(x, x.shape[a] === 1 ? x.shape.filter((_, i) => i !== a) : x.shape);
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const [a] = normAxes('unsqueeze', axis, x.rank + 1);
  const s = [...x.shape];
  s.splice(a, 0, 1);
  return reshape(x, s);
}

/** `length` entries of `axis` from `start` (torch's narrow). */
export function slice(x: Tensor, axis: number, start: number, length: number): Tensor {
  checkTensor('slice', 'x', x);
  // normAxes lets axis 0 through at rank 0 (for reductions); a 0-d tensor has no axis to slice.
  if (x.rank === 0) fail('slice', 'x is zero-dimensional (shape []): there is no axis to slice; reshape to [1] first');
  const [a] = normAxes('slice', axis, x.rank);
  const d = x.shape[a];
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > d) {
    fail('slice', `range start ${start}, length ${length} does not fit axis ${a} of size ${d} (shape ${fmt(x.shape)})`);
  }
  if (start === 0 && length === d) return reshape(x, x.shape);
  const be = backendOf('slice', [x]);
  const out = x.shape.map((v, i) => (i === a ? length : v));
  return record('slice', [x], { axis: a, start, length }, be.slice(x.storage, x.shape, a, start, length), out);
}

/** Joins tensors along `axis`; every other dimension must match. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (!(xs instanceof Array) || xs.length === 0) fail('concat', 'expected a non-empty array of tensors');
  xs.forEach((t, i) => checkTensor('concat', `tensors[${i}]`, t));
  const be = backendOf('concat', xs);
  const r = xs[0].rank;
  // As PyTorch: a 0-d tensor has no axis to join along (normAxes lets axis 0 through for reductions).
  if (r === 0) fail('concat', `tensors[0] is zero-dimensional (shape []): there is no axis ${axis} to concatenate along; reshape to [1] first`);
  const [a] = normAxes('concat', axis, r);
  xs.forEach((t, i) => {
    if (t.rank !== r || t.shape.some((d, j) => j !== a && d !== xs[0].shape[j])) {
      fail('concat', `tensors[${i}] has shape ${fmt(t.shape)} but tensors[0] has ${fmt(xs[0].shape)}: all dimensions except axis ${a} must match`);
    }
  });
  if (xs.length === 1) return reshape(xs[0], xs[0].shape);
  const out = xs[0].shape.map((d, j) => (j === a ? xs.reduce((n, t) => n + t.shape[a], 0) : d));
  return record('concat', [...xs], { axis: a }, be.concat(xs.map((t) => t.storage), xs.map((t) => t.shape), a), out);
}

/**
 * x viewed as [outer, n, inner] read at an index [outer, k, inner] of positions along n (the primitive under
 * gather, indexSelect, sort/topk values and reflect/replicate padding; callers check the index values).
 */
export function gatherPrim(x: Tensor, index: Tensor, g: GatherGeometry): Tensor {
  const be = backendOf('gather', [x, index]);
  if (x.size !== g.outer * g.n * g.inner || index.size !== g.outer * g.k * g.inner) fail('gather', `internal: geometry ${JSON.stringify(g)} does not fit x ${fmt(x.shape)} and index ${fmt(index.shape)}`);
  return record('gather', [x, index], g, be.gather(x.storage, index.storage, g), [g.outer, g.k, g.inner]);
}

/** The adjoint of gatherPrim: [outer, n, inner] with the sources added at their indices. */
export function scatterAddPrim(src: Tensor, index: Tensor, g: GatherGeometry): Tensor {
  const be = backendOf('scatterAdd', [src, index]);
  if (src.size !== g.outer * g.k * g.inner || index.size !== src.size) fail('scatterAdd', `internal: geometry ${JSON.stringify(g)} does not fit src ${fmt(src.shape)} and index ${fmt(index.shape)}`);
  return record('scatterAdd', [src, index], g, be.scatterAdd(src.storage, index.storage, g), [g.outer, g.n, g.inner]);
}

/** Pads `axis` with `before` zeros in front and `after` behind (the adjoint of slice). */
export function padAxis(x: Tensor, axis: number, before: number, after: number): Tensor {
  const parts: Tensor[] = [];
  const be = x.backend;
  const zerosOf = (n: number): Tensor => {
    const s = x.shape.map((d, i) => (i === axis ? n : d));
    return fromStorage(be, be.fill(sizeOf(s), 0), s);
  };
  if (before > 0) parts.push(zerosOf(before));
  parts.push(x);
  if (after > 0) parts.push(zerosOf(after));
  return concat(parts, axis);
}

// ---- matrix product ----

/**
 * Matrix product with NumPy/PyTorch semantics: 1-D operands are promoted (and the added dimension
 * removed afterwards), batch dimensions broadcast.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  checkTensor('matmul', 'a', a);
  checkTensor('matmul', 'b', b);
  if (a.rank === 0 || b.rank === 0) fail('matmul', `both operands need at least 1 dimension, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  const av = a.rank === 1 ? reshape(a, [1, a.shape[0]]) : a;
  const bv = b.rank === 1 ? reshape(b, [b.shape[0], 1]) : b;
  const c = matmulT(av, bv, false, false, 'matmul');
  if (a.rank === 1 && b.rank === 1) return reshape(c, []);
  if (a.rank === 1) return squeeze(c, -2);
  if (b.rank === 1) return squeeze(c, -1);
  return c;
}

/** op(a)·op(b) over the last two dims, op = transpose where flagged; batch dims broadcast. */
export function matmulT(a: Tensor, b: Tensor, transA: boolean, transB: boolean, opName = 'matmul'): Tensor {
  if (a.rank < 2 || b.rank < 2) fail(opName, `operands must have rank >= 2 here, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  const be = backendOf(opName, [a, b]);
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const [m, ka] = transA ? [ac, ar] : [ar, ac];
  const [kb, n] = transB ? [bc, br] : [br, bc];
  if (ka !== kb) {
    fail(opName, `inner dimensions differ: a ${fmt(a.shape)}${transA ? 'ᵀ' : ''} has ${ka} columns but b ${fmt(b.shape)}${transB ? 'ᵀ' : ''} has ${kb} rows`);
  }
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const outBatch = broadcastShapes(opName, aBatch, bBatch);
  // The kernel broadcasts an operand whose batch dims are a suffix of the output's (index b % batchA).
  const fits = (s: readonly number[]): boolean => {
    const off = outBatch.length - s.length;
    let i = 0;
    while (i < s.length && s[i] === 1 && outBatch[off + i] !== 1) i++;
    return s.slice(i).every((d, j) => d === outBatch[off + i + j]) && s.slice(0, i).every((d) => d === 1);
  };
  const aa = fits(aBatch) ? a : expand(a, [...outBatch, ar, ac]);
  const bb = fits(bBatch) ? b : expand(b, [...outBatch, br, bc]);
  const batch = sizeOf(outBatch);
  const h = be.matmul(aa.storage, bb.storage, {
    batch,
    batchA: sizeOf(aa.shape.slice(0, -2)),
    batchB: sizeOf(bb.shape.slice(0, -2)),
    m,
    k: ka,
    n,
    transA,
    transB,
  });
  return record('matmul', [aa, bb], { transA, transB }, h, [...outBatch, m, n]);
}

/**
 * Not a primitive: act(a·b·scale[i] + shift[i] (+ residual)) for a [m,k], b [k,n], through the backend's fused
 * GEMM epilogue (composed from matmul and elementwise kernels where the backend has none: withDefaults()).
 * Records nothing, so callers use it only where no gradient is wanted.
 */
export function matmulEpilogue(a: Tensor, b: Tensor, scale: Tensor, shift: Tensor, residual: Tensor | null, relu: boolean, opName = 'matmul'): Tensor {
  const ts = residual ? [a, b, scale, shift, residual] : [a, b, scale, shift];
  const be = backendOf(opName, ts);
  const [m, k] = a.shape;
  const n = b.shape[1];
  if (a.rank !== 2 || b.rank !== 2 || b.shape[0] !== k) fail(opName, `expected a [m,k] and b [k,n], got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  if (scale.size !== m || shift.size !== m) fail(opName, `scale ${fmt(scale.shape)} and shift ${fmt(shift.shape)} must hold ${m} values, one per output row`);
  if (residual && !sameShape(residual.shape, [m, n])) fail(opName, `residual ${fmt(residual.shape)} must match the output [${m}, ${n}]`);
  const g = { batch: 1, batchA: 1, batchB: 1, m, k, n, transA: false, transB: false };
  const out = fromStorage(be, be.matmulEpilogue(a.storage, b.storage, g, { scale: scale.storage, shift: shift.storage, residual: residual ? residual.storage : null, relu }), [m, n]);
  const hook = opHook();
  if (hook) hook(out, 'matmulEpilogue');
  const check = primHook();
  if (check) check('matmulEpilogue', ts, out);
  return out;
}

/**
 * Not a primitive: the eval-mode convolution (groups 1) of x with weight [oc, c, kh, kw] and matmulEpilogue's
 * epilogue, as [oc, n·oh·ow], through the backend's convEpilogue (im2col + matmulEpilogue where it has none).
 * Records nothing, so callers use it only where no gradient is wanted.
 */
export function convEpilogue(x: Tensor, weight: Tensor, g: WindowGeometry, scale: Tensor, shift: Tensor, residual: Tensor | null, relu: boolean, opName = 'conv2d'): Tensor {
  const ts = residual ? [x, weight, scale, shift, residual] : [x, weight, scale, shift];
  const be = backendOf(opName, ts);
  const oc = weight.shape[0];
  const cols = g.n * g.oh * g.ow;
  if (x.rank !== 4 || weight.rank !== 4 || weight.shape[1] !== g.c || weight.shape[2] !== g.kh || weight.shape[3] !== g.kw) fail(opName, `input ${fmt(x.shape)} and weight ${fmt(weight.shape)} do not fit the window ${g.kh}×${g.kw} over ${g.c} channels`);
  if (scale.size !== oc || shift.size !== oc) fail(opName, `scale ${fmt(scale.shape)} and shift ${fmt(shift.shape)} must hold ${oc} values, one per output channel`);
  if (residual && !sameShape(residual.shape, [oc, cols])) fail(opName, `residual ${fmt(residual.shape)} must match the output [${oc}, ${cols}]`);
  const out = fromStorage(be, be.convEpilogue(x.storage, weight.storage, g, oc, { scale: scale.storage, shift: shift.storage, residual: residual ? residual.storage : null, relu }), [oc, cols]);
  const hook = opHook();
  if (hook) hook(out, 'convEpilogue');
  const check = primHook();
  if (check) check('convEpilogue', ts, out);
  return out;
}

// ---- windows: im2col/col2im and pooling primitives ----

export function im2col(x: Tensor, g: WindowGeometry): Tensor {
  const be = backendOf('im2col', [x]);
  return record('im2col', [x], g, be.im2col(x.storage, g), [g.c * g.kh * g.kw, g.n * g.oh * g.ow]);
}

export function col2im(cols: Tensor, g: WindowGeometry): Tensor {
  const be = backendOf('col2im', [cols]);
  return record('col2im', [cols], g, be.col2im(cols.storage, g), [g.n, g.c, g.h, g.w]);
}

/**
 * The conv primitive (groups 1): x [n,c,h,w] with weight [oc,c,kh,kw] as [oc, n·oh·ow], by the backend's
 * convForward. Where that made the columns, a recorded node keeps them for the weight's gradient.
 */
export function conv2dPrim(x: Tensor, weight: Tensor, g: WindowGeometry): Tensor {
  const be = backendOf('conv2d', [x, weight]);
  const oc = weight.shape[0];
  const r = be.convForward(x.storage, weight.storage, g, oc);
  const cols = r.cols ? fromStorage(be, r.cols, [g.c * g.kh * g.kw, g.n * g.oh * g.ow]) : null;
  const y = record('conv2d', [x, weight], g, r.out, [oc, g.n * g.oh * g.ow], cols ? [cols] : []);
  if (cols && !y.node) cols.dispose();
  return y;
}

export function maxPool2dPrim(x: Tensor, g: WindowGeometry): Tensor {
  const be = backendOf('maxPool2d', [x]);
  const { out, indices } = be.maxPool2d(x.storage, g);
  const idx = fromStorage(be, indices, [g.n, g.c, g.oh, g.ow]);
  const y = record('maxPool2d', [x], g, out, [g.n, g.c, g.oh, g.ow], [idx]);
  // Without a node nobody needs the indices; with one they live as long as the graph (freed with it).
  if (!y.node) idx.dispose();
  return y;
}

/**
 * Training-mode batch norm of x [n,c,h,w] with weight and bias [c] (the primitive; F.batchNorm2d adds the
 * checks, the running statistics and eval mode). Returns y and the batch mean and biased variance [c].
 */
export function batchNormPrim(x: Tensor, weight: Tensor, bias: Tensor, eps: number): { y: Tensor; mean: Tensor; variance: Tensor } {
  const be = backendOf('batchNorm2d', [x, weight, bias]);
  const r = be.batchNorm(x.storage, x.shape, weight.storage, bias.storage, eps);
  const c = [x.shape[1]];
  const mean = fromStorage(be, r.mean, c);
  const variance = fromStorage(be, r.var, c);
  const y = record('batchNorm', [x, weight, bias], { eps }, r.out, x.shape, [mean, variance]);
  // The caller gets its own handles; the node's saved ones are freed with the graph, or now if there is none.
  const out = { y, mean: mean.detach(), variance: variance.detach() };
  if (!y.node) {
    mean.dispose();
    variance.dispose();
  }
  return out;
}

export function avgPool2dPrim(x: Tensor, g: AvgPoolGeometry): Tensor {
  const be = backendOf('avgPool2d', [x]);
  return record('avgPool2d', [x], g, be.avgPool2d(x.storage, g), [g.n, g.c, g.oh, g.ow]);
}
