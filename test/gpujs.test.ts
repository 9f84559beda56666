// gpu.js backend tests beyond the shared property suites: the guards against gpu.js's silent failures,
// mode fallback and the mode that actually ran, kernel caching, in-place optimizer steps, and memory.
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import * as G from '../src/index.js';
import { GpujsBackend, gpujsModeAvailable, gpujsThreadsAvailable, installWebGPU, type GpujsMode } from '../src/index.js';
import { ReferenceBackend } from '../src/backends/reference.js';
import type { WindowGeometry } from '../src/backend.js';

const wanted = (m: string): boolean => !process.env.GPUGRAD_GPUJS_MODES || process.env.GPUGRAD_GPUJS_MODES.split(',').includes(m);
const modes = (['cpu', 'webasm', 'headlessgl'] as GpujsMode[]).filter((m) => wanted(m) && gpujsModeAvailable(m));
const expectedClass: Record<string, string> = { cpu: 'CPUKernel', webasm: 'WebAssemblyKernel', headlessgl: 'HeadlessGLKernel' };
const ref = new ReferenceBackend();

const seq = (n: number, f: (i: number) => number): Float32Array => Float32Array.from({ length: n }, (_, i) => f(i));
const maxDiff = (a: Float32Array, b: Float32Array): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

// ResNet-50's conv1 (7×7, stride 2, pad 3 on 224²) at batch 16: im2col is 147 × 200,704 = 29.5 M elements.
const conv1b16: WindowGeometry = { n: 16, c: 3, h: 224, w: 224, kh: 7, kw: 7, sh: 2, sw: 2, ph: 3, pw: 3, dh: 1, dw: 1, oh: 112, ow: 112 };

