// The wasm backend's own checks: emitted modules validate, GEMM tiles/transposes/threads agree with the
// float64 reference, the heap reuses freed blocks, and memory stays flat under tidy.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import fc from 'fast-check';
import { sleb, uleb } from '../kernels/wasm/emit.js';
import { buildKernelModule, inModule, KERNELS, type KernelArgs, type KernelName } from '../kernels/wasm/module.js';
import { argList } from '../kernels/wasm/abi.js';
import { blockSize, Heap, HeapExhausted } from '../kernels/wasm/heap.js';
import { MAX_PIECES, splitRange, type WorkerPool } from '../kernels/wasm/pool.js';
import { ReferenceBackend } from '../src/backends/reference.js';
import type { BinaryOp, UnaryOp } from '../src/backend.js';
import { enableRelaxedSimd, WasmBackend, wasmThreadsAvailable } from '../src/backends/wasm.js';
import { F, memory, nn, randn, setBackend, tidy, manualSeed, type Tensor } from '../src/index.js';

const ref = new ReferenceBackend();
// Both kernel variants: plain SIMD128 and, where relaxed SIMD can be had (Node 20 through V8's flag), FMA.
const hasRelaxed = process.env.GPUGRAD_WASM_RELAXED !== '0' && enableRelaxedSimd();
const plain = WasmBackend.createSync({ threads: 1, relaxed: false });
// fmaTraining (the default with relaxed SIMD, stated here): every GEMM fused, so matmul itself exercises the relaxed kernel.
const fused = hasRelaxed ? WasmBackend.createSync({ threads: 1, relaxed: true, fmaTraining: true }) : null;
const one = plain;
// Plain kernels like `one`: 2 threads must sum in the same order (every matmul would be fused where relaxed).
const twoP = wasmThreadsAvailable() ? WasmBackend.create({ threads: 2, relaxed: false }) : null;
afterAll(async () => (await twoP)?.destroy());

