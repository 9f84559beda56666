// The wasm backend's host kernels: JS loops over the heap's float view, for work the emitted module does not
// cover: math with no SIMD instruction (exp, log, tanh, erf, pow), short broadcast runs where a wasm call
// costs more than it saves, irregular data movement (gather, scatter, permutes of rank > 3, slice, concat),
// pooling other than the max forward, and a GEMM's copy-out from padded tiles. Every position is a float
// index into `f` (a byte address >>> 2); the backend allocates and passes them (src/backends/wasm.ts).
import type { AvgPoolGeometry, BinaryOp, GatherGeometry, ReduceOp, UnaryOp, WindowGeometry } from '../../src/backend.js';
import { avgPoolWindow, broadcastStrides, sizeOf, stridesOf, type Shape } from '../../src/shape.js';
import { erf32 } from '../../src/special.js';
import { unreachable } from './abi.js';
import type { WasmUnary } from './elementwise.js';

/** The unary ops without a wasm kernel. */
export type HostUnary = Exclude<UnaryOp, WasmUnary>;

/** out[i] = op(x[i]) for i in 0..n (`param`: pow's exponent). */
export function unaryLoop(f: Float32Array, op: HostUnary, x: number, out: number, n: number, param: number): void {
  switch (op) {
    case 'exp': for (let i = 0; i < n; i++) f[out + i] = Math.exp(f[x + i]); return;
    case 'log': for (let i = 0; i < n; i++) f[out + i] = Math.log(f[x + i]); return;
    case 'sigmoid': for (let i = 0; i < n; i++) f[out + i] = 1 / (1 + Math.exp(-f[x + i])); return;
    case 'tanh': for (let i = 0; i < n; i++) f[out + i] = Math.tanh(f[x + i]); return;
    case 'erf': for (let i = 0; i < n; i++) f[out + i] = erf32(f[x + i]); return;
    case 'pow': for (let i = 0; i < n; i++) f[out + i] = Math.pow(f[x + i], param); return;
    default: unreachable(op, 'wasm unary');
  }
}

/** One short broadcast run (too short for a wasm call to pay): out[j] = a[j·ia] op b[j·ib], the op switched outside the loop. */
export function binaryRun(f: Float32Array, op: BinaryOp, o: number, a: number, ia: number, b: number, ib: number, L: number): void {
  switch (op) {
    case 'add': for (let j = 0; j < L; j++) f[o + j] = f[a + j * ia] + f[b + j * ib]; return;
    case 'sub': for (let j = 0; j < L; j++) f[o + j] = f[a + j * ia] - f[b + j * ib]; return;
    case 'mul': for (let j = 0; j < L; j++) f[o + j] = f[a + j * ia] * f[b + j * ib]; return;
    case 'div': for (let j = 0; j < L; j++) f[o + j] = f[a + j * ia] / f[b + j * ib]; return;
    case 'eq': for (let j = 0; j < L; j++) f[o + j] = f[a + j * ia] === f[b + j * ib] ? 1 : 0; return;
    case 'ne': for (let j = 0; j < L; j++) f[o + j] = f[a + j * ia] !== f[b + j * ib] ? 1 : 0; return;
    case 'gt': for (let j = 0; j < L; j++) f[o + j] = f[a + j * ia] > f[b + j * ib] ? 1 : 0; return;
    default: unreachable(op, 'wasm binary');
  }
}

/**
 * A broadcast of a against b into outShape with size-1 dims dropped and neighbours merged where both operands
 * are contiguous (or both broadcast) across the boundary: dims and each operand's strides (0 = broadcast), at
 * least one dim.
 */
export function broadcastPlan(aShape: Shape, bShape: Shape, outShape: Shape): { dims: number[]; sa: number[]; sb: number[] } {
  const sa0 = broadcastStrides(aShape, outShape);
  const sb0 = broadcastStrides(bShape, outShape);
  const dims: number[] = [];
  const sa: number[] = [];
  const sb: number[] = [];
  outShape.forEach((d, i) => {
    if (d === 1) return;
    const l = dims.length - 1;
    if (l >= 0 && sa[l] === sa0[i] * d && sb[l] === sb0[i] * d) {
      dims[l] *= d;
      sa[l] = sa0[i];
      sb[l] = sb0[i];
    } else {
      dims.push(d);
      sa.push(sa0[i]);
      sb.push(sb0[i]);
    }
  });
  if (dims.length === 0) return { dims: [1], sa: [0], sb: [0] };
  return { dims, sa, sb };
}

