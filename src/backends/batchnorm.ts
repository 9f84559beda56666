// Training-mode batch norm's one home: the gradient formula (bnGradCoefficients, written once for numbers and
// for storages), the host loops of the reference backend (float64 sums, each channel's values visited while they
// sit in cache), and the composition from any backend's core kernels that withDefaults() gives backends without a
// kernel pair of their own (gpu.js; the reference backend reduced to its core). The wasm backend's kernels take
// their per-channel coefficients from bnGradCoefficients too.
import type { BatchNormGrads, BatchNormResult, CoreBackend, Storage } from '../backend.js';

/** Per-channel arithmetic: plain numbers on the host, or [c] storages computed by a backend's kernels. */
export interface ChannelMath<T> {
  mul(a: T, b: T): T;
  scale(a: T, s: number): T;
}

/** ChannelMath on plain numbers (one channel at a time). */
export const hostMath: ChannelMath<number> = { mul: (a, b) => a * b, scale: (a, s) => a * s };

/**
 * The batch-norm gradient, per channel: the formula every backend uses. With x̂ = (x − mean)·invstd, N = count
 * values per channel and Σ over the channel, given sdy = Σdy and sdxc = Σdy·(x − mean):
 * dbias = Σdy, dweight = Σdy·x̂ = sdxc·invstd, and dx = w·invstd·(dy − Σdy/N − x̂·Σ(dy·x̂)/N), which is
 * dx = a·dy + k·(x − mean) + m with a = w·invstd, k = −a·invstd²·sdxc/N, m = −a·sdy/N.
 */
export function bnGradCoefficients<T>(o: ChannelMath<T>, w: T, invstd: T, sdy: T, sdxc: T, count: number): { a: T; k: T; m: T; dweight: T; dbias: T } {
  const a = o.mul(w, invstd);
  return {
    a,
    k: o.mul(o.mul(o.mul(a, invstd), invstd), o.scale(sdxc, -1 / count)),
    m: o.mul(a, o.scale(sdy, -1 / count)),
    dweight: o.mul(sdxc, invstd),
    dbias: sdy,
  };
}

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

/** The gradient of bnForwardHost (the formula: bnGradCoefficients). */
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
    const { a, k, m, dweight, dbias } = bnGradCoefficients(hostMath, w[ch], 1 / Math.sqrt(q / cnt + eps), sdy, sdx, cnt);
    db[ch] = dbias;
    dw[ch] = dweight;
    for (let i = 0; i < n; i++) for (let o = (i * c + ch) * hw, e = o + hw; o < e; o++) dx[o] = a * dy[o] + k * (x[o] - mu) + m;
  }
}

/**
 * The same pair composed from a backend's core reduce/binary/unary kernels, for backends whose data stay on the
 * device (gpu.js) or that have no kernels of their own (withDefaults()). shape is [n, c, h, w]; weight, bias,
 * mean and var hold c values.
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
  const math: ChannelMath<Storage> = {
    mul: (p, q) => t(be.binary('mul', p, [c], q, [c], [c])),
    scale: (p, v) => t(be.binary('mul', p, [c], t(be.fill(1, v)), [], [c])),
  };
  const invstd = t(be.unary('pow', t(be.binary('add', variance, [c], t(be.fill(1, eps)), [], [c])), -0.5));
  const xc = t(be.binary('sub', x, shape, mean, cs, shape));
  const sdy = be.reduce('sum', dy, shape, axes);
  const sdx = t(be.reduce('sum', t(be.binary('mul', dy, shape, xc, shape, shape)), shape, axes));
  const { a, k, m, dweight, dbias } = bnGradCoefficients(math, weight, invstd, sdy, sdx, n * h * w);
  const dx1 = t(be.binary('mul', dy, shape, a, cs, shape));
  const dx2 = t(be.binary('add', dx1, shape, t(be.binary('mul', xc, shape, k, cs, shape)), shape, shape));
  const dx = be.binary('add', dx2, shape, m, cs, shape);
  for (const s of tmp) if (s !== dweight) be.release(s);
  return { dx, dweight, dbias };
}