describe.each(modes)('gpujs:%s', (mode) => {
  const b = new GpujsBackend(mode);
  afterEach(() => {
    b.indexLimit = 2 ** 24;
  });

  it('runs its kernels in the mode asked for (checked on the compiled kernel, not the request)', () => {
    const x = b.upload(seq(10, (i) => i - 5));
    const y = b.unary('relu', x, 0);
    b.release(y);
    b.release(x);
    expect(b.mode).toBe(mode);
    expect(b.fallbackReason).toBeNull();
    expect(b.ranAs.get('unary.relu')).toBe(expectedClass[mode]);
  });

  it('compiles one kernel per op and shape and reuses it', () => {
    const x = b.upload(seq(12, (i) => i));
    const y = b.upload(seq(13, (i) => i));
    const before = b.compiled;
    const outs = [b.unary('exp', x, 0), b.unary('exp', x, 0)];
    expect(b.compiled).toBe(before + 1);
    outs.push(b.unary('exp', y, 0));
    expect(b.compiled).toBe(before + 2);
    // Results of repeated calls to one kernel are distinct buffers (gpu.js reuses outputs unless told not to).
    expect(Array.from(b.readSync!(outs[0]))).toEqual(Array.from(b.readSync!(outs[1])));
    const z = b.unary('exp', y, 0);
    expect(b.readSync!(outs[2])[12]).toBeCloseTo(Math.exp(12), -1);
    for (const s of [...outs, x, y, z]) b.release(s);
  });

  it('caches the GEMM pipeline\'s kernels like every other kernel: a repeated product compiles nothing', () => {
    const g = { batch: 1, batchA: 1, batchB: 1, m: 24, k: 300, n: 40, transA: false, transB: false };
    const a = b.upload(seq(g.m * g.k, (i) => Math.sin(i)));
    const w = b.upload(seq(g.k * g.n, (i) => Math.cos(i)));
    const first = b.matmul(a, w, g);
    const after = b.compiled;
    const again = b.matmul(a, w, g);
    expect(b.compiled).toBe(after);
    expect(Array.from(b.readSync!(again))).toEqual(Array.from(b.readSync!(first)));
    for (const t of [a, w, first, again]) b.release(t);
  });

  it('sums loops longer than gpu.js\'s default loopMaxIterations (1000) in full', () => {
    const k = 3000;
    const a = b.upload(new Float32Array(k).fill(1));
    const s = b.reduce('sum', a, [k], [0]);
    expect(b.readSync!(s)[0]).toBe(k);
    const m = b.matmul(a, a, { batch: 1, batchA: 1, batchB: 1, m: 1, k, n: 1, transA: false, transB: false });
    expect(b.readSync!(m)[0]).toBe(k);
    for (const t of [a, s, m]) b.release(t);
  });

  it('updates the optimizer state in place: the same handles hold the new values', () => {
    const p = b.upload(Float32Array.from([1, 2, 3]));
    const g = b.upload(Float32Array.from([0.5, -1, 2]));
    const m = b.upload(new Float32Array(3));
    const v = b.upload(new Float32Array(3));
    const live = b.live;
    b.adamStep(p, g, m, v, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, step: 1 });
    expect(b.live).toBe(live);
    // First Adam step moves every weight by lr·sign(g).
    const got = b.readSync!(p);
    [0.9, 2.1, 2.9].forEach((w, i) => expect(got[i]).toBeCloseTo(w, 5));
    expect(b.readSync!(m)[1]).toBeCloseTo(-0.1, 6);
    const buf = b.upload(new Float32Array(3));
    b.sgdStep(p, g, buf, { lr: 1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, firstStep: true });
    expect(Array.from(b.readSync!(buf))).toEqual([0.5, -1, 2]);
    // GL updates param and state in one kernel-map pass (render targets); the other modes run one kernel each.
    const gl = mode === 'headlessgl' || mode === 'webgl2';
    expect(b.ranAs.get(gl ? 'sgdStep.fused' : 'sgdStep.param')).toBe(expectedClass[mode]);
    expect(b.ranAs.get(gl ? 'adamStep.fused' : 'adamStep.0')).toBe(expectedClass[mode]);
    expect(b.live).toBe(live + 1);
    for (const t of [p, g, m, v, buf]) b.release(t);
  });

  it('SGD with momentum, dampening, Nesterov and weight decay over several steps, on a tensor past GL\'s 16384-texel side', () => {
    const n = 70001;
    const w0 = seq(n, (i) => Math.sin(i * 0.1));
    const grads = [0, 1, 2].map((s) => seq(n, (i) => Math.cos(i * 0.07 + s)));
    const p = b.upload(w0);
    const buf = b.upload(new Float32Array(n));
    const hp = { lr: 0.1, momentum: 0.9, dampening: 0.25, weightDecay: 0.01, nesterov: true };
    // The same updates in float32 on the host (PyTorch's SGD rule).
    const w = Float32Array.from(w0);
    const mb = new Float32Array(n);
    const f = Math.fround;
    grads.forEach((gr, s) => {
      const g = b.upload(gr);
      b.sgdStep(p, g, buf, { ...hp, firstStep: s === 0 });
      b.release(g);
      for (let i = 0; i < n; i++) {
        let d = f(gr[i] + f(hp.weightDecay * w[i]));
        mb[i] = s === 0 ? d : f(f(hp.momentum * mb[i]) + f(f(1 - hp.dampening) * d));
        d = f(d + f(hp.momentum * mb[i]));
        w[i] = f(w[i] - f(hp.lr * d));
      }
    });
    const got = b.readSync!(p);
    const gotBuf = b.readSync!(buf);
    let err = 0;
    for (let i = 0; i < n; i++) err = Math.max(err, Math.abs(got[i] - w[i]) / (1 + Math.abs(w[i])), Math.abs(gotBuf[i] - mb[i]) / (1 + Math.abs(mb[i])));
    expect(err).toBeLessThan(1e-6);
    for (const t of [p, buf]) b.release(t);
  });

  it('frees every storage it creates, including the temporaries of chained kernels', () => {
    const start = b.live;
    const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => b.upload(seq(4, () => i)));
    const cat = b.concat(xs, xs.map(() => [4]), 0);
    expect(b.readSync!(cat)[39]).toBe(10);
    for (const t of [...xs, cat]) b.release(t);
    expect(b.live).toBe(start);
  });

  it('a loop of ops under tidy does not grow memory()', async () => {
    G.setBackend('gpujs', { mode });
    const w = G.randn([16, 16]);
    const step = (): void => {
      G.tidy(() => {
        const y = G.relu(G.matmul(w, w)).sum();
        void y;
      });
    };
    step();
    const before = G.memory();
    const liveBefore = (G.currentBackend() as GpujsBackend).live;
    for (let i = 0; i < 20; i++) step();
    expect(G.memory().bytes).toBe(before.bytes);
    expect(G.memory().tensors).toBe(before.tensors);
    expect((G.currentBackend() as GpujsBackend).live).toBe(liveBefore);
    w.dispose();
  });

  // The eval-mode conv → batch norm (→ add) (→ ReLU) fused into the GEMM: on GL inside the unpacking pass, on the
  // host kernels while unpacking, and as one pass of its own where the product misses GL's texture side (k/4 past
  // 16384). Checked against this backend's own product with the epilogue applied in float64, so the bound is the
  // epilogue's rounding, not the long sum's (the product itself is checked in the property suites).
  it('applies the fused GEMM epilogue on every GEMM path (tiled, GL pipeline, past GL\'s texture side)', () => {
    const live = b.live;
    for (const [m, k, n] of [[5, 7, 300], [2, 70000, 3]]) {
      for (const [residual, relu] of [[false, false], [true, true], [false, true]]) {
        const A = seq(m * k, (i) => Math.sin(i * 1.3) / Math.sqrt(k));
        const B = seq(k * n, (i) => Math.cos(i * 0.7));
        const scale = seq(m, (i) => 0.5 + i);
        const shift = seq(m, (i) => i % 2 ? 0.25 : -0.75);
        const res = seq(m * n, (i) => Math.sin(i));
        const g = { batch: 1, batchA: 1, batchB: 1, m, k, n, transA: false, transB: false };
        const ins = [A, B, scale, shift, res].map((x) => b.upload(x));
        const prod = b.matmul(ins[0], ins[1], g);
        const C = b.readSync!(prod);
        b.release(prod);
        const want = C.map((v, o) => {
          const y = v * scale[Math.floor(o / n)] + shift[Math.floor(o / n)] + (residual ? res[o] : 0);
          return relu ? Math.max(y, 0) : y;
        });
        const out = b.matmulEpilogue(ins[0], ins[1], g, { scale: ins[2], shift: ins[3], residual: residual ? ins[4] : null, relu });
        const got = b.readSync!(out);
        expect(maxDiff(got, want), `${m}×${k}×${n} residual ${residual} relu ${relu}`).toBeLessThan(1e-6 * Math.max(1, ...want.map(Math.abs)));
        if (relu) expect(Math.min(...got)).toBe(0);
        for (const t of [...ins, out]) b.release(t);
      }
    }
    expect(b.live).toBe(live);
    if (mode === 'headlessgl') {
      expect(b.ranAs.get('matmul.unpack.epilogue')).toBe('HeadlessGLKernel');
      expect(b.ranAs.get('matmul.epilogue.res.relu')).toBe('HeadlessGLKernel');
    }
    if (mode === 'webasm') expect(b.ranAs.get('matmul.host4')).toBe('WebAssemblyKernel');
  });

  it('computes on more elements than headless-gl allows along one texture side (16384)', () => {
    const n = 16384 * 3 + 5;
    const x = b.upload(seq(n, (i) => i % 97));
    const y = b.unary('neg', x, 0);
    const got = b.readSync!(y);
    expect(got[n - 1]).toBe(-((n - 1) % 97));
    expect(got[20000]).toBe(-(20000 % 97));
    b.release(x);
    b.release(y);
  });

  // Batch norm's 1/√(var+eps) is pow(·, -0.5). llvmpipe's GLSL pow was up to 4.8 ulp off there, enough to
  // flip the sign of one near-zero ReLU input in ResNet-50 and with it the headlessgl input gradient.
  it("pow(x, ±0.5) is within 1 ulp, and a zero base with a negative exponent gives Infinity as in JS", () => {
    const n = 20000;
    const xs = seq(n, (i) => Math.exp((i / n - 0.5) * 18.4)); // 1e-4 … 1e4
    const ulp = (v: number): number => {
      const f = new Float32Array([Math.abs(v)]);
      const next = new Float32Array(f);
      new Uint32Array(next.buffer)[0]++;
      return next[0] - f[0];
    };
    const x = b.upload(xs);
    for (const p of [-0.5, 0.5]) {
      const y = b.unary('pow', x, p);
      const got = b.readSync!(y);
      let worst = 0;
      for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(got[i] - Math.pow(xs[i], p)) / ulp(Math.pow(xs[i], p)));
      expect(worst, `pow(x, ${p}): worst error in ulp`).toBeLessThanOrEqual(1);
      b.release(y);
    }
    b.release(x);
    const z = b.upload(Float32Array.from([0, -0, 4]));
    for (const p of [-0.5, -1.5, -9]) {
      const y = b.unary('pow', z, p);
      expect(Array.from(b.readSync!(y)), `pow(·, ${p})`).toEqual([0, -0, 4].map((v) => Math.fround(Math.pow(v, p))));
      b.release(y);
    }
    b.release(z);
  });
});

