// The wasm backend's convEpilogue (implicit im2col: the GEMM's column panels packed straight from the image)
// against the float64 oracle's direct convolution, on plain SIMD128 and relaxed SIMD, 1 and 2 threads, over
// generated geometries (odd sizes, 1×1 maps, stride > kernel, dilation, padding 0–3, kernels 1/3/7, batch 1–3,
// channel counts off multiples of 4/8, residual and ReLU, NaN/±∞ in the image), both GEMM orientations (small
// n·oh·ow computes Cᵀ and packs the image as A panels), and kept weight panels after an in-place update.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { WindowGeometry } from '../src/backend.js';
import { enableRelaxedSimd, WasmBackend, wasmThreadsAvailable } from '../src/backends/wasm.js';
import { runs, seedArb, values } from './helpers/fd.js';
import { arr, convEpilogue, outLen } from './helpers/oracle.js';
import { f32 } from './helpers/tolerance.js';

const hasRelaxed = process.env.GPUGRAD_WASM_RELAXED !== '0' && enableRelaxedSimd();
const threaded = wasmThreadsAvailable();
// The labels of test/helpers/backends.ts, each made here so the 2-thread ones split the packing and the GEMM.
const variants = [
  { label: 'wasm', threads: 1, relaxed: hasRelaxed },
  { label: 'wasm:threads2', threads: 2, relaxed: hasRelaxed },
  { label: 'wasm:simd128', threads: 1, relaxed: false },
  { label: 'wasm:simd128:threads2', threads: 2, relaxed: false },
].filter((v) => v.threads === 1 || threaded);
const backends = variants.map((v) => ({ ...v, be: WasmBackend.create({ threads: v.threads, relaxed: v.relaxed }) }));
afterAll(async () => {
  for (const b of backends) (await b.be).destroy();
});

interface Case {
  n: number;
  c: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  s: [number, number];
  p: [number, number];
  d: [number, number];
  oc: number;
  residual: boolean;
  relu: boolean;
  /** 0: plain values; otherwise NaN, +∞ and −∞ planted in the image at positions from this seed. */
  specials: number;
  seed: number;
}

const geometryOf = (t: Case): WindowGeometry => ({
  n: t.n, c: t.c, h: t.h, w: t.w, kh: t.kh, kw: t.kw, sh: t.s[0], sw: t.s[1], ph: t.p[0], pw: t.p[1], dh: t.d[0], dw: t.d[1],
  oh: outLen(t.h, t.kh, t.s[0], t.p[0], t.d[0], false), ow: outLen(t.w, t.kw, t.s[1], t.p[1], t.d[1], false),
});

/** The image, with NaN/±∞ planted when asked (the weights stay finite: padding is 0·w in the GEMM, skipped by the oracle). */
function image(t: Case): Float64Array {
  const x = values(t.seed, t.n * t.c * t.h * t.w);
  if (t.specials) for (let i = 0; i < 3; i++) x[(t.specials * (i + 7) * 2654435761) % x.length >>> 0] = [NaN, Infinity, -Infinity][i];
  return x;
}

/** The float64 oracle (test/helpers/oracle.ts): direct convolution, then the epilogue, as [oc, n·oh·ow]. */
function expected(t: Case, g: WindowGeometry, x: Float64Array, w: Float64Array, scale: Float64Array, shift: Float64Array, res: Float64Array | null): Float64Array {
  return convEpilogue(arr([t.n, t.c, t.h, t.w], x), arr([t.oc, t.c, t.kh, t.kw], w), { sh: g.sh, sw: g.sw, ph: g.ph, pw: g.pw, dh: g.dh, dw: g.dw }, scale, shift, res, t.relu);
}

