// The reference backend: plain TypeScript loops with float64 accumulation. It is the oracle every other
// backend is tested against, so it favours obviously-correct code over speed.
import { guardStorages, type AdamParams, type AvgPoolGeometry, type BackendImpl, type GatherGeometry, type BatchNormGrads, type BatchNormResult, type BinaryOp, type ReduceOp, type SgdParams, type Storage, type UnaryOp, type WindowGeometry, type MatmulGeometry } from '../backend.js';
import { avgPoolWindow, broadcastStrides, sizeOf, stridesOf, type Shape } from '../shape.js';

import { bnBackwardHost, bnForwardHost } from './batchnorm.js';
import { erf64 } from '../special.js';

class HostStorage implements Storage {
  constructor(readonly data: Float32Array) {}
  get size(): number {
    return this.data.length;
  }
  /** Names the backend in another backend's ownership refusal (every reference instance reads the same arrays). */
  get owner(): { name: string; mode: string } {
    return { name: 'reference', mode: 'float64' };
  }
}

const d = (s: Storage): Float32Array => (s as HostStorage).data;
const wrap = (a: Float32Array): HostStorage => new HostStorage(a);

/** Calls fn(outIndex, aIndex, bIndex) for every element of a broadcast binary op. */
function forBroadcast(aShape: Shape, bShape: Shape, outShape: Shape, fn: (o: number, ia: number, ib: number) => void): void {
  const r = outShape.length;
  const sa = broadcastStrides(aShape, outShape);
  const sb = broadcastStrides(bShape, outShape);
  const n = sizeOf(outShape);
  const idx = new Array<number>(r).fill(0);
  let ia = 0;
  let ib = 0;
  for (let o = 0; o < n; o++) {
    fn(o, ia, ib);
    for (let k = r - 1; k >= 0; k--) {
      idx[k]++;
      ia += sa[k];
      ib += sb[k];
      if (idx[k] < outShape[k]) break;
      ia -= sa[k] * outShape[k];
      ib -= sb[k] * outShape[k];
      idx[k] = 0;
    }
  }
}

const unaryFns: Record<UnaryOp, (x: number, p: number) => number> = {
  neg: (x) => -x,
  exp: (x) => Math.exp(x),
  log: (x) => Math.log(x),
  sqrt: (x) => Math.sqrt(x),
  // x < 0 ? 0 : x keeps NaN (and -0), as torch.relu; x > 0 ? x : 0 would hide a NaN.
  relu: (x) => (x < 0 ? 0 : x),
  pow: (x, p) => Math.pow(x, p),
  abs: (x) => Math.abs(x),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: (x) => Math.tanh(x),
  erf: (x) => erf64(x),
};

const binaryFns: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  eq: (a, b) => (a === b ? 1 : 0),
  ne: (a, b) => (a !== b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
};

export class ReferenceBackend implements BackendImpl {
  readonly deferred = false;
  readonly name = 'reference';
  readonly mode = 'float64';
  readonly fallbackReason = null;

  constructor() {
    guardStorages(this, (s) => s instanceof HostStorage);
  }

  upload(data: Float32Array): Storage {
    return wrap(data.slice());
  }
  fill(size: number, value: number): Storage {
    return wrap(new Float32Array(size).fill(value));
  }
  async read(s: Storage): Promise<Float32Array> {
    return d(s).slice();
  }
  readSync(s: Storage): Float32Array {
    return d(s).slice();
  }
  release(): void {
    // Garbage collection reclaims the array.
  }
  copyInto(dst: Storage, src: Storage): void {
    d(dst).set(d(src));
  }
  bytes(s: Storage): number {
    return d(s).byteLength;
  }

  unary(op: UnaryOp, x: Storage, param: number): Storage {
    const a = d(x);
    const f = unaryFns[op];
    const out = new Float32Array(a.length);
    for (let i = 0; i < a.length; i++) out[i] = f(a[i], param);
    return wrap(out);
  }

  binary(op: BinaryOp, a: Storage, aShape: Shape, b: Storage, bShape: Shape, outShape: Shape): Storage {
    const A = d(a);
    const B = d(b);
    const f = binaryFns[op];
    const out = new Float32Array(sizeOf(outShape));
    forBroadcast(aShape, bShape, outShape, (o, ia, ib) => {
      out[o] = f(A[ia], B[ib]);
    });
    return wrap(out);
  }

