// Float64 oracles for the ops and F functions of issue #18, written from their definitions with direct loops over
// multi-indices (no masks, one-hots or GEMMs as gpugrad composes them), for the property suite props-api.test.ts.
import * as O from './oracle.js';
import type { Arr } from './oracle.js';

const sizeOf = O.sizeOf;

const { strides, unravel, ravel } = O; // one copy of the index helpers, in oracle.ts
const norm = (d: number, r: number): number => (d < 0 ? d + r : d);

// ---- elementwise ----

/** erf by Simpson's rule on 2/√π·e^(−t²) over [0, x] (4000 panels: error far below float32). */
export function erfScalar(x: number): number {
  const n = 4000;
  const h = x / n;
  let s = 1 + Math.exp(-x * x);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return ((s * h) / 3) * (2 / Math.sqrt(Math.PI));
}
const sig = (v: number): number => 1 / (1 + Math.exp(-v));
export const sigmoid = (x: Arr): Arr => O.map(x, sig);
export const tanh = (x: Arr): Arr => O.map(x, Math.tanh);
export const erf = (x: Arr): Arr => O.map(x, erfScalar);
export const gelu = (x: Arr, approx: 'none' | 'tanh'): Arr =>
  O.map(x, (v) => (approx === 'none' ? 0.5 * v * (1 + erfScalar(v / Math.SQRT2)) : 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))));
export const silu = (x: Arr): Arr => O.map(x, (v) => v * sig(v));
export const leakyRelu = (x: Arr, s: number): Arr => O.map(x, (v) => (v > 0 ? v : s * v));
export const hardtanh = (x: Arr, lo: number, hi: number): Arr => O.map(x, (v) => Math.min(Math.max(v, lo), hi));
export const softplus = (x: Arr, beta: number, th: number): Arr => O.map(x, (v) => (beta * v > th ? v : Math.log1p(Math.exp(beta * v)) / beta));
export const elu = (x: Arr, a: number): Arr => O.map(x, (v) => (v > 0 ? v : a * Math.expm1(v)));
export const clamp = (x: Arr, lo: number | null, hi: number | null): Arr => O.map(x, (v) => Math.min(Math.max(v, lo ?? -Infinity), hi ?? Infinity));

/** Elementwise over broadcast operands. */
export function zipN(xs: readonly Arr[], fn: (vs: number[]) => number): Arr {
  let shape: number[] = [];
  for (const x of xs) shape = O.broadcastShape(shape, x.shape) as number[];
  const out = new Float64Array(sizeOf(shape));
  for (let f = 0; f < out.length; f++) {
    const idx = unravel(f, shape);
    out[f] = fn(
      xs.map((x) => {
        const off = idx.length - x.shape.length;
        return x.data[ravel(x.shape.map((d, i) => (d === 1 ? 0 : idx[off + i])), x.shape)];
      }),
    );
  }
  return { shape, data: out };
}

// ---- reductions ----

/** Reduces `axes` (all when undefined) by fn over each output's list of values. */
export function reduceBy(x: Arr, axes: readonly number[] | undefined, keepdim: boolean, fn: (vs: number[]) => number): Arr {
  const r = x.shape.length;
  const ax = (axes ?? x.shape.map((_, i) => i)).map((a) => norm(a, r));
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const groups: number[][] = Array.from({ length: sizeOf(kept) }, () => []);
  for (let f = 0; f < x.data.length; f++) groups[ravel(unravel(f, x.shape).map((v, i) => (ax.includes(i) ? 0 : v)), kept)].push(x.data[f]);
  return { shape: keepdim ? kept : x.shape.filter((_, i) => !ax.includes(i)), data: Float64Array.from(groups, fn) };
}
export const min = (x: Arr, axes: readonly number[] | undefined, keepdim: boolean): Arr => reduceBy(x, axes, keepdim, (vs) => Math.min(...vs));
export function variance(x: Arr, axes: readonly number[] | undefined, correction: number, keepdim: boolean): Arr {
  return reduceBy(x, axes, keepdim, (vs) => {
    const m = vs.reduce((a, b) => a + b, 0) / vs.length;
    return vs.reduce((a, v) => a + (v - m) ** 2, 0) / Math.max(0, vs.length - correction);
  });
}
export function argExt(x: Arr, dim: number | undefined, keepdim: boolean, largest: boolean): Arr {
  const pick = (vs: number[]): number => {
    let best = 0;
    for (let i = 1; i < vs.length; i++) if (largest ? vs[i] > vs[best] : vs[i] < vs[best]) best = i;
    return best;
  };
  if (dim === undefined) return { shape: keepdim ? x.shape.map(() => 1) : [], data: Float64Array.of(pick([...x.data])) };
  return reduceBy(x, [dim], keepdim, pick);
}