describe.runIf(modes.includes('webasm'))('gpujs:webasm wasm memories', () => {
  it('keeps at most webasmWarmKernels kernels holding a wasm memory (browsers cap them), and parked kernels still compute', () => {
    const saved = GpujsBackend.webasmWarmKernels;
    GpujsBackend.webasmWarmKernels = 2;
    const b = new GpujsBackend('webasm');
    try {
      const ops = ['exp', 'neg', 'abs', 'relu'] as const;
      for (let round = 0; round < 2; round++) {
        for (const [i, op] of ops.entries()) {
          const x = seq(8 + i, (j) => j / 7 - 0.5);
          const got = b.readSync!(b.unary(op, b.upload(x), 0));
          const want = ref.readSync(ref.unary(op, ref.upload(x), 0));
          expect(maxDiff(got, want), `${op} round ${round}`).toBeLessThanOrEqual(1e-6);
          expect(b.warmWasmKernels).toBeLessThanOrEqual(2);
        }
      }
      // Parking frees memories, not compiled kernels.
      expect(b.compiled).toBe(ops.length);
    } finally {
      GpujsBackend.webasmWarmKernels = saved;
      b.destroy();
    }
  });
});

describe.runIf(modes.includes('webasm'))('gpujs:webasm flat-index guard', () => {
  const b = new GpujsBackend('webasm');
  const x = Float32Array.from({ length: conv1b16.n * conv1b16.c * conv1b16.h * conv1b16.w }, (_, i) => (i % 251) / 251 - 0.5);
  const want = ref.readSync(ref.im2col(ref.upload(x), conv1b16));

  it('batch-16 conv1 im2col (29.5 M elements, past 2^24) matches the reference', () => {
    const xs = b.upload(x);
    const cols = b.im2col(xs, conv1b16);
    expect(cols.size).toBe(147 * 16 * 112 * 112);
    expect(maxDiff(b.readSync!(cols), want)).toBe(0);
    b.release(cols);
    b.release(xs);
  });

  it('without the guard gpu.js silently reads the wrong elements (why the guard exists)', () => {
    b.indexLimit = 2 ** 31;
    const xs = b.upload(x);
    const cols = b.im2col(xs, conv1b16);
    expect(maxDiff(b.readSync!(cols), want)).toBeGreaterThan(0);
    b.release(cols);
    b.release(xs);
    b.indexLimit = 2 ** 24;
  });

  it('conv1 forward and backward GEMMs at batch 16 are tiled and correct', () => {
    // gW = gy · colsᵀ (k = 200,704) and gCols = Wᵀ · gy (29.5 M outputs) on a thin slice of conv1's shapes.
    const N = 16 * 112 * 112;
    const K = 147;
    const gy = seq(2 * N, (i) => ((i * 7) % 13) / 13 - 0.5);
    const cols = want;
    const geo = { batch: 1, batchA: 1, batchB: 1, m: 2, k: N, n: K, transA: false, transB: true };
    const got = b.readSync!(b.matmul(b.upload(gy), b.upload(cols), geo));
    const exp = ref.readSync(ref.matmul(ref.upload(gy), ref.upload(cols), geo));
    expect(maxDiff(got, exp)).toBeLessThan(1e-3 * Math.sqrt(N));
    const W = seq(2 * K, (i) => (i % 5) / 5);
    const geo2 = { batch: 1, batchA: 1, batchB: 1, m: K, k: 2, n: N, transA: true, transB: false };
    const got2 = b.readSync!(b.matmul(b.upload(W), b.upload(gy), geo2));
    const exp2 = ref.readSync(ref.matmul(ref.upload(W), ref.upload(gy), geo2));
    expect(maxDiff(got2, exp2)).toBeLessThan(1e-5);
  });
});

