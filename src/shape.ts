// Shape arithmetic shared by the front end and the backends: sizes, strides, broadcasting, axes.
import { fail, fmt } from './errors.js';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major (C-contiguous) strides. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function checkShape(op: string, arg: string, shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) fail(op, `${arg} ${fmt(shape)} has a dimension that is not a non-negative integer`);
  }
}

/** NumPy/PyTorch broadcasting: align from the right, each pair equal or one of them 1. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      fail(op, `shapes ${fmt(a)} and ${fmt(b)} cannot be broadcast: dimension ${i - n} is ${da} vs ${db} (sizes must match or one must be 1)`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Normalises possibly negative axes against a rank; rejects duplicates and out-of-range values. */
export function normAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const out: number[] = [];
  for (const a of list) {
    if (!Number.isInteger(a) || a < -rank || a >= Math.max(rank, 1)) {
      fail(op, `axis ${a} is out of range for a tensor of rank ${rank} (expected -${rank} <= axis < ${rank})`);
    }
    const n = a < 0 ? a + rank : a;
    if (out.includes(n)) fail(op, `axis ${a} is repeated in ${JSON.stringify(list)}`);
    out.push(n);
  }
  return out.sort((x, y) => x - y);
}

/** Strides of `inShape` seen from `outShape` after broadcasting: 0 where the input is broadcast. */
export function broadcastStrides(inShape: Shape, outShape: Shape): number[] {
  const st = stridesOf(inShape);
  const off = outShape.length - inShape.length;
  return outShape.map((_, i) => {
    const j = i - off;
    if (j < 0) return 0;
    return inShape[j] === 1 ? 0 : st[j];
  });
}

/**
 * One average-pool window clipped to the input, and its divisor: the window clipped to input + padding when
 * padding counts (PyTorch's count_include_pad), else the clipped window's area.
 */
export function avgPoolWindow(
  g: { h: number; w: number; kh: number; kw: number; sh: number; sw: number; ph: number; pw: number; countIncludePad: boolean },
  oy: number,
  ox: number,
): { y0: number; y1: number; x0: number; x1: number; div: number } {
  let y0 = oy * g.sh - g.ph;
  let x0 = ox * g.sw - g.pw;
  let y1 = Math.min(y0 + g.kh, g.h + g.ph);
  let x1 = Math.min(x0 + g.kw, g.w + g.pw);
  const padArea = (y1 - y0) * (x1 - x0);
  y0 = Math.max(y0, 0);
  x0 = Math.max(x0, 0);
  y1 = Math.min(y1, g.h);
  x1 = Math.min(x1, g.w);
  return { y0, y1, x0, x1, div: g.countIncludePad ? padArea : (y1 - y0) * (x1 - x0) };
}
