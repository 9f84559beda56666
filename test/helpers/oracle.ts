// Naive float64 implementations of every op, written from the math (direct loops, no im2col), so that
// gpugrad's results and gradients can be checked against something that shares none of its code.

/** A float64 array with a row-major shape. */
export interface Arr {
  shape: number[];
  data: Float64Array;
}

export const arr = (shape: readonly number[], data: ArrayLike<number>): Arr => ({ shape: [...shape], data: Float64Array.from(data) });
export const sizeOf = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

export function strides(s: readonly number[]): number[] {
  const st = new Array<number>(s.length);
  let acc = 1;
  for (let i = s.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

/** Multi-index of flat position `f` in shape `s`. */
export function unravel(f: number, s: readonly number[]): number[] {
  const idx = new Array<number>(s.length);
  for (let i = s.length - 1; i >= 0; i--) {
    idx[i] = f % s[i];
    f = Math.floor(f / s[i]);
  }
  return idx;
}

export function ravel(idx: readonly number[], s: readonly number[]): number {
  let f = 0;
  for (let i = 0; i < s.length; i++) f = f * s[i] + idx[i];
  return f;
}

// ---- elementwise ----

export function map(x: Arr, fn: (v: number) => number): Arr {
  return { shape: [...x.shape], data: x.data.map(fn) };
}

export const neg = (x: Arr): Arr => map(x, (v) => -v);
export const exp = (x: Arr): Arr => map(x, Math.exp);
export const log = (x: Arr): Arr => map(x, Math.log);
export const sqrt = (x: Arr): Arr => map(x, Math.sqrt);
export const abs = (x: Arr): Arr => map(x, Math.abs);
// NaN propagates as in PyTorch: relu(NaN) and any max over a NaN are NaN.
export const relu = (x: Arr): Arr => map(x, (v) => (v < 0 ? 0 : v));
export const pow = (x: Arr, p: number): Arr => map(x, (v) => Math.pow(v, p));

/** Broadcast shape, or null when the shapes are incompatible. */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] | null {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)];
    const db = i < n - b.length ? 1 : b[i - (n - b.length)];
    if (da !== db && da !== 1 && db !== 1) return null;
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Value of `x` at output multi-index `idx` under broadcasting. */
function at(x: Arr, idx: readonly number[]): number {
  const off = idx.length - x.shape.length;
  let f = 0;
  for (let i = 0; i < x.shape.length; i++) f = f * x.shape[i] + (x.shape[i] === 1 ? 0 : idx[off + i]);
  return x.data[f];
}

export function zip(a: Arr, b: Arr, fn: (x: number, y: number) => number): Arr {
  const shape = broadcastShape(a.shape, b.shape);
  if (!shape) throw new Error(`oracle: cannot broadcast ${a.shape} and ${b.shape}`);
  const out = new Float64Array(sizeOf(shape));
  for (let f = 0; f < out.length; f++) {
    const idx = unravel(f, shape);
    out[f] = fn(at(a, idx), at(b, idx));
  }
  return { shape, data: out };
}

export const add = (a: Arr, b: Arr): Arr => zip(a, b, (x, y) => x + y);
export const sub = (a: Arr, b: Arr): Arr => zip(a, b, (x, y) => x - y);
export const mul = (a: Arr, b: Arr): Arr => zip(a, b, (x, y) => x * y);
export const div = (a: Arr, b: Arr): Arr => zip(a, b, (x, y) => x / y);

// ---- reductions ----

function reduceWith(x: Arr, axes: readonly number[] | undefined, keepdim: boolean, init: number, fn: (acc: number, v: number) => number): Arr {
  const r = x.shape.length;
  const ax = (axes ?? x.shape.map((_, i) => i)).map((a) => (a < 0 ? a + r : a));
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const out = new Float64Array(sizeOf(kept)).fill(init);
  for (let f = 0; f < x.data.length; f++) {
    const idx = unravel(f, x.shape).map((v, i) => (ax.includes(i) ? 0 : v));
    const o = ravel(idx, kept);
    out[o] = fn(out[o], x.data[f]);
  }
  return { shape: keepdim ? kept : x.shape.filter((_, i) => !ax.includes(i)), data: out };
}