describe('gpujs mode selection and fallback', () => {
  it('falls back to an available mode when the optional packages are missing, and says why', () => {
    const saved = process.env.GPUGRAD_GPUJS_NO_OPTIONAL;
    process.env.GPUGRAD_GPUJS_NO_OPTIONAL = '1';
    try {
      const warn = console.warn;
      const logged: string[] = [];
      console.warn = (m: string) => logged.push(m);
      const b = new GpujsBackend('headlessgl');
      console.warn = warn;
      expect(b.mode).toBe('webasm');
      expect(b.fallbackReason).toMatch(/headlessgl/);
      expect(logged.length).toBe(1);
      const x = b.upload(seq(5, (i) => i));
      b.release(b.unary('abs', x, 0));
      expect(b.ranAs.get('unary.abs')).toBe('WebAssemblyKernel');
    } finally {
      if (saved === undefined) delete process.env.GPUGRAD_GPUJS_NO_OPTIONAL;
      else process.env.GPUGRAD_GPUJS_NO_OPTIONAL = saved;
    }
  });

  it('rejects unknown modes with a GpugradError naming them', () => {
    expect(() => new GpujsBackend('quantum')).toThrow(/quantum/);
  });

  it('without a mode picks the fastest available (headlessgl when gl loads and a display exists)', () => {
    const b = new GpujsBackend();
    expect(b.mode).toBe(gpujsModeAvailable('headlessgl') ? 'headlessgl' : 'webasm');
  });
});

