// The backend contract (src/backend.ts): withDefaults() composes every fast path from the core with the
// reference backend's own kernels' results (pools with padding, ceil mode, ties, −∞ and NaN; both optimizers;
// batch norm; the GEMM epilogue), also on a deferred backend, and keeps a backend's own kernels and its
// identity; coreOnly() exposes the core alone; the registry's labels and backendLabel() name backends one way.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AvgPoolGeometry, Backend, Storage, WindowGeometry } from '../src/backend.js';
import { backendLabel, BACKENDS, CORE_MEMBERS, coreOnly, FAST_PATHS, ownFastPaths, parseBackendLabel, withDefaults } from '../src/index.js';
import { ReferenceBackend } from '../src/backends/reference.js';
import { GpujsBackend, gpujsThreadsAvailable } from '../src/backends/gpujs/index.js';
import { f32 } from './helpers/tolerance.js';
import { params, seedArb, values } from './helpers/fd.js';

const own = withDefaults(new ReferenceBackend());
const composed = withDefaults(coreOnly(new ReferenceBackend()));

/** Runs `f` on the reference's own kernels and on the compositions; every storage it returns must agree. */
async function same(what: string, f: (b: Backend, up: (a: ArrayLike<number>) => Storage) => Storage[], k = 16, other: Backend = composed): Promise<void> {
  const run = (b: Backend): Promise<Float32Array[]> => Promise.all(f(b, (a) => b.upload(Float32Array.from(a))).map((s) => b.read(s)));
  const [want, got] = [await run(own), await run(other)];
  const { atol, rtol } = f32(k);
  want.forEach((w, i) =>
    w.forEach((v, j) => {
      const g = got[i][j];
      const ok = Number.isNaN(v) ? Number.isNaN(g) : g === v || Math.abs(g - v) <= atol + rtol * Math.abs(v);
      if (!ok) expect.fail(`${what}: output ${i} [${j}] composed ${g}, own kernel ${v}`);
    }),
  );
}

/** A pooling geometry from sizes, with PyTorch's output size (ceil mode: the last window starts inside). */
function pool(n: number, c: number, h: number, w: number, k: number, s: number, p: number, dil: number, ceil: boolean): WindowGeometry {
  const out = (len: number): number => {
    const span = len + 2 * p - dil * (k - 1) - 1;
    let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
    if (ceil && (o - 1) * s >= len + p) o--;
    return o;
  };
  return { n, c, h, w, kh: k, kw: k, sh: s, sw: s, ph: p, pw: p, dh: dil, dw: dil, oh: out(h), ow: out(w) };
}

const geometry = fc.record({ n: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 1, max: 3 }), h: fc.integer({ min: 3, max: 7 }), w: fc.integer({ min: 3, max: 7 }), k: fc.integer({ min: 1, max: 3 }), s: fc.integer({ min: 1, max: 3 }), dil: fc.integer({ min: 1, max: 2 }), ceil: fc.boolean(), seed: seedArb });