function rnd(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

describe('emitter', () => {
  it('encodes LEB128 like the spec examples', () => {
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(sleb(64)).toEqual([0xc0, 0x00]);
    expect(sleb(-1)).toEqual([0x7f]);
  });
  it('emits modules that validate, shared and unshared', () => {
    expect(WebAssembly.validate(buildKernelModule(false, 1))).toBe(true);
    if (wasmThreadsAvailable()) expect(WebAssembly.validate(buildKernelModule(true, 1))).toBe(true);
  });
});

describe('kernel ABI', () => {
  it('the module exports exactly the KERNELS table, each export taking its signature\'s parameters', () => {
    for (const relaxed of hasRelaxed ? [false, true] : [false]) {
      const mem = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
      const inst = new WebAssembly.Instance(new WebAssembly.Module(buildKernelModule(false, 1, relaxed)), { env: { mem } });
      const want = (Object.keys(KERNELS) as KernelName[]).filter((n) => inModule(n, relaxed));
      expect(Object.keys(inst.exports).sort()).toEqual([...want].sort());
      for (const n of want) expect((inst.exports[n] as (...a: number[]) => unknown).length, n).toBe(KERNELS[n].params.length);
    }
  });
  it('turns named arguments into the signature\'s order, and the compiler refuses a wrong set', () => {
    const args: KernelArgs<'perm3'> = { i1: 9, i0: 8, s2: 7, s1: 6, s0: 5, d2: 4, d1: 3, out: 2, x: 1 };
    expect(argList(KERNELS.perm3, args)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // @ts-expect-error: a parameter missing (i1)
    const missing: KernelArgs<'perm3'> = { x: 1, out: 2, d1: 3, d2: 4, s0: 5, s1: 6, s2: 7, i0: 8 };
    // @ts-expect-error: another kernel's arguments (perm3's are not im2col's)
    const other: KernelArgs<'im2col'> = args;
    // @ts-expect-error: a direct call is checked the same way (sumrun takes x and n)
    expect(() => argList(KERNELS.sumrun, { x: 0 })).not.toThrow();
    expect([missing, other].length).toBe(2);
  });
});

describe('every elementwise op of the Backend contract', () => {
  // Records over UnaryOp and BinaryOp: an op added to src/backend.ts does not compile here until it is listed,
  // and then it must run on wasm like the reference through every dispatch path.
  const unaryInputs: Record<UnaryOp, { lo: number; hi: number; param?: number }> = {
    neg: { lo: -3, hi: 3 }, abs: { lo: -3, hi: 3 }, relu: { lo: -3, hi: 3 }, sqrt: { lo: 0, hi: 9 }, exp: { lo: -5, hi: 5 }, log: { lo: 0.01, hi: 9 },
    sigmoid: { lo: -8, hi: 8 }, tanh: { lo: -4, hi: 4 }, erf: { lo: -3, hi: 3 }, pow: { lo: 0.1, hi: 3, param: 1.7 },
  };
  const binaryOps: Record<BinaryOp, true> = { add: true, sub: true, mul: true, div: true, eq: true, ne: true, gt: true };
  const close = (got: Float32Array, want: Float32Array, what: string): void => {
    expect(got.length, what).toBe(want.length);
    let bad = -1;
    for (let i = 0; i < want.length && bad < 0; i++) if (!(Math.abs(got[i] - want[i]) <= 1e-6 + 1e-6 * Math.abs(want[i]))) bad = i;
    expect(bad, `${what}: first mismatch (${got[bad]} vs ${want[bad]})`).toBe(-1);
  };
  const backends = [plain, ...(fused ? [fused] : [])];

  it('unary: every op, short and long (host loop, SIMD body and tail)', () => {
    for (const [op, r] of Object.entries(unaryInputs) as [UnaryOp, (typeof unaryInputs)[UnaryOp]][])
      for (const n of [3, 37, 1001]) {
        const x = Float32Array.from(rnd(n, n), (v) => r.lo + (v + 0.5) * (r.hi - r.lo));
        const want = ref.readSync(ref.unary(op, ref.upload(x), r.param ?? 0));
        for (const w of backends) close(w.readSync(w.unary(op, w.upload(x), r.param ?? 0)), want, `${op} n=${n} on ${w.mode}`);
      }
  });

  it('binary: every op through the batched kernel, single long runs (rank > 3) and short host runs', () => {
    const cases: [number[], number[], number[]][] = [
      [[4, 16], [4, 16], [4, 16]], // one contiguous run: the vv kernel
      [[5, 3], [1, 3], [5, 3]], // runs of 3: the host loop
      [[3, 1], [1, 1], [3, 4]], // both operands broadcast along the run: the host loop with zero strides
      [[2, 3, 4, 5, 8], [2, 1, 4, 1, 8], [2, 3, 4, 5, 8]], // rank 5 after merging, runs of 8: the kernel run by run
      [[2, 3, 4, 5, 3], [2, 1, 4, 1, 3], [2, 3, 4, 5, 3]], // rank 5, runs of 3: the host loop by odometer
      [[6, 1, 9], [1, 7, 9], [6, 7, 9]], // vv over broadcast outer dims
      [[6, 7, 9], [6, 7, 1], [6, 7, 9]], // vs
      [[6, 7, 1], [6, 7, 9], [6, 7, 9]], // sv
    ];
    const size = (s: number[]): number => s.reduce((p, q) => p * q, 1);
    for (const op of Object.keys(binaryOps) as BinaryOp[])
      for (const [as, bs, out] of cases) {
        const xa = Float32Array.from({ length: size(as) }, (_, i) => Math.round(Math.sin(i) * 4));
        const xb = Float32Array.from({ length: size(bs) }, (_, i) => Math.round(Math.cos(i) * 4) || 1);
        const want = ref.readSync(ref.binary(op, ref.upload(xa), as, ref.upload(xb), bs, out));
        for (const w of backends) close(w.readSync(w.binary(op, w.upload(xa), as, w.upload(xb), bs, out)), want, `${op} ${JSON.stringify(as)}·${JSON.stringify(bs)} on ${w.mode}`);
      }
  });
});

describe('heap', () => {
  it('reuses freed blocks of the same class and keeps 64-byte alignment', () => {
    const h = new Heap(new WebAssembly.Memory({ initial: 1, maximum: 64 }), 64, 64);
    const a = h.alloc(1000);
    const b = h.alloc(5000);
    expect(a.ptr % 64).toBe(0);
    expect(b.ptr % 64).toBe(0);
    h.release(a.ptr, a.cap);
    const c = h.alloc(990);
    expect(c.ptr).toBe(a.ptr);
    const top = h.reservedBytes();
    h.release(b.ptr, b.cap);
    h.release(c.ptr, c.cap);
    for (let i = 0; i < 100; i++) {
      const x = h.alloc(5000);
      h.release(x.ptr, x.cap);
    }
    expect(h.reservedBytes()).toBeLessThanOrEqual(top);
    expect(h.liveBytes()).toBe(0);
  });
  it('coalesces: any alloc/free sequence keeps blocks disjoint, and once all is freed one block of the whole fits', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 200_000 }), fc.nat()), { minLength: 1, maxLength: 120 }), (ops) => {
        const h = new Heap(new WebAssembly.Memory({ initial: 1, maximum: 256 }), 256, 64);
        const live: { ptr: number; cap: number }[] = [];
        let peak = 0;
        for (const [doAlloc, bytes, pick] of ops) {
          if (doAlloc || live.length === 0) {
            const b = h.alloc(bytes);
            expect(b.cap).toBe(blockSize(bytes));
            for (const o of live) expect(b.ptr + b.cap <= o.ptr || o.ptr + o.cap <= b.ptr).toBe(true);
            live.push(b);
          } else {
            const [b] = live.splice(pick % live.length, 1);
            h.release(b.ptr, b.cap);
          }
          peak = Math.max(peak, h.reservedBytes());
        }
        for (const b of live.splice(0)) h.release(b.ptr, b.cap);
        expect(h.liveBytes()).toBe(0);
        expect(h.reservedBytes()).toBe(64); // everything merged back into the untouched tail
        const all = h.alloc(peak - 64);
        expect(all.ptr).toBe(64);
      }),
      { numRuns: 200 },
    );
  });
  it('a refused allocation leaves the heap usable for smaller ones', () => {
    const h = new Heap(new WebAssembly.Memory({ initial: 1, maximum: 16 }), 16, 64);
    const a = h.alloc(500_000);
    expect(() => h.alloc(800_000)).toThrow(HeapExhausted);
    h.release(a.ptr, a.cap);
    const b = h.alloc(900_000); // fits only because the freed block merged back into the tail
    expect(b.ptr).toBe(64);
  });
  it('grows the memory and keeps earlier data', () => {
    const b = WasmBackend.createSync({ threads: 1 });
    const x = b.upload(Float32Array.from([1, 2, 3]));
    const big = b.fill(8 << 20, 1); // 32 MiB forces growth past the initial 16 MiB
    expect(b.readSync(x)).toEqual(Float32Array.from([1, 2, 3]));
    expect(b.readSync(b.slice(big, [8 << 20], 0, 5, 2))).toEqual(Float32Array.from([1, 1]));
  });
});