  reduce(op: ReduceOp, x: Storage, shape: Shape, axes: readonly number[]): Storage {
    const X = d(x);
    const outShape = shape.map((v, i) => (axes.includes(i) ? 1 : v));
    const acc = new Float64Array(sizeOf(outShape)).fill(op === 'sum' ? 0 : -Infinity);
    // Walk the input; its output index is the input index with reduced coordinates set to 0.
    forBroadcast(shape, outShape, shape, (i, _ia, io) => {
      const v = X[i];
      if (op === 'sum') acc[io] += v;
      else if (v > acc[io] || Number.isNaN(v)) acc[io] = Number.isNaN(acc[io]) ? acc[io] : v;
    });
    return wrap(Float32Array.from(acc));
  }

  permute(x: Storage, shape: Shape, perm: readonly number[]): Storage {
    const X = d(x);
    const st = stridesOf(shape);
    const outShape = perm.map((p) => shape[p]);
    const pst = perm.map((p) => st[p]); // input stride along each output axis
    const out = new Float32Array(X.length);
    const r = outShape.length;
    const idx = new Array<number>(r).fill(0);
    let src = 0;
    for (let o = 0; o < out.length; o++) {
      out[o] = X[src];
      for (let k = r - 1; k >= 0; k--) {
        idx[k]++;
        src += pst[k];
        if (idx[k] < outShape[k]) break;
        src -= pst[k] * outShape[k];
        idx[k] = 0;
      }
    }
    return wrap(out);
  }

  slice(x: Storage, shape: Shape, axis: number, start: number, length: number): Storage {
    const X = d(x);
    const outer = sizeOf(shape.slice(0, axis));
    const inner = sizeOf(shape.slice(axis + 1));
    const out = new Float32Array(outer * length * inner);
    for (let o = 0; o < outer; o++) {
      const from = (o * shape[axis] + start) * inner;
      out.set(X.subarray(from, from + length * inner), o * length * inner);
    }
    return wrap(out);
  }

  gather(x: Storage, index: Storage, g: GatherGeometry): Storage {
    const X = d(x);
    const I = d(index);
    const out = new Float32Array(g.outer * g.k * g.inner);
    for (let o = 0; o < g.outer; o++)
      for (let j = 0; j < g.k; j++)
        for (let i = 0; i < g.inner; i++) {
          const f = (o * g.k + j) * g.inner + i;
          out[f] = X[(o * g.n + I[f]) * g.inner + i];
        }
    return wrap(out);
  }

  scatterAdd(src: Storage, index: Storage, g: GatherGeometry): Storage {
    const S = d(src);
    const I = d(index);
    const out = new Float64Array(g.outer * g.n * g.inner);
    for (let o = 0; o < g.outer; o++)
      for (let j = 0; j < g.k; j++)
        for (let i = 0; i < g.inner; i++) {
          const f = (o * g.k + j) * g.inner + i;
          out[(o * g.n + I[f]) * g.inner + i] += S[f];
        }
    return wrap(Float32Array.from(out));
  }

  concat(xs: readonly Storage[], shapes: readonly Shape[], axis: number): Storage {
    const outer = sizeOf(shapes[0].slice(0, axis));
    const inner = sizeOf(shapes[0].slice(axis + 1));
    const total = shapes.reduce((n, s) => n + s[axis], 0);
    const out = new Float32Array(outer * total * inner);
    for (let o = 0; o < outer; o++) {
      let at = 0;
      xs.forEach((x, i) => {
        const len = shapes[i][axis] * inner;
        out.set(d(x).subarray(o * len, (o + 1) * len), (o * total * inner) + at);
        at += len;
      });
    }
    return wrap(out);
  }