function expectClose(what: string, got: Float32Array, want: Float64Array, k: number): void {
  expect(got.length).toBe(want.length);
  const { atol, rtol } = f32(k);
  for (let i = 0; i < want.length; i++) {
    const [g, v] = [got[i], want[i]];
    const ok = Number.isNaN(v) ? Number.isNaN(g) : g === v || Math.abs(g - v) <= atol + rtol * Math.abs(v);
    if (!ok) expect.fail(`${what}: [${i}] got ${g}, oracle ${v}`);
  }
}

async function check(label: string, be: WasmBackend, t: Case): Promise<void> {
  const g = geometryOf(t);
  const k = t.c * t.kh * t.kw;
  const cols = t.n * g.oh * g.ow;
  const x = image(t);
  const w = values(t.seed + 1, t.oc * k);
  const scale = values(t.seed + 2, t.oc, { lo: 0.5, hi: 1.5 });
  const shift = values(t.seed + 3, t.oc);
  const res = t.residual ? values(t.seed + 4, t.oc * cols) : null;
  const up = (a: Float64Array): ReturnType<WasmBackend['upload']> => be.upload(Float32Array.from(a));
  const xs = up(x), ws = up(w), sc = up(scale), sh = up(shift), rs = res ? up(res) : null;
  const out = be.convEpilogue(xs, ws, g, t.oc, { scale: sc, shift: sh, residual: rs, relu: t.relu });
  const got = be.readSync(out);
  for (const s of [xs, ws, sc, sh, rs, out]) if (s) be.release(s);
  expectClose(`${label} ${JSON.stringify(t)}`, got, expected(t, g, x, w, scale, shift, res), k + 2);
}

const pair = (lo: number, hi: number): fc.Arbitrary<[number, number]> => fc.tuple(fc.integer({ min: lo, max: hi }), fc.integer({ min: lo, max: hi }));
const caseArb = (size: { c: [number, number]; hw: [number, number]; oc: [number, number] }): fc.Arbitrary<Case> =>
  fc
    .record({
      n: fc.integer({ min: 1, max: 3 }),
      c: fc.integer({ min: size.c[0], max: size.c[1] }),
      h: fc.integer({ min: size.hw[0], max: size.hw[1] }),
      w: fc.integer({ min: size.hw[0], max: size.hw[1] }),
      kh: fc.constantFrom(1, 3, 7),
      kw: fc.constantFrom(1, 3, 7),
      s: pair(1, 4),
      p: pair(0, 3),
      d: pair(1, 2),
      oc: fc.integer({ min: size.oc[0], max: size.oc[1] }),
      residual: fc.boolean(),
      relu: fc.boolean(),
      specials: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1000 })),
      seed: seedArb,
    })
    // Windows that fit (at least one output per axis) and PyTorch's rule that padding is at most half the kernel.
    .filter((t) => {
      const g = geometryOf(t);
      return g.oh >= 1 && g.ow >= 1 && 2 * t.p[0] <= t.kh && 2 * t.p[1] <= t.kw;
    });