describe('withDefaults() on the core alone agrees with the reference backend’s own kernels', () => {
  it('maxPool2d and its backward: padding never wins, the first maximum (or the last NaN) is the index', async () => {
    await fc.assert(
      fc.asyncProperty(fc.tuple(geometry, fc.constantFrom('plain', 'ties', 'specials', 'nans')), async ([r, kind]) => {
        const g = pool(r.n, r.c, r.h, r.w, r.k, r.s, Math.floor(r.k / 2), r.dil, r.ceil);
        const size = r.n * r.c * r.h * r.w;
        // ties: few distinct values; specials: ±∞ and one NaN per plane; nans: several NaNs in most windows.
        const plane = r.h * r.w;
        const nanAt = r.seed % plane;
        const special = (v: number, i: number): number => (i % plane === nanAt ? NaN : [-Infinity, -Infinity, Infinity, v][i % 4]);
        const x = Array.from(values(r.seed, size), (v, i) => (kind === 'ties' ? Math.round(v) : kind === 'specials' ? special(v, i) : kind === 'nans' && (i * 7 + r.seed) % 3 === 0 ? NaN : v));
        await same('maxPool2d', (b, up) => {
          const m = b.maxPool2d(up(x), g);
          return [m.out, m.indices, b.maxPool2dBackward(up(values(r.seed + 1, g.n * g.c * g.oh * g.ow)), m.indices, g)];
        });
      }),
      params(40),
    );
  });

  it('avgPool2d and its backward, counting padding or not, in ceil mode too', async () => {
    await fc.assert(
      fc.asyncProperty(fc.tuple(geometry, fc.boolean()), async ([r, countIncludePad]) => {
        const g: AvgPoolGeometry = { ...pool(r.n, r.c, r.h, r.w, r.k, r.s, Math.floor(r.k / 2), 1, r.ceil), countIncludePad };
        await same('avgPool2d', (b, up) => [b.avgPool2d(up(values(r.seed, r.n * r.c * r.h * r.w)), g), b.avgPool2dBackward(up(values(r.seed + 1, g.n * g.c * g.oh * g.ow)), g)], r.k * r.k);
      }),
      params(40),
    );
  });

  it('batch norm forward and backward', async () => {
    const shape = [3, 2, 4, 5];
    const w = [1.5, -0.5];
    await same('batchNorm', (b, up) => {
      const x = up(values(7, 120));
      const r = b.batchNorm(x, shape, up(w), up([0.25, 1]), 1e-5);
      const gr = b.batchNormBackward(up(values(8, 120)), x, shape, r.mean, r.var, up(w), 1e-5);
      return [r.out, r.mean, r.var, gr.dx, gr.dweight, gr.dbias];
    }, 60);
  });

  it('SGD (momentum, dampening, nesterov, weight decay, first step) and Adam/AdamW steps, in place', async () => {
    for (const [momentum, nesterov, firstStep] of [[0, false, false], [0.9, true, false], [0.9, false, true], [0.5, false, false]] as const) {
      await same(`sgdStep momentum=${momentum}`, (b, up) => {
        const [p, m] = [up(values(1, 9)), up(values(2, 9))];
        b.sgdStep(p, up(values(3, 9)), m, { lr: 0.1, momentum, dampening: 0.1, weightDecay: 0.01, nesterov, firstStep });
        return [p, m];
      });
    }
    for (const decoupled of [false, true]) {
      await same(`adamStep decoupled=${decoupled}`, (b, up) => {
        const [p, m, v] = [up(values(1, 9)), up(values(2, 9)), up(Array.from(values(4, 9), Math.abs))];
        b.adamStep(p, up(values(3, 9)), m, v, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled, step: 3 });
        return [p, m, v];
      });
    }
  });

  it('the GEMM epilogue, with and without residual and ReLU', async () => {
    const g = { batch: 1, batchA: 1, batchB: 1, m: 3, k: 4, n: 5, transA: false, transB: false };
    for (const [residual, relu] of [[true, true], [false, false], [false, true]] as const) {
      await same('matmulEpilogue', (b, up) => {
        const e = { scale: up(values(3, 3)), shift: up(values(4, 3)), residual: residual ? up(values(5, 15)) : null, relu };
        // The reference backend has no fused GEMM: its "own" result is the unfused sequence of kernels.
        if (b === own) {
          let y = b.binary('add', b.binary('mul', b.matmul(up(values(1, 12)), up(values(2, 20)), g), [3, 5], e.scale, [3, 1], [3, 5]), [3, 5], e.shift, [3, 1], [3, 5]);
          if (e.residual) y = b.binary('add', y, [3, 5], e.residual, [3, 5], [3, 5]);
          return [relu ? b.unary('relu', y, 0) : y];
        }
        return [b.matmulEpilogue(up(values(1, 12)), up(values(2, 20)), g, e)];
      });
    }
  });
  it('the conv epilogue (3×3 padded, strided and dilated windows): im2col then the GEMM epilogue', async () => {
    for (const [s, dil, residual, relu] of [[1, 1, true, true], [2, 1, false, false], [1, 2, false, true]] as const) {
      const g = pool(2, 3, 6, 5, 3, s, 1, dil, false);
      const [oc, k, n] = [4, 27, 2 * g.oh * g.ow];
      await same(`convEpilogue stride ${s} dilation ${dil}`, (b, up) => {
        const e = { scale: up(values(3, oc)), shift: up(values(4, oc)), residual: residual ? up(values(5, oc * n)) : null, relu };
        const [x, w] = [up(values(1, 2 * 3 * 6 * 5)), up(values(2, oc * k))];
        if (b === own) {
          const mm = { batch: 1, batchA: 1, batchB: 1, m: oc, k, n, transA: false, transB: false };
          let y = b.binary('add', b.binary('mul', b.matmul(w, b.im2col(x, g), mm), [oc, n], e.scale, [oc, 1], [oc, n]), [oc, n], e.shift, [oc, 1], [oc, n]);
          if (e.residual) y = b.binary('add', y, [oc, n], e.residual, [oc, n], [oc, n]);
          return [relu ? b.unary('relu', y, 0) : y];
        }
        return [b.convEpilogue(x, w, g, oc, e)];
      }, k);
    }
  });
  it('the training conv forward (padded, strided and dilated windows): im2col then one GEMM', async () => {
    for (const [s, dil, p] of [[1, 1, 1], [2, 1, 0], [1, 2, 2]] as const) {
      const g = pool(2, 3, 6, 5, 3, s, p, dil, false);
      const [oc, k, n] = [4, 27, 2 * g.oh * g.ow];
      await same(`convForward stride ${s} dilation ${dil} padding ${p}`, (b, up) => {
        const [x, w] = [up(values(1, 2 * 3 * 6 * 5)), up(values(2, oc * k))];
        if (b === own) return [b.matmul(w, b.im2col(x, g), { batch: 1, batchA: 1, batchB: 1, m: oc, k, n, transA: false, transB: false }), b.im2col(x, g)];
        const r = b.convForward(x, w, g, oc);
        return r.cols ? [r.out, r.cols] : [r.out, b.im2col(x, g)];
      }, k);
    }
  });
  it("a conv's weight gradient (padded, strided and dilated windows), with the forward's columns or without", async () => {
    for (const [s, dil, p, kept] of [[1, 1, 1, false], [1, 1, 1, true], [2, 1, 0, false], [1, 2, 2, true]] as const) {
      const g = pool(2, 3, 6, 5, 3, s, p, dil, false);
      const [oc, k, n] = [4, 27, 2 * g.oh * g.ow];
      await same(`convWeightGrad stride ${s} dilation ${dil} padding ${p} columns ${kept ? 'kept' : 'made'}`, (b, up) => {
        const [gy, x] = [up(values(1, oc * n)), up(values(2, 2 * 3 * 6 * 5))];
        if (b === own) return [b.matmul(gy, b.im2col(x, g), { batch: 1, batchA: 1, batchB: 1, m: oc, k: n, n: k, transA: false, transB: true })];
        return [b.convWeightGrad(gy, x, kept ? b.im2col(x, g) : null, g, oc)];
      }, n);
    }
  });
  it("a conv's input gradient (padded, strided and dilated windows): col2im(weightᵀ·gy); at stride 1 the flipped-weight conv", async () => {
    for (const [s, dil, p] of [[1, 1, 1], [1, 1, 0], [1, 1, 2], [2, 1, 1], [1, 2, 1]] as const) {
      const g = pool(2, 3, 6, 5, 3, s, p, dil, false);
      const [oc, k, n] = [4, 27, 2 * g.oh * g.ow];
      await same(`convInputGrad stride ${s} dilation ${dil} padding ${p}`, (b, up) => {
        const [gy, w] = [up(values(1, oc * n)), up(values(2, oc * k))];
        if (b !== own) return [b.convInputGrad(gy, w, g, oc)];
        if (s !== 1 || dil !== 1) return [b.col2im(b.matmul(w, gy, { batch: 1, batchA: 1, batchB: 1, m: k, k: oc, n, transA: true, transB: false }), g)];
        // What a Winograd input gradient relies on: gy (as images) convolved with the weight flipped in space
        // and transposed to [c, oc, 3, 3], padded by 2 − p, gives x's size back.
        const wv = values(2, oc * k);
        const flipped = new Float32Array(oc * k);
        for (let o = 0; o < oc; o++) for (let c = 0; c < 3; c++) for (let i = 0; i < 9; i++) flipped[(c * oc + o) * 9 + 8 - i] = wv[(o * 3 + c) * 9 + i];
        const img = b.permute(gy, [oc, 2, g.oh * g.ow], [1, 0, 2]);
        const tg = { ...g, c: oc, h: g.oh, w: g.ow, ph: 2 - p, pw: 2 - p, oh: g.h, ow: g.w };
        const y = b.matmul(up(flipped), b.im2col(img, tg), { batch: 1, batchA: 1, batchB: 1, m: 3, k: oc * 9, n: 2 * g.h * g.w, transA: false, transB: false });
        return [b.permute(y, [3, 2, g.h * g.w], [1, 0, 2])];
      }, oc * 9);
    }
  });
});