export const sum = (x: Arr, axes?: readonly number[], keepdim = false): Arr => reduceWith(x, axes, keepdim, 0, (a, v) => a + v);
export const max = (x: Arr, axes?: readonly number[], keepdim = false): Arr => reduceWith(x, axes, keepdim, -Infinity, Math.max);
export function mean(x: Arr, axes?: readonly number[], keepdim = false): Arr {
  const r = x.shape.length;
  const ax = (axes ?? x.shape.map((_, i) => i)).map((a) => (a < 0 ? a + r : a));
  const count = ax.reduce((n, a) => n * x.shape[a], 1);
  return map(sum(x, ax, keepdim), (v) => v / count);
}

// ---- movement ----

export const reshape = (x: Arr, shape: readonly number[]): Arr => ({ shape: [...shape], data: x.data.slice() });

export function permute(x: Arr, perm: readonly number[]): Arr {
  const shape = perm.map((p) => x.shape[p]);
  const st = strides(x.shape);
  const out = new Float64Array(x.data.length);
  for (let f = 0; f < out.length; f++) {
    const idx = unravel(f, shape);
    let src = 0;
    for (let i = 0; i < perm.length; i++) src += idx[i] * st[perm[i]];
    out[f] = x.data[src];
  }
  return { shape, data: out };
}

export function transpose(x: Arr, d0: number, d1: number): Arr {
  const r = x.shape.length;
  const p = x.shape.map((_, i) => i);
  const a = d0 < 0 ? d0 + r : d0;
  const b = d1 < 0 ? d1 + r : d1;
  [p[a], p[b]] = [p[b], p[a]];
  return permute(x, p);
}

export function slice(x: Arr, axis: number, start: number, length: number): Arr {
  const shape = x.shape.map((d, i) => (i === axis ? length : d));
  const out = new Float64Array(sizeOf(shape));
  for (let f = 0; f < out.length; f++) {
    const idx = unravel(f, shape);
    idx[axis] += start;
    out[f] = x.data[ravel(idx, x.shape)];
  }
  return { shape, data: out };
}

export function concat(xs: readonly Arr[], axis: number): Arr {
  const shape = [...xs[0].shape];
  shape[axis] = xs.reduce((n, x) => n + x.shape[axis], 0);
  const out = new Float64Array(sizeOf(shape));
  for (let f = 0; f < out.length; f++) {
    const idx = unravel(f, shape);
    let k = 0;
    while (idx[axis] >= xs[k].shape[axis]) idx[axis] -= xs[k++].shape[axis];
    out[f] = xs[k].data[ravel(idx, xs[k].shape)];
  }
  return { shape, data: out };
}

export function expand(x: Arr, shape: readonly number[]): Arr {
  const out = new Float64Array(sizeOf(shape));
  for (let f = 0; f < out.length; f++) out[f] = at(x, unravel(f, shape));
  return { shape: [...shape], data: out };
}

// ---- matmul ----

/** NumPy matmul: 1-D operands promoted then squeezed, batch dims broadcast. */
export function matmul(a: Arr, b: Arr): Arr {
  const as = a.shape.length === 1 ? [1, a.shape[0]] : a.shape;
  const bs = b.shape.length === 1 ? [b.shape[0], 1] : b.shape;
  const [m, k] = as.slice(-2);
  const n = bs[bs.length - 1];
  const batch = broadcastShape(as.slice(0, -2), bs.slice(0, -2));
  if (!batch || bs[bs.length - 2] !== k) throw new Error(`oracle: matmul ${a.shape} x ${b.shape}`);
  const A: Arr = { shape: as, data: a.data };
  const B: Arr = { shape: bs, data: b.data };
  const shape = [...batch, m, n];
  const out = new Float64Array(sizeOf(shape));
  for (let f = 0; f < out.length; f++) {
    const idx = unravel(f, shape);
    const i = idx[idx.length - 2];
    const j = idx[idx.length - 1];
    let s = 0;
    for (let p = 0; p < k; p++) {
      idx[idx.length - 2] = i;
      idx[idx.length - 1] = p;
      const av = at(A, idx);
      idx[idx.length - 2] = p;
      idx[idx.length - 1] = j;
      s += av * at(B, idx);
    }
    out[f] = s;
  }
  let outShape = shape;
  if (a.shape.length === 1) outShape = outShape.filter((_, i) => i !== outShape.length - 2);
  if (b.shape.length === 1) outShape = outShape.slice(0, -1);
  return { shape: outShape, data: out };
}