/** Calls run(outOffset, aOffset, bOffset) for each innermost run of a plan (dims with a's and b's strides), in output order. */
export function eachRun(dims: readonly number[], sa: readonly number[], sb: readonly number[], run: (o: number, oa: number, ob: number) => void): void {
  const r = dims.length;
  const L = dims[r - 1];
  if (r <= 3) {
    // The common case (e.g. [N, C, H·W] against [1, C, 1]): plain nested loops, no odometer.
    const d0 = r === 3 ? dims[0] : 1;
    const d1 = r >= 2 ? dims[r - 2] : 1;
    const [a0, b0] = r === 3 ? [sa[0], sb[0]] : [0, 0];
    const [a1, b1] = r >= 2 ? [sa[r - 2], sb[r - 2]] : [0, 0];
    let o = 0;
    for (let i = 0; i < d0; i++) for (let j = 0; j < d1; j++, o += L) run(o, i * a0 + j * a1, i * b0 + j * b1);
    return;
  }
  // Higher ranks: an odometer over the outer dims.
  let outer = 1;
  for (let d = 0; d < r - 1; d++) outer *= dims[d];
  const idx = new Array<number>(r).fill(0);
  let oa = 0;
  let ob = 0;
  for (let o = 0; o < outer; o++) {
    run(o * L, oa, ob);
    for (let d = r - 2; d >= 0; d--) {
      idx[d]++;
      oa += sa[d];
      ob += sb[d];
      if (idx[d] < dims[d]) break;
      oa -= sa[d] * dims[d];
      ob -= sb[d] * dims[d];
      idx[d] = 0;
    }
  }
}

/**
 * Sum or max of x (shape) over axes into out (outSize floats), accumulated in float64; `sumRun` sums a
 * contiguous run of ≥ 32 floats (the wasm sumrun kernel, given a byte address).
 */
export function reduceLoop(f: Float32Array, op: ReduceOp, x: number, out: number, outSize: number, shape: Shape, axes: readonly number[], sumRun: (ptr: number, n: number) => number): void {
  // Merge neighbouring dims of the same kind: the input becomes alternating kept/reduced blocks.
  const dims: number[] = [];
  const red: boolean[] = [];
  shape.forEach((d, i) => {
    if (d === 1) return;
    const r = axes.includes(i);
    if (dims.length && red[red.length - 1] === r) dims[dims.length - 1] *= d;
    else {
      dims.push(d);
      red.push(r);
    }
  });
  const isSum = op === 'sum';
  const acc = new Float64Array(outSize).fill(isSum ? 0 : -Infinity);
  if (sizeOf(shape) > 0) {
    const n = dims.length;
    const inStr = stridesOf(dims);
    const outStr = new Array<number>(n).fill(0);
    let s = 1;
    for (let i = n - 1; i >= 0; i--) if (!red[i]) {
      outStr[i] = s;
      s *= dims[i];
    }
    const walk = (lvl: number, io: number, oo: number): void => {
      if (lvl === n - 1 || n === 0) {
        const len = n === 0 ? 1 : dims[lvl];
        const os = n === 0 ? 0 : outStr[lvl];
        if (isSum) {
          if (os === 0) {
            if (len >= 32) acc[oo] += sumRun(io * 4, len);
            else {
              let t = 0;
              for (let j = 0; j < len; j++) t += f[io + j];
              acc[oo] += t;
            }
          } else for (let j = 0; j < len; j++) acc[oo + j] += f[io + j];
        } else {
          for (let j = 0; j < len; j++) {
            const v = f[io + j];
            const k = oo + j * os;
            if (v > acc[k] || (Number.isNaN(v) && !Number.isNaN(acc[k]))) acc[k] = v;
          }
        }
        return;
      }
      for (let j = 0; j < dims[lvl]; j++) walk(lvl + 1, io + j * inStr[lvl], oo + j * outStr[lvl]);
    };
    walk(0, x, 0);
  }
  f.set(acc, out);
}

/**
 * A permute's output dims with their input strides, size-1 dims dropped and runs that stay adjacent merged;
 * at least one dim.
 */
export function permutePlan(shape: Shape, perm: readonly number[]): { dims: number[]; ss: number[] } {
  const strides = stridesOf(shape);
  const dims: number[] = [];
  const ss: number[] = [];
  for (const p of perm) {
    const d = shape[p];
    if (d === 1) continue;
    const l = dims.length - 1;
    if (l >= 0 && ss[l] === strides[p] * d) {
      dims[l] *= d;
      ss[l] = strides[p];
    } else {
      dims.push(d);
      ss.push(strides[p]);
    }
  }
  if (dims.length === 0) return { dims: [1], ss: [1] };
  return { dims, ss };
}