describe('the compositions on a deferred backend (gpu.js webasm on 2 threads: kernels queued, run later in call order)', () => {
  it.skipIf(!gpujsThreadsAvailable())('pools, optimizer steps (in place, then read) and the epilogue agree with the reference', async () => {
    const inner = new GpujsBackend('webasm', 2);
    const deferred = withDefaults(coreOnly(inner));
    try {
      expect(deferred.deferred).toBe(true);
      expect(deferred.readSync).toBeUndefined();
      const g = pool(2, 3, 6, 5, 3, 2, 1, 1, true);
      const a: AvgPoolGeometry = { ...g, dh: 1, dw: 1, oh: 3, ow: 3, countIncludePad: false };
      await same('deferred pools', (b, up) => {
        const x = up(values(1, 180));
        const m = b.maxPool2d(x, g);
        return [m.out, m.indices, b.maxPool2dBackward(up(values(2, 2 * 3 * g.oh * g.ow)), m.indices, g), b.avgPool2d(x, a), b.avgPool2dBackward(up(values(3, 54)), a)];
      }, 9, deferred);
      await same('deferred optimizer steps', (b, up) => {
        const [p, m, v, q, buf] = [up(values(1, 9)), up(values(2, 9)), up(Array.from(values(4, 9), Math.abs)), up(values(5, 9)), up(values(6, 9))];
        b.adamStep(p, up(values(3, 9)), m, v, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true, step: 2 });
        b.sgdStep(q, p, buf, { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: true, firstStep: false }); // reads the new p
        return [p, m, v, q, buf];
      }, 16, deferred);
    } finally {
      inner.destroy();
    }
  });
});