/** torch.chunk's piece sizes: ⌈n/chunks⌉ each, the last what is left. */
export function chunkSizes(n: number, chunks: number): number[] {
  const size = Math.max(1, Math.ceil(n / chunks));
  return Array.from({ length: Math.ceil(n / size) }, (_, i) => Math.min(size, n - i * size));
}

// ---- index ops ----

export function gather(x: Arr, dim: number, index: Arr): Arr {
  const d = norm(dim, x.shape.length);
  const out = new Float64Array(index.data.length);
  for (let f = 0; f < out.length; f++) {
    const idx = unravel(f, index.shape);
    idx[d] = index.data[f];
    out[f] = x.data[ravel(idx, x.shape)];
  }
  return { shape: [...index.shape], data: out };
}

export function indexSelect(x: Arr, dim: number, index: readonly number[]): Arr {
  const d = norm(dim, x.shape.length);
  const shape = x.shape.map((s, i) => (i === d ? index.length : s));
  const out = new Float64Array(sizeOf(shape));
  for (let f = 0; f < out.length; f++) {
    const idx = unravel(f, shape);
    idx[d] = index[idx[d]];
    out[f] = x.data[ravel(idx, x.shape)];
  }
  return { shape, data: out };
}

/** The first k of each line along dim, sorted (stable), as values or indices. */
export function sortAlong(x: Arr, dim: number, k: number, descending: boolean, what: 'values' | 'indices'): Arr {
  const d = norm(dim, x.shape.length);
  const n = x.shape[d];
  const st = strides(x.shape)[d];
  const shape = x.shape.map((s, i) => (i === d ? k : s));
  const ost = strides(shape)[d];
  const out = new Float64Array(sizeOf(shape));
  for (let f = 0; f < out.length; f++) {
    const idx = unravel(f, shape);
    if (idx[d] !== 0) continue;
    const base = ravel(idx, x.shape);
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => {
      const va = x.data[base + a * st];
      const vb = x.data[base + b * st];
      return va === vb ? a - b : descending ? vb - va : va - vb;
    });
    for (let r = 0; r < k; r++) out[f + r * ost] = what === 'values' ? x.data[base + order[r] * st] : order[r];
  }
  return { shape, data: out };
}

// ---- F: padding, resizing, transposed convolution ----

export function pad(x: Arr, pads: readonly number[], mode: 'constant' | 'reflect' | 'replicate', value: number): Arr {
  const r = x.shape.length;
  const before = x.shape.map(() => 0);
  const after = x.shape.map(() => 0);
  for (let i = 0; i < pads.length / 2; i++) {
    before[r - 1 - i] = pads[2 * i];
    after[r - 1 - i] = pads[2 * i + 1];
  }
  const shape = x.shape.map((s, i) => s + before[i] + after[i]);
  const out = new Float64Array(sizeOf(shape));
  for (let f = 0; f < out.length; f++) {
    const idx = unravel(f, shape).map((v, i) => v - before[i]);
    let inside = true;
    const src = idx.map((j, i) => {
      const n = x.shape[i];
      if (j >= 0 && j < n) return j;
      if (mode === 'replicate') return j < 0 ? 0 : n - 1;
      if (mode === 'reflect') return j < 0 ? -j : 2 * (n - 1) - j;
      inside = false;
      return 0;
    });
    out[f] = inside ? x.data[ravel(src, x.shape)] : value;
  }
  return { shape, data: out };
}

/** Source positions and weights of one resized dim, from PyTorch's coordinate rules (float32 arithmetic). */
function taps(inp: number, out: number, mode: 'nearest' | 'linear', align: boolean, scale: number | null): [number, number][][] {
  const f = Math.fround;
  return Array.from({ length: out }, (_, d) => {
    if (mode === 'nearest') return [[Math.min(Math.floor(f(d * f(scale ?? inp / out))), inp - 1), 1]];
    const s = align ? (out > 1 ? f((inp - 1) / (out - 1)) : 0) : f(scale ?? inp / out);
    const src = Math.max(0, align ? f(s * d) : f(f(s * f(d + 0.5)) - 0.5));
    const i0 = Math.floor(src);
    const i1 = Math.min(i0 + 1, inp - 1);
    const l = src - i0;
    return [
      [i0, 1 - l],
      [i1, l],
    ];
  });
}