describe('gemm', () => {
  const geom = fc.record({
    m: fc.integer({ min: 1, max: 40 }),
    k: fc.integer({ min: 1, max: 300 }),
    n: fc.integer({ min: 1, max: 40 }),
    transA: fc.boolean(),
    transB: fc.boolean(),
    batch: fc.constantFrom(1, 2),
    seed: fc.integer(),
  });
  it('reports which kernels it runs', () => {
    expect(plain.mode).toBe('simd');
    expect(plain.relaxed).toBe(false);
    if (fused) expect(fused.mode).toBe('relaxed-simd');
    if (fused) expect(fused.fmaTraining).toBe(true);
    // Every GEMM fused by default where relaxed SIMD runs; 'gradients' leaves the forward's plain.
    expect(WasmBackend.createSync({ threads: 1, relaxed: hasRelaxed }).fmaTraining).toBe(hasRelaxed);
    expect(WasmBackend.createSync({ threads: 1, relaxed: hasRelaxed, fmaTraining: 'gradients' }).fmaTraining).toBe(false); // outside backward()
  });
  it.each([
    ['SIMD128', plain],
    ['relaxed SIMD (FMA)', fused],
  ] as const)('agrees with the reference for every tile remainder, transpose and k block (%s)', (_label, one) => {
    if (!one) return; // relaxed SIMD unavailable here
    fc.assert(
      fc.property(geom, ({ m, k, n, transA, transB, batch, seed }) => {
        const g = { batch, batchA: batch, batchB: 1, m, k, n, transA, transB };
        const a = rnd(batch * m * k, seed);
        const b = rnd(k * n, seed + 1);
        const want = ref.readSync(ref.matmul(ref.upload(a), ref.upload(b), g));
        const got = one.readSync(one.matmul(one.upload(a), one.upload(b), g));
        const tol = 1e-5 * Math.sqrt(k + 1);
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(tol);
      }),
      { numRuns: 120 },
    );
  });
  it.skipIf(!wasmThreadsAvailable())('gives identical results with 2 threads (same order of summation)', async () => {
    const two = (await twoP) as WasmBackend;
    for (const [m, k, n, tA, tB] of [
      [64, 147, 300, false, false],
      [130, 520, 49, false, true],
      [37, 600, 90, true, false],
      [256, 64, 196, true, true],
    ] as const) {
      const g = { batch: 1, batchA: 1, batchB: 1, m, k, n, transA: tA, transB: tB };
      const a = rnd(m * k, m);
      const b = rnd(k * n, n);
      const r1 = one.readSync(one.matmul(one.upload(a), one.upload(b), g));
      const r2 = two.readSync(two.matmul(two.upload(a), two.upload(b), g));
      expect(r2).toEqual(r1);
    }
  });
});