// ---- windows ----

export interface Win {
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
}

/** Output length along one axis: ⌊(in + 2p − d(k−1) − 1)/s⌋ + 1, or the ceil variant whose last window must start before in + p. */
export function outLen(inp: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const span = inp + 2 * p - d * (k - 1) - 1;
  if (!ceil) return Math.floor(span / s) + 1;
  let o = Math.ceil(span / s) + 1;
  if ((o - 1) * s >= inp + p) o--;
  return o;
}

/** Direct cross-correlation: out[b,o,y,x] = bias[o] + Σ_{c in group, ky, kx} x[b,c,y·s−p+ky·d, …]·w[o,c',ky,kx]. */
export function conv2d(x: Arr, w: Arr, bias: Arr | null, win: Omit<Win, 'kh' | 'kw'>, groups: number): Arr {
  const [N, C, H, W] = x.shape;
  const [O, Cg, KH, KW] = w.shape;
  const OH = outLen(H, KH, win.sh, win.ph, win.dh, false);
  const OW = outLen(W, KW, win.sw, win.pw, win.dw, false);
  const Og = O / groups;
  const out = new Float64Array(N * O * OH * OW);
  for (let b = 0; b < N; b++)
    for (let o = 0; o < O; o++) {
      const g = Math.floor(o / Og);
      for (let oy = 0; oy < OH; oy++)
        for (let ox = 0; ox < OW; ox++) {
          let s = bias ? bias.data[o] : 0;
          for (let cg = 0; cg < Cg; cg++) {
            const c = g * Cg + cg;
            for (let ky = 0; ky < KH; ky++) {
              const iy = oy * win.sh - win.ph + ky * win.dh;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < KW; kx++) {
                const ix = ox * win.sw - win.pw + kx * win.dw;
                if (ix < 0 || ix >= W) continue;
                s += x.data[((b * C + c) * H + iy) * W + ix] * w.data[((o * Cg + cg) * KH + ky) * KW + kx];
              }
            }
          }
          out[((b * O + o) * OH + oy) * OW + ox] = s;
        }
    }
  void C;
  return { shape: [N, O, OH, OW], data: out };
}

/**
 * The eval conv with its epilogue as backends' convEpilogue lays it out: conv2d (groups 1), then ·scale[o] +
 * shift[o] (+ residual, given [oc, n·oh·ow]) (ReLU), as [oc, n·oh·ow].
 */
export function convEpilogue(x: Arr, w: Arr, win: Omit<Win, 'kh' | 'kw'>, scale: ArrayLike<number>, shift: ArrayLike<number>, residual: ArrayLike<number> | null, relu: boolean): Float64Array {
  const y = conv2d(x, w, null, win, 1);
  const [n, oc, oh, ow] = y.shape;
  const plane = oh * ow;
  const cols = n * plane;
  const out = new Float64Array(oc * cols);
  for (let o = 0; o < oc; o++)
    for (let b = 0; b < n; b++)
      for (let i = 0; i < plane; i++) {
        const j = o * cols + b * plane + i;
        let v = y.data[(b * oc + o) * plane + i] * scale[o] + shift[o];
        if (residual) v += residual[j];
        out[j] = relu && v < 0 ? 0 : v;
      }
  return out;
}