// CI sets GPUGRAD_EXPECT_NO_OPTIONAL in a clone from which the optional packages were removed.
describe.runIf(process.env.GPUGRAD_EXPECT_NO_OPTIONAL === '1')('gpujs without optional packages', () => {
  it('reports headlessgl and webgpu unavailable and serves requests for them from webasm', () => {
    expect(gpujsModeAvailable('headlessgl')).toBe(false);
    expect(gpujsModeAvailable('webgpu')).toBe(false);
    G.setBackend('gpujs', { mode: 'headlessgl' });
    expect(G.getBackend()).toBe('gpujs:webasm');
    expect(G.backendFallbackReason()).toMatch(/headlessgl/);
    const y = G.relu(G.tensor([-1, 2]));
    expect(Array.from(y.dataSync())).toEqual([0, 2]);
  });

  it('says the webgpu package is missing and serves webgpu requests from webasm', async () => {
    expect(await installWebGPU()).toMatch(/optional 'webgpu' package did not load/);
    const warn = console.warn;
    console.warn = () => undefined;
    try {
      const b = await GpujsBackend.create('webgpu');
      expect(b.gpuMode).toBe('webasm');
      expect(b.fallbackReason).toMatch(/'webgpu' is not available here.*'webgpu' package did not load/);
    } finally {
      console.warn = warn;
    }
  });
});