/** out = x gathered by a permute plan of any rank, a run (copied, or strided) per innermost row. */
export function permuteLoop(f: Float32Array, x: number, out: number, dims: readonly number[], ss: readonly number[]): void {
  const L = dims[dims.length - 1];
  const s = ss[ss.length - 1];
  eachRun(dims, ss, ss, (o, src) => {
    if (s === 1) f.copyWithin(out + o, x + src, x + src + L);
    else for (let j = 0; j < L; j++) f[out + o + j] = f[x + src + j * s];
  });
}

/** out = x[..., start:start+length, ...] along `axis`. */
export function sliceLoop(f: Float32Array, x: number, out: number, shape: Shape, axis: number, start: number, length: number): void {
  const outer = sizeOf(shape.slice(0, axis));
  const inner = sizeOf(shape.slice(axis + 1));
  const run = length * inner;
  for (let o = 0; o < outer; o++) {
    const from = x + (o * shape[axis] + start) * inner;
    f.copyWithin(out + o * run, from, from + run);
  }
}

/** Joins xs along `axis` into out; `xs` are float positions, `shapes` theirs. */
export function concatLoop(f: Float32Array, xs: readonly number[], shapes: readonly Shape[], axis: number, out: number, outer: number, inner: number, total: number): void {
  for (let o = 0; o < outer; o++) {
    let off = 0;
    xs.forEach((x, i) => {
      const len = shapes[i][axis] * inner;
      f.copyWithin(out + o * total * inner + off, x + o * len, x + (o + 1) * len);
      off += len;
    });
  }
}

/** out[o, j, i] = x[o, index[o, j, i], i] (Backend.gather). */
export function gatherLoop(f: Float32Array, x: number, index: number, out: number, g: GatherGeometry): void {
  for (let o = 0; o < g.outer; o++)
    for (let j = 0; j < g.k; j++)
      for (let i = 0; i < g.inner; i++) {
        const q = (o * g.k + j) * g.inner + i;
        f[out + q] = f[x + (o * g.n + f[index + q]) * g.inner + i];
      }
}

/** out[o, index[o, j, i], i] += src[o, j, i], out zeroed first (Backend.scatterAdd). */
export function scatterAddLoop(f: Float32Array, src: number, index: number, out: number, g: GatherGeometry): void {
  f.fill(0, out, out + g.outer * g.n * g.inner);
  for (let o = 0; o < g.outer; o++)
    for (let j = 0; j < g.k; j++)
      for (let i = 0; i < g.inner; i++) {
        const q = (o * g.k + j) * g.inner + i;
        f[out + (o * g.n + f[index + q]) * g.inner + i] += f[src + q];
      }
}

export function avgPoolLoop(f: Float32Array, x: number, out: number, g: AvgPoolGeometry): void {
  for (let p = 0; p < g.n * g.c; p++)
    for (let oy = 0; oy < g.oh; oy++)
      for (let ox = 0; ox < g.ow; ox++) {
        const w = avgPoolWindow(g, oy, ox);
        let s = 0;
        for (let iy = w.y0; iy < w.y1; iy++) for (let ix = w.x0; ix < w.x1; ix++) s += f[x + (p * g.h + iy) * g.w + ix];
        f[out + (p * g.oh + oy) * g.ow + ox] = s / w.div;
      }
}

/** The adjoint of avgPoolLoop, into a zeroed out. */
export function avgPoolBackwardLoop(f: Float32Array, gy: number, out: number, g: AvgPoolGeometry): void {
  for (let p = 0; p < g.n * g.c; p++)
    for (let oy = 0; oy < g.oh; oy++)
      for (let ox = 0; ox < g.ow; ox++) {
        const w = avgPoolWindow(g, oy, ox);
        const v = f[gy + (p * g.oh + oy) * g.ow + ox] / w.div;
        for (let iy = w.y0; iy < w.y1; iy++) for (let ix = w.x0; ix < w.x1; ix++) f[out + (p * g.h + iy) * g.w + ix] += v;
      }
}

/** Copies an m×n result out of a GEMM's padded tile grid (row stride ldc) into out [m, n], or as [n, m] when `transpose`. */
export function unpadGemm(f: Float32Array, c: number, ldc: number, out: number, m: number, n: number, transpose: boolean): void {
  if (transpose) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) f[out + j * m + i] = f[c + i * ldc + j];
  else for (let i = 0; i < m; i++) f.copyWithin(out + i * n, c + i * ldc, c + i * ldc + n);
}