/** F.unfold: [N, C·kh·kw, L], row (c·kh + ky)·kw + kx, column oy·OW + ox; padding reads 0. */
export function unfold(x: Arr, win: Win): Arr {
  const [N, C, H, W] = x.shape;
  const OH = outLen(H, win.kh, win.sh, win.ph, win.dh, false);
  const OW = outLen(W, win.kw, win.sw, win.pw, win.dw, false);
  const R = C * win.kh * win.kw;
  const L = OH * OW;
  const out = new Float64Array(N * R * L);
  for (let b = 0; b < N; b++)
    for (let c = 0; c < C; c++)
      for (let ky = 0; ky < win.kh; ky++)
        for (let kx = 0; kx < win.kw; kx++)
          for (let oy = 0; oy < OH; oy++)
            for (let ox = 0; ox < OW; ox++) {
              const iy = oy * win.sh - win.ph + ky * win.dh;
              const ix = ox * win.sw - win.pw + kx * win.dw;
              const v = iy >= 0 && iy < H && ix >= 0 && ix < W ? x.data[((b * C + c) * H + iy) * W + ix] : 0;
              out[(b * R + (c * win.kh + ky) * win.kw + kx) * L + oy * OW + ox] = v;
            }
  return { shape: [N, R, L], data: out };
}

/** Max over each window; padded positions are −∞ (never chosen). */
export function maxPool2d(x: Arr, win: Win, ceil: boolean): Arr {
  const [N, C, H, W] = x.shape;
  const OH = outLen(H, win.kh, win.sh, win.ph, win.dh, ceil);
  const OW = outLen(W, win.kw, win.sw, win.pw, win.dw, ceil);
  const out = new Float64Array(N * C * OH * OW);
  for (let p = 0; p < N * C; p++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++) {
        let best = -Infinity;
        for (let ky = 0; ky < win.kh; ky++)
          for (let kx = 0; kx < win.kw; kx++) {
            const iy = oy * win.sh - win.ph + ky * win.dh;
            const ix = ox * win.sw - win.pw + kx * win.dw;
            if (iy >= 0 && iy < H && ix >= 0 && ix < W) best = Math.max(best, x.data[(p * H + iy) * W + ix]);
          }
        out[(p * OH + oy) * OW + ox] = best;
      }
  return { shape: [N, C, OH, OW], data: out };
}

/**
 * Average over each window. PyTorch's divisor: with countIncludePad, the window's area clipped to the padded
 * input (a ceil-mode window hanging past the padding counts only up to it); without, the valid inputs only.
 */
export function avgPool2d(x: Arr, win: Omit<Win, 'dh' | 'dw'>, ceil: boolean, countIncludePad: boolean): Arr {
  const [N, C, H, W] = x.shape;
  const OH = outLen(H, win.kh, win.sh, win.ph, 1, ceil);
  const OW = outLen(W, win.kw, win.sw, win.pw, 1, ceil);
  const out = new Float64Array(N * C * OH * OW);
  for (let p = 0; p < N * C; p++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++) {
        let s = 0;
        let valid = 0;
        let padded = 0;
        for (let ky = 0; ky < win.kh; ky++)
          for (let kx = 0; kx < win.kw; kx++) {
            const iy = oy * win.sh - win.ph + ky;
            const ix = ox * win.sw - win.pw + kx;
            if (iy < H + win.ph && ix < W + win.pw) padded++;
            if (iy >= 0 && iy < H && ix >= 0 && ix < W) {
              s += x.data[(p * H + iy) * W + ix];
              valid++;
            }
          }
        out[(p * OH + oy) * OW + ox] = s / (countIncludePad ? padded : valid);
      }
  return { shape: [N, C, OH, OW], data: out };
}

/** Adaptive average: output cell i covers rows ⌊i·H/OH⌋ … ⌈(i+1)·H/OH⌉ − 1 (same for columns). */
export function adaptiveAvgPool2d(x: Arr, OH: number, OW: number): Arr {
  const [N, C, H, W] = x.shape;
  const out = new Float64Array(N * C * OH * OW);
  for (let p = 0; p < N * C; p++)
    for (let i = 0; i < OH; i++)
      for (let j = 0; j < OW; j++) {
        const y0 = Math.floor((i * H) / OH);
        const y1 = Math.ceil(((i + 1) * H) / OH);
        const x0 = Math.floor((j * W) / OW);
        const x1 = Math.ceil(((j + 1) * W) / OW);
        let s = 0;
        for (let y = y0; y < y1; y++) for (let xx = x0; xx < x1; xx++) s += x.data[(p * H + y) * W + xx];
        out[(p * OH + i) * OW + j] = s / ((y1 - y0) * (x1 - x0));
      }
  return { shape: [N, C, OH, OW], data: out };
}

// ---- batch norm ----