// Threaded webasm: gpu.js runs these kernels on workers and answers with Promises, so the backend queues every
// operation in call order and hands out storages before their kernels ran.
describe.runIf(wanted('webasm:threads2') && gpujsThreadsAvailable())('gpujs:webasm:threads2 (deferred execution)', () => {
  const b = new GpujsBackend('webasm', 2);
  const gemm = (m: number, k: number, n: number): { g: { batch: number; batchA: number; batchB: number; m: number; k: number; n: number; transA: boolean; transB: boolean }; A: Float32Array; B: Float32Array } => ({
    g: { batch: 1, batchA: 1, batchB: 1, m, k, n, transA: false, transB: false },
    A: seq(m * k, (i) => ((i * 7919) % 13) / 13 - 0.5),
    B: seq(k * n, (i) => ((i * 104729) % 17) / 17 - 0.5),
  });

  it('names itself, has no synchronous read, and dataSync says to await data()', async () => {
    expect(b.mode).toBe('webasm:threads2');
    expect(b.deferred).toBe(true);
    expect(b.readSync).toBeUndefined();
    await G.setBackend('gpujs', { mode: 'webasm', threads: 2 });
    try {
      expect(G.getBackend()).toBe('gpujs:webasm:threads2');
      const t = G.relu(G.tensor([-1, 2, -3]));
      expect(() => t.dataSync()).toThrow(/cannot read synchronously.*await t\.data\(\)/);
      expect(Array.from(await t.data())).toEqual([0, 2, 0]);
    } finally {
      G.setBackend('reference');
    }
  });

  it('splits large GEMMs over one shared pool of 2 workers and matches the reference', async () => {
    const before = b.poolDispatches;
    for (const [m, k, n] of [[64, 147, 1024], [96, 64, 256], [8, 300, 49]] as const) {
      const { g, A, B } = gemm(m, k, n);
      const c = b.matmul(b.upload(A), b.upload(B), g);
      const want = ref.readSync(ref.matmul(ref.upload(A), ref.upload(B), g));
      expect(maxDiff(await b.read(c), want)).toBeLessThan(1e-4);
      b.release(c);
    }
    // Every kernel of ≥ 4,096 outputs went to the pool, and all kernels share it: 2 workers, not 2 per kernel.
    expect(b.poolDispatches).toBeGreaterThan(before);
    expect(b.poolCount).toBe(1);
    expect(b.poolWorkers).toBeLessThanOrEqual(2);
    expect(b.ranAs.get('matmul.host4')).toBe('WebAssemblyKernel');
  });

  it('queues in call order: an input released right after use is still read by the op queued before', async () => {
    const { g, A, B } = gemm(64, 32, 128);
    const a = b.upload(A);
    const w = b.upload(B);
    const c = b.matmul(a, w, g);
    const d = b.unary('relu', c, 0);
    b.release(a);
    b.release(w);
    b.release(c);
    const want = ref.readSync(ref.unary('relu', ref.matmul(ref.upload(A), ref.upload(B), g), 0));
    expect(maxDiff(await b.read(d), want)).toBeLessThan(1e-4);
    b.release(d);
  });

  it('a kernel that fails reports its error where its result is read, and on every result built on it', async () => {
    const x = b.upload(seq(8, (i) => i));
    b.release(x);
    const y = b.unary('exp', x, 0); // queued after the release: its kernel will find x freed
    const z = b.binary('add', y, [8], y, [8], [8]);
    await expect(b.read(y)).rejects.toThrow(/used after release/);
    await expect(b.read(z)).rejects.toThrow(/used after release/);
    // The queue goes on: later independent work runs.
    const ok = b.unary('neg', b.upload(seq(3, (i) => i + 1)), 0);
    expect(Array.from(await b.read(ok))).toEqual([-1, -2, -3]);
  });

  it('updates optimizer state in place, in order with the ops around it', async () => {
    const p = b.upload(seq(5000, (i) => i / 5000));
    const grad = b.unary('neg', p, 0); // queued before the step that reads it
    const m = b.fill(5000, 0);
    b.sgdStep(p, grad, m, { lr: 0.5, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, firstStep: true });
    const got = await b.read(p);
    expect(got[4000]).toBeCloseTo(0.8 * 1.5, 6);
    expect((await b.read(m))[4000]).toBeCloseTo(-0.8, 6);
  });
});