  matmul(a: Storage, b: Storage, g: MatmulGeometry): Storage {
    const A = d(a);
    const B = d(b);
    const { m, k, n, transA, transB } = g;
    const out = new Float32Array(g.batch * m * n);
    const row = new Float64Array(n);
    for (let bt = 0; bt < g.batch; bt++) {
      const ao = (bt % g.batchA) * m * k;
      const bo = (bt % g.batchB) * k * n;
      for (let i = 0; i < m; i++) {
        row.fill(0);
        for (let p = 0; p < k; p++) {
          // No skipping of zero entries: 0·NaN and 0·Inf are NaN, as in every other backend and PyTorch.
          const av = transA ? A[ao + p * m + i] : A[ao + i * k + p];
          if (transB) for (let j = 0; j < n; j++) row[j] += av * B[bo + j * k + p];
          else {
            const base = bo + p * n;
            for (let j = 0; j < n; j++) row[j] += av * B[base + j];
          }
        }
        out.set(row, (bt * m + i) * n);
      }
    }
    return wrap(out);
  }

  im2col(x: Storage, g: WindowGeometry): Storage {
    const X = d(x);
    const L = g.oh * g.ow;
    const cols = g.n * L;
    const out = new Float32Array(g.c * g.kh * g.kw * cols);
    for (let c = 0; c < g.c; c++)
      for (let ky = 0; ky < g.kh; ky++)
        for (let kx = 0; kx < g.kw; kx++) {
          const r = (c * g.kh + ky) * g.kw + kx;
          for (let b = 0; b < g.n; b++)
            for (let oy = 0; oy < g.oh; oy++) {
              const iy = oy * g.sh - g.ph + ky * g.dh;
              for (let ox = 0; ox < g.ow; ox++) {
                const ix = ox * g.sw - g.pw + kx * g.dw;
                const inside = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
                out[r * cols + b * L + oy * g.ow + ox] = inside ? X[((b * g.c + c) * g.h + iy) * g.w + ix] : 0;
              }
            }
        }
    return wrap(out);
  }

  col2im(colsS: Storage, g: WindowGeometry): Storage {
    const C = d(colsS);
    const L = g.oh * g.ow;
    const cols = g.n * L;
    const acc = new Float64Array(g.n * g.c * g.h * g.w);
    for (let c = 0; c < g.c; c++)
      for (let ky = 0; ky < g.kh; ky++)
        for (let kx = 0; kx < g.kw; kx++) {
          const r = (c * g.kh + ky) * g.kw + kx;
          for (let b = 0; b < g.n; b++)
            for (let oy = 0; oy < g.oh; oy++) {
              const iy = oy * g.sh - g.ph + ky * g.dh;
              if (iy < 0 || iy >= g.h) continue;
              for (let ox = 0; ox < g.ow; ox++) {
                const ix = ox * g.sw - g.pw + kx * g.dw;
                if (ix < 0 || ix >= g.w) continue;
                acc[((b * g.c + c) * g.h + iy) * g.w + ix] += C[r * cols + b * L + oy * g.ow + ox];
              }
            }
        }
    return wrap(Float32Array.from(acc));
  }

  maxPool2d(x: Storage, g: WindowGeometry): { out: Storage; indices: Storage } {
    const X = d(x);
    const planes = g.n * g.c;
    const out = new Float32Array(planes * g.oh * g.ow);
    const idx = new Float32Array(planes * g.oh * g.ow);
    for (let p = 0; p < planes; p++)
      for (let oy = 0; oy < g.oh; oy++)
        for (let ox = 0; ox < g.ow; ox++) {
          let best = -Infinity;
          let at = -1;
          for (let ky = 0; ky < g.kh; ky++) {
            const iy = oy * g.sh - g.ph + ky * g.dh;
            if (iy < 0 || iy >= g.h) continue;
            for (let kx = 0; kx < g.kw; kx++) {
              const ix = ox * g.sw - g.pw + kx * g.dw;
              if (ix < 0 || ix >= g.w) continue;
              const v = X[(p * g.h + iy) * g.w + ix];
              // PyTorch's rule: the first maximum wins, and every NaN takes over (so the last NaN is the index).
              if (v > best || Number.isNaN(v) || at < 0) {
                best = v;
                at = iy * g.w + ix;
              }
            }
          }
          const o = (p * g.oh + oy) * g.ow + ox;
          out[o] = best;
          idx[o] = at;
        }
    return { out: wrap(out), indices: wrap(idx) };
  }

  maxPool2dBackward(gy: Storage, indices: Storage, g: WindowGeometry): Storage {
    const G = d(gy);
    const I = d(indices);
    const plane = g.oh * g.ow;
    const acc = new Float64Array(g.n * g.c * g.h * g.w);
    for (let p = 0; p < g.n * g.c; p++)
      for (let o = 0; o < plane; o++) {
        const at = I[p * plane + o];
        if (at >= 0) acc[p * g.h * g.w + at] += G[p * plane + o];
      }
    return wrap(Float32Array.from(acc));
  }