export interface BnResult {
  y: Arr;
  runningMean: Float64Array;
  runningVar: Float64Array;
}

/**
 * Training: y = (x − μ_c)/√(σ²_c + ε)·γ + β with the batch mean and biased variance per channel; the running
 * statistics move by `momentum` toward μ and the unbiased variance. Eval: the running statistics normalise.
 */
export function batchNorm2d(x: Arr, rm: Float64Array, rv: Float64Array, gamma: Arr | null, beta: Arr | null, training: boolean, momentum: number, eps: number): BnResult {
  const [N, C, H, W] = x.shape;
  const m = N * H * W;
  const y = new Float64Array(x.data.length);
  const nm = Float64Array.from(rm);
  const nv = Float64Array.from(rv);
  for (let c = 0; c < C; c++) {
    let mu: number;
    let v: number;
    if (training) {
      mu = 0;
      for (let b = 0; b < N; b++) for (let i = 0; i < H * W; i++) mu += x.data[(b * C + c) * H * W + i];
      mu /= m;
      v = 0;
      for (let b = 0; b < N; b++) for (let i = 0; i < H * W; i++) v += (x.data[(b * C + c) * H * W + i] - mu) ** 2;
      v /= m;
      nm[c] = (1 - momentum) * rm[c] + momentum * mu;
      nv[c] = (1 - momentum) * rv[c] + momentum * ((v * m) / (m - 1));
    } else {
      mu = rm[c];
      v = rv[c];
    }
    const g = gamma ? gamma.data[c] : 1;
    const bb = beta ? beta.data[c] : 0;
    for (let b = 0; b < N; b++)
      for (let i = 0; i < H * W; i++) {
        const f = (b * C + c) * H * W + i;
        y[f] = ((x.data[f] - mu) / Math.sqrt(v + eps)) * g + bb;
      }
  }
  return { y: { shape: [...x.shape], data: y }, runningMean: nm, runningVar: nv };
}

// ---- dense layers and losses ----

/** y[..., o] = Σ_i x[..., i]·w[o, i] + b[o]. */
export function linear(x: Arr, w: Arr, b: Arr | null): Arr {
  const [O, I] = w.shape;
  const rows = x.data.length / I;
  const out = new Float64Array(rows * O);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < O; o++) {
      let s = b ? b.data[o] : 0;
      for (let i = 0; i < I; i++) s += x.data[r * I + i] * w.data[o * I + i];
      out[r * O + o] = s;
    }
  return { shape: [...x.shape.slice(0, -1), O], data: out };
}

/** log softmax along `dim`: x_i − log Σ_j exp(x_j), with the max subtracted for range. */
export function logSoftmax(x: Arr, dim: number): Arr {
  const r = x.shape.length;
  const d = dim < 0 ? dim + r : dim;
  const st = strides(x.shape)[d];
  const len = x.shape[d];
  const out = new Float64Array(x.data.length);
  for (let f = 0; f < x.data.length; f++) {
    if (Math.floor(f / st) % len !== 0) continue; // visit each line once, from its first element
    let m = -Infinity;
    for (let i = 0; i < len; i++) m = Math.max(m, x.data[f + i * st]);
    let s = 0;
    for (let i = 0; i < len; i++) s += Math.exp(x.data[f + i * st] - m);
    const lse = m + Math.log(s);
    for (let i = 0; i < len; i++) out[f + i * st] = x.data[f + i * st] - lse;
  }
  return { shape: [...x.shape], data: out };
}

export const softmax = (x: Arr, dim: number): Arr => map(logSoftmax(x, dim), Math.exp);

/** Mean over the batch of −log softmax(logits)[label]. */
export function crossEntropy(logits: Arr, labels: readonly number[]): Arr {
  const [N, K] = logits.shape;
  const ls = logSoftmax(logits, 1);
  let s = 0;
  for (let i = 0; i < N; i++) s -= ls.data[i * K + labels[i]];
  return { shape: [], data: Float64Array.of(s / N) };
}

export function mseLoss(a: Arr, b: Arr): Arr {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += (a.data[i] - b.data[i]) ** 2;
  return { shape: [], data: Float64Array.of(s / a.data.length) };
}