export function interpolate(x: Arr, outs: number[], mode: 'nearest' | 'linear', align: boolean, scales: (number | null)[]): Arr {
  const sp = x.shape.length - 2;
  const tp = outs.map((o, i) => taps(x.shape[2 + i], o, mode, align, scales[i]));
  const shape = [...x.shape.slice(0, 2), ...outs];
  const out = new Float64Array(sizeOf(shape));
  for (let f = 0; f < out.length; f++) {
    const idx = unravel(f, shape);
    let s = 0;
    const rec = (i: number, src: number[], w: number): void => {
      if (i === sp) {
        s += w * x.data[ravel([idx[0], idx[1], ...src], x.shape)];
        return;
      }
      for (const [j, wj] of tp[i][idx[2 + i]]) rec(i + 1, [...src, j], w * wj);
    };
    rec(0, [], 1);
    out[f] = s;
  }
  return { shape, data: out };
}

export interface ConvT {
  stride: [number, number];
  padding: [number, number];
  outputPadding: [number, number];
  dilation: [number, number];
  groups: number;
}

/** Transposed convolution as the scatter it is: every input pixel adds weight·x into its output window. */
export function convTranspose2d(x: Arr, w: Arr, b: Arr | null, c: ConvT): Arr {
  const [N, CI, H, W] = x.shape;
  const [, COG, KH, KW] = w.shape;
  const { stride: s, padding: p, outputPadding: op, dilation: d, groups: g } = c;
  const OH = (H - 1) * s[0] - 2 * p[0] + d[0] * (KH - 1) + op[0] + 1;
  const OW = (W - 1) * s[1] - 2 * p[1] + d[1] * (KW - 1) + op[1] + 1;
  const CO = COG * g;
  const out = new Float64Array(N * CO * OH * OW);
  const cig = CI / g;
  for (let n = 0; n < N; n++)
    for (let ci = 0; ci < CI; ci++)
      for (let ih = 0; ih < H; ih++)
        for (let iw = 0; iw < W; iw++) {
          const v = x.data[((n * CI + ci) * H + ih) * W + iw];
          const grp = Math.floor(ci / cig);
          for (let oc = 0; oc < COG; oc++)
            for (let kh = 0; kh < KH; kh++)
              for (let kw = 0; kw < KW; kw++) {
                const oh = ih * s[0] - p[0] + kh * d[0];
                const ow = iw * s[1] - p[1] + kw * d[1];
                if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
                out[((n * CO + grp * COG + oc) * OH + oh) * OW + ow] += v * w.data[((ci * COG + oc) * KH + kh) * KW + kw];
              }
        }
  if (b) for (let f = 0; f < out.length; f++) out[f] += b.data[Math.floor(f / (OH * OW)) % CO];
  return { shape: [N, CO, OH, OW], data: out };
}

// ---- F: normalisation ----

/** Normalises each group of elements that share `key(index)`, then applies scale/shift by `affine(index)`. */
function normalizeGroups(x: Arr, key: (idx: number[]) => number, eps: number, affine: (idx: number[], v: number) => number): Arr {
  const groups = new Map<number, number[]>();
  const keys = Array.from({ length: x.data.length }, (_, f) => key(unravel(f, x.shape)));
  keys.forEach((k, f) => {
    const g = groups.get(k) ?? [];
    g.push(x.data[f]);
    groups.set(k, g);
  });
  const stats = new Map<number, [number, number]>();
  for (const [k, vs] of groups) {
    const m = vs.reduce((a, b) => a + b, 0) / vs.length;
    stats.set(k, [m, vs.reduce((a, v) => a + (v - m) ** 2, 0) / vs.length]);
  }
  const out = new Float64Array(x.data.length);
  for (let f = 0; f < out.length; f++) {
    const [m, v] = stats.get(keys[f]) as [number, number];
    out[f] = affine(unravel(f, x.shape), (x.data[f] - m) / Math.sqrt(v + eps));
  }
  return { shape: [...x.shape], data: out };
}

export function layerNorm(x: Arr, k: number, w: Arr | null, b: Arr | null, eps: number): Arr {
  const lead = x.shape.slice(0, x.shape.length - k);
  const tail = x.shape.slice(x.shape.length - k);
  return normalizeGroups(
    x,
    (idx) => ravel(idx.slice(0, lead.length), lead),
    eps,
    (idx, v) => {
      const t = ravel(idx.slice(lead.length), tail);
      return v * (w ? w.data[t] : 1) + (b ? b.data[t] : 0);
    },
  );
}