describe.each(backends)('convEpilogue on $label (implicit im2col) matches the float64 oracle', ({ label, be }) => {
  it('over small generated geometries', async () => {
    const b = await be;
    await fc.assert(fc.asyncProperty(caseArb({ c: [1, 9], hw: [1, 11], oc: [1, 13] }), (t) => check(label, b, t)), { numRuns: runs(60) });
  });

  it('over geometries large enough to split over threads (≥ 2¹⁸ multiply-adds)', async () => {
    const b = await be;
    const big = caseArb({ c: [9, 21], hw: [12, 19], oc: [17, 45] }).filter((t) => {
      const g = geometryOf(t);
      return t.oc * t.c * t.kh * t.kw * t.n * g.oh * g.ow >= 1 << 18;
    });
    await fc.assert(fc.asyncProperty(big, (t) => check(label, b, t)), { numRuns: runs(8) });
  });

  it('ResNet-like small maps (7², 14²: n·oh·ow = 49 computes Cᵀ, image packed as A panels), 3×3 and 1×1 stride 2', async () => {
    const b = await be;
    const base = { n: 1, residual: true, relu: true, specials: 0, seed: 5, d: [1, 1] as [number, number] };
    for (const t of [
      { ...base, c: 24, h: 7, w: 7, kh: 3, kw: 3, s: [1, 1], p: [1, 1], oc: 64 },
      { ...base, c: 20, h: 14, w: 14, kh: 3, kw: 3, s: [1, 1], p: [1, 1], oc: 40, residual: false },
      { ...base, c: 16, h: 14, w: 14, kh: 3, kw: 3, s: [2, 2], p: [1, 1], oc: 36, specials: 3 },
      { ...base, c: 33, h: 14, w: 14, kh: 1, kw: 1, s: [2, 2], p: [0, 0], oc: 72, relu: false },
      { ...base, n: 2, c: 3, h: 23, w: 23, kh: 7, kw: 7, s: [2, 2], p: [3, 3], oc: 16 },
    ] as Case[])
      await check(label, b, t);
  });

  it('wide rows (whole tiles inside one input row: the copy paths for x stride 1, 2 and 3, dilation, padding rows)', async () => {
    const b = await be;
    for (const [sw, kw, dw, pw, oc] of [[1, 3, 1, 1, 5], [2, 3, 1, 1, 9], [3, 3, 2, 2, 6], [2, 7, 1, 3, 4], [1, 1, 1, 0, 70], [2, 1, 1, 0, 70], [3, 7, 2, 3, 65]])
      for (const w of [40, 57])
        await check(label, b, { n: 2, c: 3, h: 6, w, kh: 3, kw, s: [2, sw], p: [1, pw], d: [2, dw], oc, residual: false, relu: false, specials: sw, seed: sw * w });
  });

  it('no input channels (k = 0): the epilogue of a zero GEMM', async () => {
    const b = await be;
    await check(label, b, { n: 2, c: 0, h: 5, w: 6, kh: 3, kw: 3, s: [1, 1], p: [1, 1], d: [1, 1], oc: 7, residual: true, relu: true, specials: 0, seed: 3 });
  });

  it('after an in-place weight update the next call uses the new weights (kept panels dropped)', async () => {
    const b = await be;
    const t: Case = { n: 1, c: 5, h: 9, w: 9, kh: 3, kw: 3, s: [1, 1], p: [1, 1], d: [1, 1], oc: 12, residual: false, relu: false, specials: 0, seed: 11 };
    const g = geometryOf(t);
    const k = t.c * 9;
    const x = image(t);
    const [w1, w2] = [values(1, t.oc * k), values(2, t.oc * k)];
    const [scale, shift] = [new Float64Array(t.oc).fill(1), new Float64Array(t.oc)];
    const up = (a: Float64Array): ReturnType<WasmBackend['upload']> => b.upload(Float32Array.from(a));
    const [xs, ws, w2s, sc, sh] = [x, w1, w2, scale, shift].map(up);
    const e = { scale: sc, shift: sh, residual: null, relu: false };
    const run = (): Float32Array => {
      const o = b.convEpilogue(xs, ws, g, t.oc, e);
      const r = b.readSync(o);
      b.release(o);
      return r;
    };
    expectClose('first call', run(), expected(t, g, x, w1, scale, shift, null), k);
    expectClose('second call (kept panels)', run(), expected(t, g, x, w1, scale, shift, null), k);
    b.copyInto(ws, w2s);
    expectClose('after copyInto', run(), expected(t, g, x, w2, scale, shift, null), k);
    // An SGD step in place: w ← w − 1·g with g = w2 − w1 brings w back to w1.
    const diff = up(w2.map((v, i) => v - w1[i]));
    b.sgdStep(ws, diff, null, { lr: 1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, firstStep: true });
    expectClose('after sgdStep', run(), expected(t, g, x, Float64Array.from(w2, (v, i) => Math.fround(v - Math.fround(w2[i] - w1[i]))), scale, shift, null), k);
    for (const s of [xs, ws, w2s, sc, sh, diff]) b.release(s);
  });
});