describe('pre-packed weights (matmulEpilogue)', () => {
  it('keeps a weight packed across calls, identical to packing it each time, and drops it when the weight is written or freed', () => {
    const kept = WasmBackend.createSync({ threads: 1, relaxed: hasRelaxed, prepack: true });
    const each = WasmBackend.createSync({ threads: 1, relaxed: hasRelaxed, prepack: false });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 90 }), fc.constantFrom(1, 5, 49, 200), fc.integer(), (m, k, n, seed) => {
        const g = { batch: 1, batchA: 1, batchB: 1, m, k, n, transA: false, transB: false };
        const run = (be: WasmBackend, w: ReturnType<WasmBackend['upload']>, x: Float32Array): Float32Array => {
          const [bx, sc, sh] = [be.upload(x), be.upload(rnd(m, seed + 2)), be.upload(rnd(m, seed + 3))];
          const out = be.matmulEpilogue(w, bx, g, { scale: sc, shift: sh, residual: null, relu: false });
          const r = be.readSync(out);
          for (const t of [bx, sc, sh, out]) be.release(t);
          return r;
        };
        const w0 = rnd(m * k, seed);
        const [wk, we] = [kept.upload(w0), each.upload(w0)];
        const x1 = rnd(k * n, seed + 1);
        expect(run(kept, wk, x1)).toEqual(run(each, we, x1));
        expect(kept.packedBytes()).toBeGreaterThan(0);
        expect(each.packedBytes()).toBe(0);
        const x2 = rnd(k * n, seed + 4);
        expect(run(kept, wk, x2)).toEqual(run(each, we, x2)); // from the kept packing
        // An optimizer step writes the weight in place: the next call must see the new values.
        const sgd = { lr: 0.5, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, firstStep: true };
        const grad = rnd(m * k, seed + 5);
        const [gk, ge] = [kept.upload(grad), each.upload(grad)];
        kept.sgdStep(wk, gk, null, sgd);
        each.sgdStep(we, ge, null, sgd);
        expect(run(kept, wk, x2)).toEqual(run(each, we, x2));
        // So does copyInto (Tensor.assign, loadStateDict).
        const w1 = rnd(m * k, seed + 6);
        const [sk, se] = [kept.upload(w1), each.upload(w1)];
        kept.copyInto(wk, sk);
        each.copyInto(we, se);
        expect(run(kept, wk, x2)).toEqual(run(each, we, x2));
        for (const [be, ...ts] of [[kept, wk, gk, sk], [each, we, ge, se]] as const) for (const t of ts) be.release(t);
        expect(kept.packedBytes()).toBe(0); // freed with its weight
      }),
      { numRuns: 60 },
    );
  });
});

describe('the GEMM epilogue read from the tile grid (matmulEpilogue)', () => {
  it('equals the GEMM copied out and then scaled, shifted, added and rectified in float32: padded grids, the transposed (Cᵀ) orientation, NaN/±∞, 1 and 2 threads', async () => {
    const two = wasmThreadsAvailable() ? ((await twoP) as WasmBackend) : null;
    const backends = [one, ...(fused ? [fused] : []), ...(two ? [two] : [])];
    // n = 49 (and 1, 5) computes Cᵀ and reads it transposed; n = 50, 196 pad the grid; 200 with m % 4 = 0 is direct.
    const arb = fc.record({
      m: fc.integer({ min: 1, max: 40 }), k: fc.integer({ min: 1, max: 70 }), n: fc.constantFrom(1, 5, 12, 49, 50, 196, 200),
      tA: fc.boolean(), tB: fc.boolean(), residual: fc.boolean(), relu: fc.boolean(), specials: fc.boolean(), seed: fc.integer(), which: fc.nat(),
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ m, k, n, tA, tB, residual, relu, specials, seed, which }) => {
        const be = backends[which % backends.length];
        const g = { batch: 1, batchA: 1, batchB: 1, m, k, n, transA: tA, transB: tB };
        const a = rnd(m * k, seed);
        const b = rnd(k * n, seed + 1);
        if (specials) [NaN, Infinity, -Infinity].forEach((v, i) => (b[(seed + i * 7919) % b.length >>> 0] = v));
        const [scale, shift] = [rnd(m, seed + 2), rnd(m, seed + 3)];
        const res = residual ? rnd(m * n, seed + 4) : null;
        const up = be.upload.bind(be);
        const [sa, sb, ss, sh] = [up(a), up(b), up(scale), up(shift)];
        const sr = res ? up(res) : null;
        const got = be.readSync(be.matmulEpilogue(sa, sb, g, { scale: ss, shift: sh, residual: sr, relu }));
        // The same GEMM (the same micro-kernel: fused where the backend is relaxed), copied out, then the epilogue's float32 steps.
        const c = be.readSync(be.matmul(sa, sb, g, true, be.relaxed));
        const want = new Float32Array(m * n);
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let y = Math.fround(Math.fround(c[i * n + j] * scale[i]) + shift[i]);
            if (res) y = Math.fround(y + res[i * n + j]);
            want[i * n + j] = relu && y < 0 ? 0 : y;
          }
        expect(got).toEqual(want);
      }),
      { numRuns: 150 },
    );
  });
});