  avgPool2d(x: Storage, g: AvgPoolGeometry): Storage {
    const X = d(x);
    const out = new Float32Array(g.n * g.c * g.oh * g.ow);
    for (let p = 0; p < g.n * g.c; p++)
      for (let oy = 0; oy < g.oh; oy++)
        for (let ox = 0; ox < g.ow; ox++) {
          const w = avgPoolWindow(g, oy, ox);
          let s = 0;
          for (let iy = w.y0; iy < w.y1; iy++) for (let ix = w.x0; ix < w.x1; ix++) s += X[(p * g.h + iy) * g.w + ix];
          out[(p * g.oh + oy) * g.ow + ox] = s / w.div;
        }
    return wrap(out);
  }

  avgPool2dBackward(gy: Storage, g: AvgPoolGeometry): Storage {
    const G = d(gy);
    const acc = new Float64Array(g.n * g.c * g.h * g.w);
    for (let p = 0; p < g.n * g.c; p++)
      for (let oy = 0; oy < g.oh; oy++)
        for (let ox = 0; ox < g.ow; ox++) {
          const w = avgPoolWindow(g, oy, ox);
          const v = G[(p * g.oh + oy) * g.ow + ox] / w.div;
          for (let iy = w.y0; iy < w.y1; iy++) for (let ix = w.x0; ix < w.x1; ix++) acc[(p * g.h + iy) * g.w + ix] += v;
        }
    return wrap(Float32Array.from(acc));
  }

  batchNorm(x: Storage, shape: Shape, weight: Storage, bias: Storage, eps: number): BatchNormResult {
    const [n, c, h, w] = shape;
    const out = new Float32Array(n * c * h * w);
    const mean = new Float32Array(c);
    const variance = new Float32Array(c);
    bnForwardHost(d(x), out, n, c, h * w, d(weight), d(bias), eps, mean, variance);
    return { out: wrap(out), mean: wrap(mean), var: wrap(variance) };
  }

  batchNormBackward(dy: Storage, x: Storage, shape: Shape, mean: Storage, variance: Storage, weight: Storage, eps: number): BatchNormGrads {
    const [n, c, h, w] = shape;
    const dx = new Float32Array(n * c * h * w);
    const dw = new Float32Array(c);
    const db = new Float32Array(c);
    bnBackwardHost(d(dy), d(x), dx, n, c, h * w, d(weight), eps, dw, db);
    return { dx: wrap(dx), dweight: wrap(dw), dbias: wrap(db) };
  }

  sgdStep(param: Storage, grad: Storage, momentumBuf: Storage | null, p: SgdParams): void {
    const P = d(param);
    const G = d(grad);
    const M = momentumBuf ? d(momentumBuf) : null;
    for (let i = 0; i < P.length; i++) {
      let g = G[i] + p.weightDecay * P[i];
      if (M && p.momentum !== 0) {
        const buf = p.firstStep ? g : p.momentum * M[i] + (1 - p.dampening) * g;
        M[i] = buf;
        g = p.nesterov ? g + p.momentum * buf : buf;
      }
      P[i] = P[i] - p.lr * g;
    }
  }

  adamStep(param: Storage, grad: Storage, mS: Storage, vS: Storage, p: AdamParams): void {
    const P = d(param);
    const G = d(grad);
    const M = d(mS);
    const V = d(vS);
    const bc1 = 1 - Math.pow(p.beta1, p.step);
    const bc2 = 1 - Math.pow(p.beta2, p.step);
    for (let i = 0; i < P.length; i++) {
      let g = G[i];
      let w = P[i];
      if (p.decoupled) w = w * (1 - p.lr * p.weightDecay);
      else g = g + p.weightDecay * w;
      M[i] = p.beta1 * M[i] + (1 - p.beta1) * g;
      V[i] = p.beta2 * V[i] + (1 - p.beta2) * g * g;
      const denom = Math.sqrt(V[i] / bc2) + p.eps;
      P[i] = w - (p.lr / bc1) * (M[i] / denom);
    }
  }
}
