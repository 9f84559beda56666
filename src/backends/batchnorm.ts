// Training-mode batch norm as one kernel pair: host loops (reference and wasm backends, float64 sums, each
// channel's values visited while they sit in cache) and a composition of any backend's own primitives (gpu.js).
import type { BatchNormGrads, BatchNormResult, CoreBackend, Storage } from '../backend.js';

/**
 * x [n, c, hw] → y = (x − mean_c)·w_c/√(var_c + eps) + b_c with the batch mean and biased variance per channel
 * (two passes: the mean, then squared deviations, so no cancellation). Writes y, mean and var.
 */
export function bnForwardHost(x: Float32Array, y: Float32Array, n: number, c: number, hw: number, w: Float32Array, b: Float32Array, eps: number, mean: Float32Array, variance: Float32Array): void {
  const cnt = n * hw;
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let i = 0; i < n; i++) for (let o = (i * c + ch) * hw, e = o + hw; o < e; o++) s += x[o];
    const mu = s / cnt;
    let q = 0;
    for (let i = 0; i < n; i++) for (let o = (i * c + ch) * hw, e = o + hw; o < e; o++) q += (x[o] - mu) * (x[o] - mu);
    const v = q / cnt;
    mean[ch] = mu;
    variance[ch] = v;
    const scale = w[ch] / Math.sqrt(v + eps);
    const shift = b[ch] - mu * scale;
    for (let i = 0; i < n; i++) for (let o = (i * c + ch) * hw, e = o + hw; o < e; o++) y[o] = x[o] * scale + shift;
  }
}

/**
 * The gradient of bnForwardHost. With x̂ = (x − mean)·invstd, N = n·hw, Σ over the channel:
 * dbias = Σdy, dweight = Σdy·x̂, dx = w·invstd·(dy − Σdy/N − x̂·Σ(dy·x̂)/N).
 */
export function bnBackwardHost(dy: Float32Array, x: Float32Array, dx: Float32Array, n: number, c: number, hw: number, w: Float32Array, eps: number, dw: Float32Array, db: Float32Array): void {
  const cnt = n * hw;
  for (let ch = 0; ch < c; ch++) {
    // The statistics again in float64 rather than the saved float32 ones: with few values per channel dx is
    // a small difference of large terms, and float32 statistics would be amplified into it.
    let s = 0;
    for (let i = 0; i < n; i++) for (let o = (i * c + ch) * hw, e = o + hw; o < e; o++) s += x[o];
    const mu = s / cnt;
    let q = 0;
    let sdy = 0;
    let sdx = 0; // Σ dy·(x − mean)
    for (let i = 0; i < n; i++) {
      for (let o = (i * c + ch) * hw, e = o + hw; o < e; o++) {
        const d = x[o] - mu;
        q += d * d;
        sdy += dy[o];
        sdx += dy[o] * d;
      }
    }
    const invstd = 1 / Math.sqrt(q / cnt + eps);
    db[ch] = sdy;
    dw[ch] = sdx * invstd;
    // dx = a·dy + k·(x − mean) + m
    const a = w[ch] * invstd;
    const k = (-a * invstd * invstd * sdx) / cnt;
    const m = (-a * sdy) / cnt;
    for (let i = 0; i < n; i++) for (let o = (i * c + ch) * hw, e = o + hw; o < e; o++) dx[o] = a * dy[o] + k * (x[o] - mu) + m;
  }
}

/**
 * The same pair composed from a backend's own reduce/binary/unary kernels, for backends (gpu.js) whose data
 * stay on the device. shape is [n, c, h, w]; weight, bias, mean and var hold c values.
 */
export function bnForwardComposed(be: CoreBackend, x: Storage, shape: readonly number[], weight: Storage, bias: Storage, eps: number): BatchNormResult {
  const [n, c, h, w] = shape;
  const cs = [1, c, 1, 1];
  const tmp: Storage[] = [];
  const t = (s: Storage): Storage => (tmp.push(s), s);
  const inv = t(be.fill(1, 1 / (n * h * w)));
  const mean4 = be.binary('mul', t(be.reduce('sum', x, shape, [0, 2, 3])), cs, inv, [], cs);
  const xc = t(be.binary('sub', x, shape, mean4, cs, shape));
  const var4 = be.binary('mul', t(be.reduce('sum', t(be.binary('mul', xc, shape, xc, shape, shape)), shape, [0, 2, 3])), cs, inv, [], cs);
  const invstd = t(be.unary('pow', t(be.binary('add', var4, cs, t(be.fill(1, eps)), [], cs)), -0.5));
  const scale = t(be.binary('mul', invstd, cs, weight, cs, cs));
  const out = be.binary('add', t(be.binary('mul', xc, shape, scale, cs, shape)), shape, bias, cs, shape);
  for (const s of tmp) be.release(s);
  return { out, mean: mean4, var: var4 };
}

export function bnBackwardComposed(be: CoreBackend, dy: Storage, x: Storage, shape: readonly number[], mean: Storage, variance: Storage, weight: Storage, eps: number): BatchNormGrads {
  const [n, c, h, w] = shape;
  const cs = [1, c, 1, 1];
  const axes = [0, 2, 3];
  const tmp: Storage[] = [];
  const t = (s: Storage): Storage => (tmp.push(s), s);
  const invstd = t(be.unary('pow', t(be.binary('add', variance, [c], t(be.fill(1, eps)), [], [c])), -0.5));
  const xc = t(be.binary('sub', x, shape, mean, cs, shape));
  const dbias = be.reduce('sum', dy, shape, axes);
  const sdx = t(be.reduce('sum', t(be.binary('mul', dy, shape, xc, shape, shape)), shape, axes));
  const dweight = be.binary('mul', sdx, cs, invstd, cs, cs);
  const inv = t(be.fill(1, -1 / (n * h * w)));
  const a = t(be.binary('mul', weight, [c], invstd, [c], [c]));
  const k = t(be.binary('mul', t(be.binary('mul', t(be.binary('mul', a, [c], invstd, [c], [c])), [c], invstd, [c], [c])), [c], t(be.binary('mul', sdx, cs, inv, [], cs)), [c], [c]));
  const m = t(be.binary('mul', a, [c], t(be.binary('mul', dbias, cs, inv, [], cs)), [c], [c]));
  const dx1 = t(be.binary('mul', dy, shape, a, cs, shape));
  const dx2 = t(be.binary('add', dx1, shape, t(be.binary('mul', xc, shape, k, cs, shape)), shape, shape));
  const dx = be.binary('add', dx2, shape, m, cs, shape);
  for (const s of tmp) be.release(s);
  return { dx, dweight, dbias };
}