describe('im2col kernel', () => {
  it('matches the reference for random windows (stride, padding, dilation, borders)', () => {
    const geo = fc.record({
      n: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 1, max: 3 }), h: fc.integer({ min: 1, max: 9 }), w: fc.integer({ min: 1, max: 13 }),
      kh: fc.integer({ min: 1, max: 4 }), kw: fc.integer({ min: 1, max: 4 }), sh: fc.integer({ min: 1, max: 3 }), sw: fc.integer({ min: 1, max: 3 }),
      ph: fc.integer({ min: 0, max: 2 }), pw: fc.integer({ min: 0, max: 3 }), dh: fc.integer({ min: 1, max: 2 }), dw: fc.integer({ min: 1, max: 3 }),
    });
    fc.assert(
      fc.property(geo, (g0) => {
        const oh = Math.floor((g0.h + 2 * g0.ph - g0.dh * (g0.kh - 1) - 1) / g0.sh) + 1;
        const ow = Math.floor((g0.w + 2 * g0.pw - g0.dw * (g0.kw - 1) - 1) / g0.sw) + 1;
        fc.pre(oh >= 1 && ow >= 1);
        const g = { ...g0, oh, ow };
        const x = Float32Array.from({ length: g.n * g.c * g.h * g.w }, (_, i) => i + 1);
        expect(one.readSync(one.im2col(one.upload(x), g))).toEqual(ref.readSync(ref.im2col(ref.upload(x), g)));
      }),
      { numRuns: 500 },
    );
  });
});

describe('col2im kernels', () => {
  it('match the reference for random windows: the stride-1 gather (f32x4 middle, scalar ends) and the strided scatter', async () => {
    // w up to 24 reaches the gather's vector columns; sh = sw = 1 in about a third of the cases.
    const geo = fc.record({
      n: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 1, max: 3 }), h: fc.integer({ min: 1, max: 9 }), w: fc.integer({ min: 1, max: 24 }),
      kh: fc.integer({ min: 1, max: 4 }), kw: fc.integer({ min: 1, max: 4 }), sh: fc.integer({ min: 1, max: 3 }), sw: fc.integer({ min: 1, max: 3 }),
      ph: fc.integer({ min: 0, max: 2 }), pw: fc.integer({ min: 0, max: 3 }), dh: fc.integer({ min: 1, max: 2 }), dw: fc.integer({ min: 1, max: 3 }),
      s1: fc.boolean(),
    });
    const two = wasmThreadsAvailable() ? ((await twoP) as WasmBackend) : null;
    fc.assert(
      fc.property(geo, ({ s1, ...g0 }) => {
        if (s1) g0.sh = g0.sw = 1;
        const oh = Math.floor((g0.h + 2 * g0.ph - g0.dh * (g0.kh - 1) - 1) / g0.sh) + 1;
        const ow = Math.floor((g0.w + 2 * g0.pw - g0.dw * (g0.kw - 1) - 1) / g0.sw) + 1;
        fc.pre(oh >= 1 && ow >= 1);
        const g = { ...g0, oh, ow };
        // Small integers: every sum is exact in float32, so the result must equal the float64 oracle's.
        const cols = Float32Array.from({ length: g.c * g.kh * g.kw * g.n * oh * ow }, (_, i) => Math.round(Math.sin(i + 1) * 8));
        const want = ref.readSync(ref.col2im(ref.upload(cols), g));
        expect(one.readSync(one.col2im(one.upload(cols), g))).toEqual(want);
        if (two) expect(two.readSync(two.col2im(two.upload(cols), g))).toEqual(want);
      }),
      { numRuns: 400 },
    );
  });
});

describe('batch-norm kernels', () => {
  it('forward and backward match the float64 reference: per-channel runs, and four channels per lane on 1×1 maps', async () => {
    const two = wasmThreadsAvailable() ? ((await twoP) as WasmBackend) : null;
    const close = (label: string, got: Float32Array, want: Float32Array): void => {
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), `${label}[${i}]`).toBeLessThanOrEqual(2e-4 * (1 + Math.abs(want[i])));
    };
    const check = (be: WasmBackend, shape: [number, number, number, number], seed: number): void => {
      const [n, c, h, w] = shape;
      const size = n * c * h * w;
      const [x, dy, wt, bs] = [rnd(size, seed), rnd(size, seed + 1), rnd(c, seed + 2), rnd(c, seed + 3)];
      const want = ref.batchNorm(ref.upload(x), shape, ref.upload(wt), ref.upload(bs), 1e-5);
      const got = be.batchNorm(be.upload(x), shape, be.upload(wt), be.upload(bs), 1e-5);
      close('out', be.readSync(got.out), ref.readSync(want.out));
      close('mean', be.readSync(got.mean), ref.readSync(want.mean));
      close('var', be.readSync(got.var), ref.readSync(want.var));
      const gw = ref.batchNormBackward(ref.upload(dy), ref.upload(x), shape, want.mean, want.var, ref.upload(wt), 1e-5);
      const gg = be.batchNormBackward(be.upload(dy), be.upload(x), shape, got.mean, got.var, be.upload(wt), 1e-5);
      close('dx', be.readSync(gg.dx), ref.readSync(gw.dx));
      close('dweight', be.readSync(gg.dweight), ref.readSync(gw.dweight));
      close('dbias', be.readSync(gg.dbias), ref.readSync(gw.dbias));
    };
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 9 }), fc.integer({ min: 1, max: 24 }), fc.constantFrom(1, 1, 2, 3, 5), fc.constantFrom(1, 1, 3), fc.integer(), (n, c, h, w, seed) => {
        check(one, [n, c, h, w], seed);
      }),
      { numRuns: 150 },
    );
    // Large enough to split over threads: 4096 channels of 8 values (lane kernels), and per-channel runs.
    for (const shape of [[8, 4096, 1, 1], [8, 4094, 1, 1], [4, 64, 16, 16]] as [number, number, number, number][]) {
      check(one, shape, 7);
      if (two) check(two, shape, 7);
    }
  });
});