// WebGPU (in Node through the optional `webgpu` package on Dawn's OpenGL ES backend): kernels answer with
// Promises, so the mode is deferred like threaded webasm. The shared suites cover the ops; this checks the mode.
const webgpuWhy = wanted('webgpu') ? await installWebGPU() : 'not wanted';
describe.runIf(webgpuWhy === null)('gpujs:webgpu (deferred execution)', () => {
  it('starts through setBackend, runs WebGPU kernels, and reads only asynchronously', async () => {
    const b = (await G.setBackend('gpujs', { mode: 'webgpu' })) as GpujsBackend;
    try {
      expect(G.getBackend()).toBe('gpujs:webgpu');
      expect(b.fallbackReason).toBeNull();
      expect(b.deferred).toBe(true);
      expect(b.readSync).toBeUndefined();
      const a = G.tensor(seq(6 * 5, (i) => Math.sin(i)), [6, 5]);
      const w = G.tensor(seq(5 * 7, (i) => Math.cos(i)), [5, 7]);
      const y = G.matmul(a, w).relu().sum(1);
      const A = await a.data();
      const W = await w.data();
      const want = Array.from({ length: 6 }, (_, i) => Array.from({ length: 7 }, (_, j) => Math.max(0, Array.from({ length: 5 }, (_, p) => A[i * 5 + p] * W[p * 7 + j]).reduce((s, v) => s + v, 0))).reduce((s, v) => s + v, 0));
      const got = await y.data();
      want.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 4));
      expect(() => y.dataSync()).toThrow(/cannot read synchronously/);
      expect(b.ranAs.get('matmul')).toBe('WebGPUKernel');
      // Products of ≥ 256 outputs take the 4-rows-per-thread kernel (odd n: computed as Cᵀ and written back).
      for (const [m, k, n] of [[33, 40, 29], [12, 7, 64]]) {
        const x = G.tensor(seq(m * k, (i) => Math.sin(i * 0.37)), [m, k]);
        const z = G.tensor(seq(k * n, (i) => Math.cos(i * 0.11)), [k, n]);
        const X = await x.data();
        const Z = await z.data();
        const got = await G.matmul(x, z).data();
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let want = 0;
            for (let p = 0; p < k; p++) want += X[i * k + p] * Z[p * n + j];
            expect(got[i * n + j]).toBeCloseTo(want, 4);
          }
      }
      expect(b.ranAs.get('matmul.host4')).toBe('WebGPUKernel');
    } finally {
      G.setBackend('reference');
    }
  });
});

describe.runIf(webgpuWhy !== null && webgpuWhy !== 'not wanted')('gpujs:webgpu when it cannot start', () => {
  it('setBackend falls back to the fastest other mode and says why', async () => {
    const warn = console.warn;
    console.warn = () => undefined;
    try {
      const b = await GpujsBackend.create('webgpu');
      expect(b.gpuMode).toBe(gpujsModeAvailable('headlessgl') ? 'headlessgl' : 'webasm');
      expect(b.fallbackReason).toContain(webgpuWhy);
    } finally {
      console.warn = warn;
    }
  });
});

// headless-gl and Dawn's OpenGL ES backend cannot share one process's GL (see glHolder in the backend). Whichever
// is used first keeps it; the other must fall back and say why, not end the process with an X error. Each order
// runs in its own process, since this one already decided.
describe.runIf(wanted('webgpu') && wanted('headlessgl') && gpujsModeAvailable('headlessgl'))('gpujs headlessgl beside webgpu', () => {
  for (const order of ['gl-first', 'webgpu-first']) {
    it(`${order}: the first keeps the GL, the second falls back and says why`, () => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/gl-sharing-child.ts', order], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { webgpuWhy: string | null; webgpu: { ranAs: string; fallbackReason: string | null; relu: number[] }; headlessgl: { ranAs: string; fallbackReason: string | null; relu: number[] } };
      expect(out.webgpu.relu).toEqual([1, 0, 3]);
      expect(out.headlessgl.relu).toEqual([1, 0, 3]);
      if (out.webgpuWhy?.startsWith("the optional 'webgpu' package")) return; // no Dawn here: nothing shares
      const dawnOnGL = order === 'gl-first' ? /headless-gl already holds/.test(out.webgpuWhy ?? '') : out.headlessgl.ranAs !== 'headlessgl';
      if (!dawnOnGL) {
        // Dawn found a real GPU adapter (Vulkan, Metal, D3D12): both modes run in one process.
        expect(out.webgpu.ranAs).toBe('webgpu');
        expect(out.headlessgl.ranAs).toBe('headlessgl');
      } else if (order === 'gl-first') {
        expect(out.headlessgl.ranAs).toBe('headlessgl');
        expect(out.webgpu.ranAs).toBe('headlessgl');
        expect(out.webgpu.fallbackReason).toMatch(/'webgpu' is not available here.*headless-gl already holds this process's GL/);
      } else {
        expect(out.webgpu.ranAs).toBe('webgpu');
        expect(out.headlessgl.ranAs).toBe('webasm');
        expect(out.headlessgl.fallbackReason).toMatch(/'headlessgl' is not available here.*Dawn OpenGL ES device already holds/);
      }
    });
  }
});