describe('the contract', () => {
  it('coreOnly() exposes the core only; withDefaults() fills the rest in place, keeps own kernels, and is idempotent', () => {
    const ref = new ReferenceBackend();
    const bare = coreOnly(ref);
    expect(Object.keys(bare).filter((k) => typeof (bare as unknown as Record<string, unknown>)[k] === 'function').sort()).toEqual(CORE_MEMBERS.filter((m) => typeof ref[m as keyof ReferenceBackend] === 'function').sort());
    expect(ownFastPaths(bare).size).toBe(0);
    const done = withDefaults(bare);
    expect(done).toBe(bare);
    for (const m of FAST_PATHS) expect(typeof done[m], m).toBe('function');
    expect(ownFastPaths(done).size).toBe(0); // composed ones do not count as the backend's own
    const before = ref.maxPool2d;
    const full = withDefaults(ref);
    expect(full.maxPool2d).toBe(before);
    expect([...ownFastPaths(full)].sort()).toEqual(FAST_PATHS.filter((m) => m !== 'matmulEpilogue' && m !== 'convEpilogue' && m !== 'convForward' && m !== 'convInputGrad' && m !== 'convWeightGrad').sort());
    const epilogue = full.matmulEpilogue;
    expect(withDefaults(full).matmulEpilogue).toBe(epilogue);
    expect(bare.deferred).toBe(false);
  });

  it('labels: one syntax for every backend, and one way to print a backend', () => {
    expect(BACKENDS.map((b) => b.name)).toEqual(['reference', 'wasm', 'gpujs']);
    expect(parseBackendLabel('reference:core-only')).toEqual({ name: 'reference', options: { mode: 'core-only' } });
    expect(parseBackendLabel('wasm:simd128:threads2')).toEqual({ name: 'wasm', options: { relaxed: false, threads: 2 } });
    expect(parseBackendLabel('wasm:2')).toEqual({ name: 'wasm', options: { threads: 2 } });
    expect(parseBackendLabel('gpujs:webasm:threads2')).toEqual({ name: 'gpujs', options: { mode: 'webasm', threads: 2 } });
    expect(backendLabel(new ReferenceBackend())).toBe('reference');
    expect(backendLabel(coreOnly(new ReferenceBackend()))).toBe('reference:core-only');
    expect(backendLabel({ name: 'gpujs', mode: 'webasm' })).toBe('gpujs:webasm');
  });
});