describe('broadcast binary kernels', () => {
  it.skipIf(!wasmThreadsAvailable())('match the reference on 1 and 2 threads (runs split across workers)', async () => {
    const two = (await twoP) as WasmBackend;
    const ops = ['add', 'sub', 'mul', 'div', 'eq', 'ne', 'gt'] as const;
    const size = (s: number[]): number => s.reduce((p, q) => p * q, 1);
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        fc.constantFrom(...ops),
        (shape, ma, mb, op) => {
          const as = shape.map((d, i) => (ma[i] ? 1 : d));
          const bs = shape.map((d, i) => (mb[i] ? 1 : d));
          const xa = Float32Array.from({ length: size(as) }, (_, i) => Math.round(Math.sin(i) * 4));
          const xb = Float32Array.from({ length: size(bs) }, (_, i) => Math.round(Math.cos(i) * 4) || 1);
          const want = ref.readSync(ref.binary(op, ref.upload(xa), as, ref.upload(xb), bs, shape));
          for (const w of [one, two]) {
            const got = w.readSync(w.binary(op, w.upload(xa), as, w.upload(xb), bs, shape));
            let bad = -1;
            for (let i = 0; i < want.length && bad < 0; i++) if (Math.abs(got[i] - want[i]) > 1e-6 * Math.abs(want[i])) bad = i;
            expect(bad, `${op} ${JSON.stringify(as)} with ${JSON.stringify(bs)}: first mismatch`).toBe(-1);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('permute', () => {
  it('matches the reference at rank ≤ 3 after merging (perm3 kernel) and above (host loop), contiguous and strided rows', () => {
    const shape = [2, 3, 4, 5, 6];
    const x = rnd(720, 7);
    for (const perm of [[0, 2, 1, 3, 4], [4, 3, 2, 1, 0], [1, 0, 3, 2, 4], [0, 2, 4, 1, 3], [2, 0, 1, 3, 4]]) {
      const want = ref.readSync(ref.permute(ref.upload(x), shape, perm));
      expect(one.readSync(one.permute(one.upload(x), shape, perm)), JSON.stringify(perm)).toEqual(want);
    }
  });
});

describe('reductions', () => {
  it('sum long runs (wasm f32x4 path) within a float32 tolerance of the float64 reference', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 700 }), fc.integer(), (a, b, c, seed) => {
        const shape = [a, b, c];
        const x = rnd(a * b * c, seed);
        for (const axes of [[2], [0, 2], [1, 2], [0, 1, 2]]) {
          const want = ref.readSync(ref.reduce('sum', ref.upload(x), shape, axes));
          const got = one.readSync(one.reduce('sum', one.upload(x), shape, axes));
          const k = axes.reduce((p, ax) => p * shape[ax], 1);
          for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-6 * Math.sqrt(k + 1));
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe('max pool kernel', () => {
  it('matches the reference values and indices, ties, NaN and -∞ included; the backward adds at the winners', () => {
    // w up to 24: rows wide enough for the f32x4 path (four windows inside the row, stride 1 or 2) and its borders.
    const geo = fc.record({
      n: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 1, max: 3 }), h: fc.integer({ min: 1, max: 9 }), w: fc.integer({ min: 1, max: 24 }),
      kh: fc.integer({ min: 1, max: 4 }), kw: fc.integer({ min: 1, max: 4 }), sh: fc.integer({ min: 1, max: 3 }), sw: fc.integer({ min: 1, max: 3 }),
      ph: fc.integer({ min: 0, max: 2 }), pw: fc.integer({ min: 0, max: 2 }), dh: fc.integer({ min: 1, max: 2 }), dw: fc.integer({ min: 1, max: 2 }),
      nan: fc.constantFrom(0, 3, 7),
      negInf: fc.constantFrom(0, 2, 9),
    });
    fc.assert(
      fc.property(geo, ({ nan, negInf, ...g0 }) => {
        const oh = Math.floor((g0.h + 2 * g0.ph - g0.dh * (g0.kh - 1) - 1) / g0.sh) + 1;
        const ow = Math.floor((g0.w + 2 * g0.pw - g0.dw * (g0.kw - 1) - 1) / g0.sw) + 1;
        fc.pre(oh >= 1 && ow >= 1 && g0.ph * 2 <= g0.kh && g0.pw * 2 <= g0.kw);
        const g = { ...g0, oh, ow };
        // Rounded values give ties (first maximum must win); every 3rd or 7th value NaN when asked (every 3rd puts
        // two NaNs in one window row: the last one must win).
        // negInf: -∞ everywhere but every 9th value (whole windows of -∞: the first valid tap wins), or every 2nd.
        const x = Float32Array.from({ length: g.n * g.c * g.h * g.w }, (_, i) =>
          nan && i % nan === 1 ? NaN : negInf === 9 ? (i % 9 === 0 ? Math.sin(i) : -Infinity) : negInf === 2 && i % 2 ? -Infinity : Math.round(Math.sin(i) * 3),
        );
        const want = ref.maxPool2d(ref.upload(x), g);
        const got = one.maxPool2d(one.upload(x), g);
        expect(one.readSync(got.out)).toEqual(ref.readSync(want.out));
        expect(one.readSync(got.indices)).toEqual(ref.readSync(want.indices));
        const gy = rnd(g.n * g.c * oh * ow, oh * 31 + ow);
        const wantDx = ref.readSync(ref.maxPool2dBackward(ref.upload(gy), want.indices, g));
        const gotDx = one.readSync(one.maxPool2dBackward(one.upload(gy), got.indices, g));
        for (let i = 0; i < wantDx.length; i++) expect(Math.abs(gotDx[i] - wantDx[i])).toBeLessThanOrEqual(1e-6);
      }),
      { numRuns: 500 },
    );
  });
});

describe('worker pool', () => {
  it.skipIf(!wasmThreadsAvailable())('reports a trap in a worker as an error and keeps working afterwards', async () => {
    const two = (await twoP) as WasmBackend;
    const pool = (two as unknown as { pool: WorkerPool }).pool;
    // Threads claim pieces as they free up: the calling thread's piece takes 20 ms, so the worker claims
    // the others, each an im2col whose output lies far past the end of memory: they trap.
    const slow = (): void => {
      const t = Date.now();
      while (Date.now() - t < 20);
    };
    const bad = { x: 0, out: 2 ** 31 - 64, n: 1, c: 1, h: 1, w: 1, kh: 1, kw: 1, sh: 1, sw: 1, ph: 0, pw: 0, dh: 1, dw: 1, oh: 1, ow: 1, r0: 0, r1: 1 };
    expect(() => pool.run('im2col', [bad, bad, bad, bad], slow)).toThrow(/trapped in a worker/);
    const g = { batch: 1, batchA: 1, batchB: 1, m: 64, k: 200, n: 96, transA: false, transB: false };
    const a = rnd(64 * 200, 1);
    const b = rnd(200 * 96, 2);
    expect(two.readSync(two.matmul(two.upload(a), two.upload(b), g))).toEqual(one.readSync(one.matmul(one.upload(a), one.upload(b), g)));
  });
});

describe('threads without asking', () => {
  // A fresh process (the backend registry is per process); needs ≥ 2 cores for a default pool.
  it.skipIf(!wasmThreadsAvailable() || availableParallelism() < 2)('the default backend starts its pool at first use and switches to it mid-run, on one instance', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/threads-default-child.ts'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, GPUGRAD_BACKEND: '' } });
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout.trim().split('\n').pop() as string) as Record<string, unknown>;
    expect(got.backend).toMatch(/^wasm:.*simd-threads\d+$/);
    // The first op never waits for the workers. Whether they were already up by then is a race a fast machine
    // wins (CI once saw `true`), so it is not asserted; what must hold is that they come up while the main
    // thread never yields, and that the same instance serves before and after.
    expect(typeof got.readyAtFirstOp).toBe('boolean');
    expect(got.readySync).toBe(true);
    expect(got.diff).toBe(0); // split and unsplit GEMMs sum k in the same order
    expect(got.mixedFinite).toBe(true);
    expect(got.same).toBe(true); // readyBackend() hands back the instance already in use
  });

  it.skipIf(!wasmThreadsAvailable())('a backend opened with threads runs ops before its pool is up, then on it', async () => {
    const b = WasmBackend.open({ threads: 2, relaxed: false });
    const pool = (b as unknown as { pool: { isReady(): boolean } }).pool;
    const g = { batch: 1, batchA: 1, batchB: 1, m: 64, k: 300, n: 96, transA: false, transB: false };
    const x = b.upload(rnd(64 * 300, 5));
    const y = b.upload(rnd(300 * 96, 6));
    const before = b.readSync(b.matmul(x, y, g));
    await b.whenReady();
    expect(pool.isReady()).toBe(true);
    expect(b.readSync(b.matmul(x, y, g))).toEqual(before);
    expect(before).toEqual(one.readSync(one.matmul(one.upload(rnd(64 * 300, 5)), one.upload(rnd(300 * 96, 6)), g)));
    b.destroy();
  });
});

describe('splitRange', () => {
  it('covers 0..total with ordered, non-empty pieces, never more than a pool call can carry', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 200 }), (total, threads) => {
        const r = splitRange(total, threads);
        expect(r.length).toBeLessThanOrEqual(threads === 1 ? 1 : MAX_PIECES);
        let at = 0;
        for (const [a, b] of r) {
          expect(a).toBe(at);
          expect(b).toBeGreaterThan(a);
          at = b;
        }
        expect(at).toBe(total);
      }),
    );
  });

  it.skipIf(!wasmThreadsAvailable())('lets a pool of more threads than 16 run a split GEMM (once more pieces than a call holds)', async () => {
    const b = WasmBackend.open({ threads: 20, relaxed: false });
    await b.whenReady();
    // 1024 columns are 128 column tiles: 20 threads × 4 pieces each would be 80 pieces.
    const g = { batch: 1, batchA: 1, batchB: 1, m: 64, k: 96, n: 1024, transA: false, transB: false };
    const got = b.readSync(b.matmul(b.upload(rnd(64 * 96, 7)), b.upload(rnd(96 * 1024, 8)), g));
    expect(got).toEqual(one.readSync(one.matmul(one.upload(rnd(64 * 96, 7)), one.upload(rnd(96 * 1024, 8)), g)));
    b.destroy();
  });
});