export function groupNorm(x: Arr, groups: number, w: Arr | null, b: Arr | null, eps: number): Arr {
  const C = x.shape[1];
  return normalizeGroups(
    x,
    (idx) => idx[0] * groups + Math.floor(idx[1] / (C / groups)),
    eps,
    (idx, v) => v * (w ? w.data[idx[1]] : 1) + (b ? b.data[idx[1]] : 0),
  );
}

export function normalize(x: Arr, p: number, dim: number, eps: number): Arr {
  const d = norm(dim, x.shape.length);
  const n = reduceBy(x, [d], true, (vs) => Math.max(vs.reduce((a, v) => a + Math.abs(v) ** p, 0) ** (1 / p), eps));
  return zipN([x, n], ([v, m]) => v / m);
}

// ---- losses ----

export type Reduction = 'mean' | 'sum' | 'none';
function reduced(loss: Arr, r: Reduction, denom = loss.data.length): Arr {
  if (r === 'none') return loss;
  const s = loss.data.reduce((a, b) => a + b, 0);
  return { shape: [], data: Float64Array.of(r === 'sum' ? s : s / denom) };
}

export const l1 = (a: Arr, b: Arr, r: Reduction): Arr => reduced(O.zip(a, b, (x, y) => Math.abs(x - y)), r);
export const mse = (a: Arr, b: Arr, r: Reduction): Arr => reduced(O.zip(a, b, (x, y) => (x - y) ** 2), r);
export const smoothL1 = (a: Arr, b: Arr, r: Reduction, beta: number): Arr =>
  reduced(
    O.zip(a, b, (x, y) => {
      const d = Math.abs(x - y);
      return d < beta ? (0.5 * d * d) / beta : d - 0.5 * beta;
    }),
    r,
  );
export const bce = (p: Arr, y: Arr, r: Reduction): Arr => reduced(O.zip(p, y, (a, t) => -(t * Math.max(Math.log(a), -100) + (1 - t) * Math.max(Math.log(1 - a), -100))), r);
export const bceLogits = (x: Arr, y: Arr, r: Reduction, pw: Arr | null): Arr =>
  reduced(zipN(pw ? [x, y, pw] : [x, y], ([v, t, w]) => -((w ?? 1) * t * Math.log(sig(v)) + (1 - t) * Math.log(1 - sig(v)))), r);

export interface ClassLossOptions {
  weight: Arr | null;
  ignoreIndex: number;
  smoothing: number;
  reduction: Reduction;
}

/** cross entropy (or nll with logp given and smoothing 0) of class indices over [N, C, …], PyTorch's weighting and mean. */
export function classLoss(logp: Arr, target: readonly number[], o: ClassLossOptions): Arr {
  const [N, C] = logp.shape;
  const rest = logp.shape.slice(2);
  const R = sizeOf(rest);
  const st = R;
  const loss = new Float64Array(N * R);
  let denom = 0;
  for (let n = 0; n < N; n++)
    for (let q = 0; q < R; q++) {
      const t = target[n * R + q];
      if (t === o.ignoreIndex) continue;
      const at = (c: number): number => logp.data[(n * C + c) * st + q];
      const w = (c: number): number => (o.weight ? o.weight.data[c] : 1);
      let smooth = 0;
      for (let c = 0; c < C; c++) smooth -= w(c) * at(c);
      loss[n * R + q] = (1 - o.smoothing) * -w(t) * at(t) + (o.smoothing / C) * smooth;
      denom += w(t);
    }
  return reduced({ shape: [N, ...rest], data: loss }, o.reduction, denom);
}

/** Cross entropy against probabilities shaped like the logits (mean over the N·… positions). */
export function softTargetLoss(logits: Arr, target: Arr, smoothing: number, reduction: Reduction): Arr {
  const [N, C] = logits.shape;
  const rest = logits.shape.slice(2);
  const R = sizeOf(rest);
  const lp = O.logSoftmax(logits, 1);
  const loss = new Float64Array(N * R);
  for (let n = 0; n < N; n++)
    for (let q = 0; q < R; q++)
      for (let c = 0; c < C; c++) {
        const f = (n * C + c) * R + q;
        loss[n * R + q] -= lp.data[f] * (target.data[f] * (1 - smoothing) + smoothing / C);
      }
  return reduced({ shape: [N, ...rest], data: loss }, reduction);
}