describe('backend through the API', () => {
  it.skipIf(!hasRelaxed)('fuses every training GEMM by default; with fmaTraining: \'gradients\' only those of backward()\'s rules', async () => {
    // Winograd off: this counts the GEMM path's kernels (test/conv-train.test.ts covers the Winograd one).
    const d = (await setBackend('wasm', { threads: 1, relaxed: true, winograd: 'off' })) as WasmBackend;
    expect(d.fmaMode).toBe(true);
    expect(d.fmaTraining).toBe(true);
    const b = (await setBackend('wasm', { threads: 1, relaxed: true, winograd: 'off', fmaTraining: 'gradients' })) as WasmBackend;
    expect(b.fmaMode).toBe('gradients');
    expect(b.fmaTraining).toBe(false); // outside backward()
    // Which kernel each GEMM of a conv's forward and backward ran: gemm()'s last argument says whether fused.
    const seen: { fwd: boolean[]; bwd: boolean[] } = { fwd: [], bwd: [] };
    let phase: 'fwd' | 'bwd' = 'fwd';
    const gemm = b.gemm.bind(b);
    b.gemm = (...a: Parameters<WasmBackend['gemm']>) => (seen[phase].push(a[11] ?? false), gemm(...a));
    const mode0 = b.fmaMode;
    try {
      manualSeed(2);
      const x = randn([2, 3, 9, 9], { requiresGrad: true });
      const w = randn([5, 3, 3, 3], { requiresGrad: true });
      const run = (mode: boolean | 'gradients', input = x): { fwd: boolean[]; bwd: boolean[] } => {
        b.fmaMode = mode;
        seen.fwd = [];
        seen.bwd = [];
        tidy(() => {
          phase = 'fwd';
          const y = F.relu(F.conv2d(input, w, null, { padding: 1 })).sum();
          phase = 'bwd';
          y.backward();
        });
        return { fwd: seen.fwd, bwd: seen.bwd };
      };
      expect(run('gradients')).toEqual({ fwd: [false], bwd: [true, true] }); // dW and dcols
      expect(run(true)).toEqual({ fwd: [true], bwd: [true, true] });
      expect(run(false)).toEqual({ fwd: [false], bwd: [false, false] });
      // An input that needs no gradient gets none: the weight's GEMM only (autograd's want[] for matmul).
      expect(run('gradients', x.detach())).toEqual({ fwd: [false], bwd: [true] });
      // Recording on inside backward() (a checkpoint's recompute) is a forward again: plain kernel.
      b.fmaMode = 'gradients';
      const cp = nn.checkpoint((t: Tensor) => F.relu(F.conv2d(t, w, null, { padding: 1 })), x);
      phase = 'bwd';
      seen.bwd = [];
      cp.sum().backward();
      expect(seen.bwd).toEqual([false, true, true]);
      x.dispose();
      w.dispose();
    } finally {
      b.fmaMode = mode0;
      delete (b as { gemm?: unknown }).gemm;
      await setBackend('reference');
    }
  });
  it('keeps the heap flat across repeated tidy()ed conv steps', async () => {
    const b = (await setBackend('wasm', { threads: 1 })) as WasmBackend;
    manualSeed(1);
    const x = randn([2, 3, 12, 12]);
    const w = randn([8, 3, 3, 3]);
    const step = (): void => tidy(() => void F.relu(F.conv2d(x, w, null, { padding: 1 })).sum());
    step();
    const before = b.heapStats();
    const live = memory().tensors;
    for (let i = 0; i < 20; i++) step();
    expect(b.heapStats().reserved).toBe(before.reserved);
    expect(b.heapStats().live).toBe(before.live);
    expect(memory().tensors).toBe(live);
    await setBackend('reference');
  });
});
