// The wasm backend's Winograd F(2×2,3×3) eval conv (src/backends/wasm-winograd.ts, kernels/wasm/winograd.ts),
// forced on: convEpilogue against the float64 oracle's direct convolution on relaxed and plain SIMD128
// kernels, 1 and 2 threads (odd sizes, 1×1 and 2×2 maps, padding 0–2 (rows and columns apart), channel counts off multiples of 4 and 8,
// residual and ReLU); NaN and ±∞ in the input or the weight give exactly the GEMM path's result (Winograd
// steps aside, see the driver); a weight written in place (copyInto, SGD, Adam) is re-transformed; the 'auto'
// rule; and the worst error at ResNet-50's stride-1 3×3 shapes. The input gradient (runInputGrad: the flipped,
// transposed weight's conv) against the float64 col2im(Wᵀ·dy), with NaN, ±∞ and float32 overflow in dy or the
// weight giving null (the caller's GEMM path); the wasm weight transform (wino_w, wino_wt) against float64 G g Gᵀ.
// The weight gradient (runWeightGrad: Gᵀ (Σ_tiles Ŷ ⊙ V) G) against the float64 gy·im2col(x)ᵀ, NaN and ±∞ in dy
// or x giving null, and its worst error at ResNet-50's 224² shapes.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { Storage, WindowGeometry } from '../src/backend.js';
import { enableRelaxedSimd, WasmBackend, wasmThreadsAvailable } from '../src/backends/wasm.js';
import { bandRows, uStride, winogradGradWins, winogradTiles, winogradWeightGradWins, winogradWins } from '../src/backends/wasm-winograd.js';
import { arr, convEpilogue } from './helpers/oracle.js';
import { params, seedArb, values } from './helpers/fd.js';
import { f32 } from './helpers/tolerance.js';

const hasRelaxed = process.env.GPUGRAD_WASM_RELAXED !== '0' && enableRelaxedSimd();
const VARIANTS = [
  ...(hasRelaxed ? [{ relaxed: true, threads: 1 }] : []),
  { relaxed: false, threads: 1 },
  ...(wasmThreadsAvailable() ? [...(hasRelaxed ? [{ relaxed: true, threads: 2 }] : []), { relaxed: false, threads: 2 }] : []),
];
const label = (v: { relaxed: boolean; threads: number }): string => `${v.relaxed ? 'relaxed' : 'simd128'}, ${v.threads} thread${v.threads > 1 ? 's' : ''}`;
const made: WasmBackend[] = [];
async function backend(v: { relaxed: boolean; threads: number }): Promise<WasmBackend> {
  const be = await WasmBackend.create({ ...v, winograd: 'on' });
  made.push(be);
  return be;
}
afterAll(() => made.forEach((b) => b.destroy()));

/** Counts the convs Winograd actually ran (a non-null result from its driver). */
function spy(be: WasmBackend): () => number {
  const w = be.winograd as { run: WasmBackend['winograd']['run'] };
  const run = w.run.bind(be.winograd);
  let used = 0;
  w.run = (...a) => {
    const r = run(...a);
    if (r) used++;
    return r;
  };
  return () => used;
}

interface Case {
  n: number;
  c: number;
  oc: number;
  h: number;
  w: number;
  /** Padding: p rows, q columns (q defaults to p). */
  p: number;
  q?: number;
  residual: boolean;
  relu: boolean;
  seed: number;
}
const pw = (r: Case): number => r.q ?? r.p;
const geometry = (r: Case): WindowGeometry => ({ n: r.n, c: r.c, h: r.h, w: r.w, kh: 3, kw: 3, sh: 1, sw: 1, ph: r.p, pw: pw(r), dh: 1, dw: 1, oh: r.h + 2 * r.p - 2, ow: r.w + 2 * pw(r) - 2 });

interface Inputs {
  x: Float64Array;
  w: Float64Array;
  scale: Float64Array;
  shift: Float64Array;
  res: Float64Array | null;
}
function inputs(r: Case): Inputs {
  const g = geometry(r);
  return {
    x: values(r.seed, r.n * r.c * r.h * r.w),
    w: values(r.seed + 1, r.oc * r.c * 9),
    scale: values(r.seed + 2, r.oc),
    shift: values(r.seed + 3, r.oc),
    res: r.residual ? values(r.seed + 4, r.oc * r.n * g.oh * g.ow) : null,
  };
}

/** convEpilogue on `be` (uploads, runs, reads back and frees). */
function run(be: WasmBackend, r: Case, d: Inputs, weight?: Storage): Float32Array {
  const up = (a: Float64Array): Storage => be.upload(Float32Array.from(a));
  const [x, scale, shift] = [up(d.x), up(d.scale), up(d.shift)];
  const w = weight ?? up(d.w);
  const residual = d.res ? up(d.res) : null;
  const out = be.convEpilogue(x, w, geometry(r), r.oc, { scale, shift, residual, relu: r.relu });
  const got = be.readSync(out);
  for (const s of [x, scale, shift, residual, out, weight ? null : w]) if (s) be.release(s);
  return got;
}

/** The float64 oracle (test/helpers/oracle.ts): direct convolution, then the epilogue, as [oc, n·oh·ow]. */
function oracle(r: Case, d: Inputs): Float64Array {
  return convEpilogue(arr([r.n, r.c, r.h, r.w], d.x), arr([r.oc, r.c, 3, 3], d.w), { sh: 1, sw: 1, ph: r.p, pw: pw(r), dh: 1, dw: 1 }, d.scale, d.shift, d.res, r.relu);
}

/** Largest |got − want| / (atol + rtol·|want|) under the float32 bound for 9·c-term sums: ≤ 1 passes. */
function worst(got: Float32Array, want: Float64Array, k: number): { ratio: number; at: number } {
  const { atol, rtol } = f32(k);
  let ratio = 0;
  let at = -1;
  want.forEach((v, i) => {
    const e = Math.abs(got[i] - v) / (atol + rtol * Math.abs(v));
    if (!(e <= ratio)) [ratio, at] = [Number.isNaN(e) ? Infinity : e, i];
  });
  return { ratio, at };
}

const caseArb = fc
  .record({
    n: fc.integer({ min: 1, max: 3 }),
    c: fc.integer({ min: 1, max: 13 }),
    oc: fc.integer({ min: 1, max: 13 }),
    h: fc.integer({ min: 1, max: 12 }),
    w: fc.integer({ min: 1, max: 12 }),
    p: fc.integer({ min: 0, max: 2 }),
    q: fc.integer({ min: 0, max: 2 }),
    residual: fc.boolean(),
    relu: fc.boolean(),
    seed: seedArb,
  })
  .filter((r) => r.h + 2 * r.p >= 3 && r.w + 2 * pw(r) >= 3);
/** Edge cases first: 1×1 and 2×2 maps, a single channel, no padding, one output row, one big enough to split over threads, c past the k block. */
const EXAMPLES: Case[] = [
  { n: 1, c: 1, oc: 1, h: 1, w: 1, p: 1, residual: false, relu: false, seed: 1 },
  { n: 2, c: 5, oc: 3, h: 2, w: 2, p: 1, residual: true, relu: true, seed: 2 },
  { n: 1, c: 9, oc: 7, h: 4, w: 4, p: 0, residual: false, relu: true, seed: 3 },
  { n: 3, c: 4, oc: 8, h: 3, w: 11, p: 0, residual: true, relu: false, seed: 4 },
  { n: 1, c: 2, oc: 2, h: 1, w: 9, p: 2, q: 0, residual: false, relu: false, seed: 5 },
  { n: 2, c: 13, oc: 17, h: 23, w: 19, p: 1, residual: true, relu: true, seed: 6 },
  // More channels than the GEMM's k block (1024): the micro-kernel accumulates over two blocks.
  { n: 1, c: 1030, oc: 5, h: 3, w: 4, p: 1, residual: false, relu: false, seed: 7 },
];

describe.each(VARIANTS.map((v) => [label(v), v] as const))('Winograd F(2×2,3×3) convEpilogue (%s)', (_, v) => {
  it(`matches the float64 direct convolution with its epilogue (${label(v)})`, async () => {
    const be = await backend(v);
    const used = spy(be);
    let calls = 0;
    fc.assert(
      fc.property(caseArb, (r) => {
        const d = inputs(r);
        const { ratio, at } = worst(run(be, r, d), oracle(r, d), 9 * r.c);
        calls++;
        expect(used(), 'Winograd ran').toBe(calls);
        if (ratio > 1) expect.fail(`${JSON.stringify(r)}: output ${at} off by ${ratio.toFixed(2)}× the float32 bound`);
      }),
      params(60, EXAMPLES),
    );
  });

  it(`NaN or ±∞ in the input or the weight: exactly the GEMM path's result, Winograd steps aside (${label(v)})`, async () => {
    const be = await backend(v);
    const used = spy(be);
    fc.assert(
      fc.property(fc.tuple(caseArb, fc.constantFrom('x', 'w'), fc.constantFrom<number | 'both'>(NaN, Infinity, -Infinity, 'both')), ([r, where, special]) => {
        const d = inputs(r);
        const a = where === 'x' ? d.x : d.w;
        const at = r.seed % a.length;
        if (special === 'both') {
          a[at] = Infinity;
          a[(at * 7 + 3) % a.length] = -Infinity;
        } else if (typeof special === 'number') a[at] = special;
        be.winograd.mode = 'off';
        const want = run(be, r, d);
        be.winograd.mode = 'on';
        const before = used();
        const got = run(be, r, d);
        expect(used()).toBe(before);
        expect(Array.from(got, (q) => (Number.isNaN(q) ? 'NaN' : q))).toEqual(Array.from(want, (q) => (Number.isNaN(q) ? 'NaN' : q)));
      }),
      params(30),
    );
  });

  it(`a weight written in place (copyInto, SGD, Adam) is transformed again; its transform is freed with it (${label(v)})`, async () => {
    const be = await backend(v);
    const r: Case = { n: 2, c: 6, oc: 5, h: 7, w: 6, p: 1, residual: true, relu: false, seed: 11 };
    const d = inputs(r);
    const w = be.upload(Float32Array.from(d.w));
    const check = (): void => {
      const now = { ...d, w: Float64Array.from(be.readSync(w)) };
      const { ratio, at } = worst(run(be, r, d, w), oracle(r, now), 9 * r.c);
      if (ratio > 1) expect.fail(`output ${at} off by ${ratio.toFixed(2)}× the float32 bound: a stale transformed weight?`);
    };
    check();
    expect(be.packedBytes()).toBeGreaterThan(0);
    const grad = be.upload(Float32Array.from(values(12, d.w.length)));
    be.copyInto(w, be.upload(Float32Array.from(values(13, d.w.length))));
    check();
    be.sgdStep(w, grad, null, { lr: 0.5, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, firstStep: true });
    check();
    const [m, vv] = [be.fill(d.w.length, 0), be.fill(d.w.length, 0)];
    be.adamStep(w, grad, m, vv, { lr: 0.3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, step: 1 });
    check();
    be.release(w);
    expect(be.packedBytes()).toBe(0);
  });
});

describe('Winograd: when it runs', () => {
  it("'auto' takes 3×3 stride-1 convs whose tiles are at least half kept (ResNet-50's down to 4² maps, few channels too), not 3², 2² and 1² maps", () => {
    const g = (n: number, c: number, hw: number): WindowGeometry => ({ n, c, h: hw, w: hw, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, oh: hw, ow: hw });
    for (const [n, c, hw] of [[1, 64, 56], [1, 128, 28], [1, 256, 14], [1, 512, 7], [8, 64, 8], [8, 128, 4], [1, 3, 56], [1, 16, 7], [2, 8, 5]]) expect(winogradWins(g(n, c, hw), c), `${n} ${c} ${hw}`).toBe(true);
    for (const [n, c, hw] of [[8, 256, 2], [8, 512, 1], [1, 64, 3]]) expect(winogradWins(g(n, c, hw), c), `${n} ${c} ${hw}`).toBe(false);
  });

  it("'off', strided, dilated and non-3×3 convs take the GEMM path; the option and GPUGRAD_WASM_WINOGRAD set the mode", () => {
    const be = WasmBackend.createSync({ threads: 1, winograd: 'on' });
    made.push(be);
    const used = spy(be);
    const r: Case = { n: 1, c: 3, oc: 2, h: 6, w: 6, p: 1, residual: false, relu: false, seed: 21 };
    const d = inputs(r);
    const up = (a: Float64Array): Storage => be.upload(Float32Array.from(a));
    const e = { scale: up(d.scale), shift: up(d.shift), residual: null, relu: false };
    const base = geometry(r);
    be.convEpilogue(up(d.x), up(d.w), { ...base, sh: 2, sw: 2, oh: 3, ow: 3 }, 2, e);
    be.convEpilogue(up(d.x), up(d.w), { ...base, dh: 2, dw: 2, oh: 4, ow: 4 }, 2, e);
    be.convEpilogue(up(d.x), up(d.x.slice(0, 2 * 3 * 25)), { ...base, kh: 5, kw: 5, ph: 2, pw: 2 }, 2, e);
    // 2×2 dilated by 2 spans 3×3 and has the same output size: still not a 3×3 conv.
    be.convEpilogue(up(d.x), up(d.x.slice(0, 2 * 3 * 4)), { ...base, kh: 2, kw: 2, dh: 2, dw: 2 }, 2, e);
    expect(used()).toBe(0);
    be.convEpilogue(up(d.x), up(d.w), base, 2, e);
    expect(used()).toBe(1);
    be.winograd.mode = 'off';
    be.convEpilogue(up(d.x), up(d.w), base, 2, e);
    expect(used()).toBe(1);
    const prev = process.env.GPUGRAD_WASM_WINOGRAD;
    try {
      process.env.GPUGRAD_WASM_WINOGRAD = 'off';
      expect(WasmBackend.createSync({ threads: 1 }).winograd.mode).toBe('off');
      process.env.GPUGRAD_WASM_WINOGRAD = 'on';
      expect(WasmBackend.createSync({ threads: 1 }).winograd.mode).toBe('on');
      expect(WasmBackend.createSync({ threads: 1, winograd: 'auto' }).winograd.mode).toBe('auto');
      delete process.env.GPUGRAD_WASM_WINOGRAD;
      expect(WasmBackend.createSync({ threads: 1 }).winograd.mode).toBe('auto');
    } finally {
      if (prev === undefined) delete process.env.GPUGRAD_WASM_WINOGRAD;
      else process.env.GPUGRAD_WASM_WINOGRAD = prev;
    }
  });

  it("transformed weights are not kept with prepack off (and the result is the same); 'auto' then takes the GEMM path", () => {
    const kept = WasmBackend.createSync({ threads: 1, winograd: 'on' });
    const each = WasmBackend.createSync({ threads: 1, winograd: 'on', prepack: false });
    made.push(kept, each);
    const r: Case = { n: 1, c: 7, oc: 9, h: 9, w: 5, p: 1, residual: false, relu: true, seed: 31 };
    const d = inputs(r);
    const [wk, we] = [kept.upload(Float32Array.from(d.w)), each.upload(Float32Array.from(d.w))];
    expect(run(each, r, d, we)).toEqual(run(kept, r, d, wk));
    expect(kept.packedBytes()).toBeGreaterThan(0);
    expect(each.packedBytes()).toBe(0);
    expect(run(each, r, d, we)).toEqual(run(kept, r, d, wk));
    // 'auto' does not pay a weight transform per call.
    const used = spy(each);
    each.winograd.mode = 'auto';
    run(each, r, d, we);
    expect(used()).toBe(0);
  });
});

describe("Winograd at ResNet-50's stride-1 3×3 shapes (224², batch 1)", () => {
  it.each(VARIANTS.filter((v) => v.threads === 1).map((v) => [label(v), v] as const))('stays within the float32 bound of the float64 direct convolution; worst errors logged (%s)', async (_, v) => {
    const be = await backend(v);
    const used = spy(be);
    const lines: string[] = [];
    for (const [c, hw] of [[64, 56], [128, 28], [256, 14], [512, 7]]) {
      const r: Case = { n: 1, c, oc: c, h: hw, w: hw, p: 1, residual: false, relu: false, seed: c };
      // Inputs as after a batch norm and ReLU, weights at Kaiming scale: outputs of order 1.
      const d = { ...inputs(r), scale: new Float64Array(c).fill(1), shift: new Float64Array(c) };
      d.x = d.x.map((q) => Math.max(0, q));
      d.w = d.w.map((q) => Math.fround(q * Math.sqrt(2 / (9 * c))));
      const want = oracle(r, d);
      const err = (got: Float32Array): string => {
        let [abs, peak] = [0, 0];
        want.forEach((q, i) => ((abs = Math.max(abs, Math.abs(got[i] - q))), (peak = Math.max(peak, Math.abs(q)))));
        return `max |err| ${abs.toExponential(2)} = ${(abs / peak).toExponential(2)} of max |y|, ${worst(got, want, 9 * c).ratio.toFixed(3)} of the float32 bound`;
      };
      const wino = run(be, r, d);
      be.winograd.mode = 'off';
      const gemm = run(be, r, d);
      be.winograd.mode = 'on';
      lines.push(`${c}→${c} @${hw}²: Winograd ${err(wino)}; GEMM path ${err(gemm)}`);
      expect(worst(wino, want, 9 * c).ratio).toBeLessThanOrEqual(1);
    }
    expect(used()).toBe(4);
    console.log(`Winograd error, ${label(v)}:\n${lines.join('\n')}`);
  });
});

/** A backend storage as the Winograd driver's storage type. */
type WS = Parameters<WasmBackend['winograd']['run']>[0];
const ws = (s: Storage): WS => s as unknown as WS;

/** G's rows (1, 0, 0), (½, ½, ½), (½, −½, ½), (0, 0, 1): U = G g Gᵀ in float64, row-major 4×4. */
function wino(g: ArrayLike<number>): number[] {
  const G = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]];
  const u: number[] = [];
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) {
    let v = 0;
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) v += G[i][a] * g[3 * a + b] * G[j][b];
    u.push(v);
  }
  return u;
}

interface GradCase {
  n: number;
  c: number;
  oc: number;
  h: number;
  w: number;
  p: number;
  q: number;
  seed: number;
}
const gradGeometry = (r: GradCase): WindowGeometry => ({ n: r.n, c: r.c, h: r.h, w: r.w, kh: 3, kw: 3, sh: 1, sw: 1, ph: r.p, pw: r.q, dh: 1, dw: 1, oh: r.h + 2 * r.p - 2, ow: r.w + 2 * r.q - 2 });

/** The float64 input gradient of conv(x, w) (geometry g): col2im(Wᵀ·dy), each product scattered to its pixel, NCHW. */
function gradOracle(g: WindowGeometry, oc: number, dy: Float64Array, w: Float64Array): Float64Array {
  const { n, c, h, w: W, ph, pw, oh, ow } = g;
  const dx = new Float64Array(n * c * h * W);
  for (let b = 0; b < n; b++)
    for (let o = 0; o < oc; o++)
      for (let ch = 0; ch < c; ch++)
        for (let ky = 0; ky < 3; ky++)
          for (let kx = 0; kx < 3; kx++) {
            const wv = w[((o * c + ch) * 3 + ky) * 3 + kx];
            for (let oy = 0; oy < oh; oy++) {
              const iy = oy - ph + ky;
              if (iy < 0 || iy >= h) continue;
              for (let ox = 0; ox < ow; ox++) {
                const ix = ox - pw + kx;
                if (ix >= 0 && ix < W) dx[((b * c + ch) * h + iy) * W + ix] += wv * dy[((b * oc + o) * oh + oy) * ow + ox];
              }
            }
          }
  return dx;
}

/** runInputGrad on `be` for dy given NCHW (uploaded as channel rows [oc, n·oh·ow], the conv primitive's layout); null where it stepped aside. */
function inputGrad(be: WasmBackend, g: WindowGeometry, oc: number, dy: Float64Array, w: Float64Array): Float32Array | null {
  const L = g.oh * g.ow;
  const rows = new Float32Array(dy.length);
  for (let b = 0; b < g.n; b++) for (let o = 0; o < oc; o++) rows.set(dy.subarray((b * oc + o) * L, (b * oc + o + 1) * L), (o * g.n + b) * L);
  const [d, k] = [be.upload(rows), be.upload(Float32Array.from(w))];
  const out = be.winograd.runInputGrad(ws(d), ws(k), g, oc);
  const got = out ? be.readSync(out as unknown as Storage) : null;
  for (const s of [d, k, out as unknown as Storage | null]) if (s) be.release(s);
  return got;
}

const gradArb = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    c: fc.integer({ min: 1, max: 13 }),
    oc: fc.integer({ min: 1, max: 13 }),
    h: fc.integer({ min: 1, max: 11 }),
    w: fc.integer({ min: 1, max: 11 }),
    p: fc.integer({ min: 0, max: 2 }),
    q: fc.integer({ min: 0, max: 2 }),
    seed: seedArb,
  })
  .filter((r) => r.h + 2 * r.p >= 3 && r.w + 2 * r.q >= 3);
/** 1×1 and 2×2 maps, no padding, padding 2 (the gradient's conv then has none), batch 2, odd channel counts, k past the GEMM's k block. */
const GRAD_EXAMPLES: GradCase[] = [
  { n: 1, c: 1, oc: 1, h: 1, w: 1, p: 1, q: 1, seed: 1 },
  { n: 2, c: 3, oc: 5, h: 2, w: 2, p: 1, q: 1, seed: 2 },
  { n: 1, c: 7, oc: 9, h: 5, w: 4, p: 0, q: 0, seed: 3 },
  { n: 2, c: 6, oc: 3, h: 1, w: 7, p: 2, q: 0, seed: 4 },
  { n: 2, c: 13, oc: 11, h: 9, w: 10, p: 2, q: 2, seed: 5 },
  { n: 1, c: 5, oc: 1030, h: 3, w: 3, p: 1, q: 1, seed: 6 },
];

describe.each(VARIANTS.map((v) => [label(v), v] as const))('Winograd input gradient and weight transform (%s)', (_, v) => {
  it(`runInputGrad (dy in channel rows) matches the float64 col2im(Wᵀ·dy) in NCHW (${label(v)})`, async () => {
    const be = await backend(v);
    fc.assert(
      fc.property(gradArb, (r) => {
        const g = gradGeometry(r);
        const dy = values(r.seed, r.n * r.oc * g.oh * g.ow);
        const w = values(r.seed + 1, r.oc * r.c * 9);
        const got = inputGrad(be, g, r.oc, dy, w);
        if (got === null) return expect.fail(`${JSON.stringify(r)}: Winograd stepped aside`);
        expect(got.length).toBe(r.n * r.c * r.h * r.w);
        const { ratio, at } = worst(got, gradOracle(g, r.oc, dy, w), 9 * r.oc);
        if (ratio > 1) expect.fail(`${JSON.stringify(r)}: dx ${at} off by ${ratio.toFixed(2)}× the float32 bound`);
      }),
      params(60, GRAD_EXAMPLES),
    );
  });

  it(`runInputGrad: NaN, ±∞ or float32 overflow in dy or the weight give null (the GEMM path's semantics) (${label(v)})`, async () => {
    const be = await backend(v);
    fc.assert(
      fc.property(fc.tuple(gradArb, fc.constantFrom('dy', 'w'), fc.constantFrom<number | 'both' | 'big'>(NaN, Infinity, -Infinity, 'both', 'big')), ([r, where, special]) => {
        const g = gradGeometry(r);
        const dy = values(r.seed, r.n * r.oc * g.oh * g.ow);
        const w = values(r.seed + 1, r.oc * r.c * 9);
        const a = where === 'dy' ? dy : w;
        const at = r.seed % a.length;
        if (special === 'both') {
          a[at] = Infinity;
          a[(at * 7 + 3) % a.length] = -Infinity;
        } else if (special === 'big') {
          // Finite, but sums of them pass float32's range in the transforms.
          if (where === 'dy') return;
          a.fill(3e38);
        } else a[at] = special;
        expect(inputGrad(be, g, r.oc, dy, w)).toBeNull();
      }),
      params(40),
    );
  });

  it(`wino_w and wino_wt write float64 G g Gᵀ (flipped and transposed for wino_wt) in the packed layout, zero rows past the end (${label(v)})`, async () => {
    const be = await backend(v);
    const free = (be.winograd as unknown as { ctx: { free(b: unknown): void } }).ctx;
    let worstRel = 0;
    fc.assert(
      fc.property(fc.tuple(fc.integer({ min: 1, max: 13 }), fc.integer({ min: 1, max: 13 }), fc.boolean(), seedArb), ([oc, c, flipped, seed]) => {
        const w = values(seed, oc * c * 9, { lo: -3, hi: 3 });
        const s = be.upload(Float32Array.from(w));
        const b = be.winograd.transform(ws(s), oc, c, flipped);
        if (b === null) return expect.fail('finite weight reported non-finite');
        const [rows, k] = flipped ? [c, oc] : [oc, c];
        const per = uStride(rows, k) / 4;
        const f = new Float32Array(be.memory.buffer);
        const base = b.ptr >>> 2;
        for (let row = 0; row < Math.ceil(rows / 4) * 4; row++)
          for (let q = 0; q < k; q++) {
            const [o, ch] = flipped ? [q, row] : [row, q];
            let g = row < rows ? Array.from(w.subarray((o * c + ch) * 9, (o * c + ch) * 9 + 9), Math.fround) : null;
            // The input gradient's kernel is g rotated 180°.
            if (g && flipped) g = g.reverse();
            const want = g ? wino(g) : new Array<number>(16).fill(0);
            const bound = g ? 2 ** -23 * g.reduce((t, x) => t + Math.abs(x), 0) : 0;
            for (let xi = 0; xi < 16; xi++) {
              const got = f[base + xi * per + ((row >> 2) * k + q) * 4 + (row & 3)];
              if (!(Math.abs(got - want[xi]) <= bound)) expect.fail(`oc ${oc} c ${c} flipped ${flipped}: U_${xi}(${row}, ${q}) = ${got}, want ${want[xi]}`);
              if (g) worstRel = Math.max(worstRel, Math.abs(got - want[xi]) / g.reduce((t, x) => t + Math.abs(x), 0));
            }
          }
        free.free(b);
        be.release(s);
      }),
      // Big enough to split over threads (≥ 2¹⁴ kernels), rows not a multiple of 4.
      params<[number, number, boolean, number]>(40, [[130, 131, false, 7], [131, 130, true, 8]]),
    );
    // A NaN, ∞ or overflowing kernel in any one thread's piece (the last row group too) makes the transform null.
    for (const flipped of [false, true])
      for (const [at, val] of [[0, NaN], [130 * 131 * 9 - 1, -Infinity], [65 * 131 * 9, 3e38], [(129 * 131 + 130) * 9, 3e38]] as const) {
        const w = Float32Array.from(values(at, 130 * 131 * 9));
        w[at] = val;
        // A kernel of 3e38s: ½(a + m + z) = 4.5e38 passes float32's range (in float64 too).
        if (val === 3e38) w.fill(3e38, at, at + 9);
        const st = be.upload(w);
        expect(be.winograd.transform(ws(st), 130, 131, flipped), `flipped ${flipped}, ${val} at ${at}`).toBeNull();
        be.release(st);
      }
    console.log(`wasm weight transform, ${label(v)}: worst |U − U₆₄| = ${worstRel.toExponential(2)} of Σ|g| (bound 2⁻²³ = 1.2e-7)`);
  });
});

describe('Winograd plain forward (run without an epilogue, training)', () => {
  it.each(VARIANTS.map((v) => [label(v), v] as const))('equals the identity epilogue (scale 1, shift 0) up to the sign of zeros (%s)', async (_, v) => {
    const be = await backend(v);
    fc.assert(
      fc.property(caseArb, (r0) => {
        const r = { ...r0, residual: false, relu: false };
        const d = { ...inputs(r), scale: new Float64Array(r.oc).fill(1), shift: new Float64Array(r.oc) };
        const want = run(be, r, d);
        const [x, w] = [be.upload(Float32Array.from(d.x)), be.upload(Float32Array.from(d.w))];
        const out = be.winograd.run(ws(x), ws(w), geometry(r), r.oc, null);
        if (!out) return expect.fail('stepped aside');
        const got = be.readSync(out as unknown as Storage);
        for (const s of [x, w, out as unknown as Storage]) be.release(s);
        expect(Array.from(got, (q) => q + 0)).toEqual(Array.from(want, (q) => q + 0));
      }),
      params(20),
    );
  });
});

describe('Winograd input gradient: kept transforms and when it runs', () => {
  it('keeps the flipped transform per weight storage apart from the forward one, and drops both when the weight is written', () => {
    const be = WasmBackend.createSync({ threads: 1, winograd: 'on' });
    made.push(be);
    const r: GradCase = { n: 1, c: 5, oc: 6, h: 6, w: 5, p: 1, q: 1, seed: 41 };
    const g = gradGeometry(r);
    const dy = be.upload(Float32Array.from(values(r.seed, r.oc * g.oh * g.ow)));
    const wv = values(r.seed + 1, r.oc * r.c * 9);
    const w = be.upload(Float32Array.from(wv));
    const check = (want: Float64Array): void => {
      const out = be.winograd.runInputGrad(ws(dy), ws(w), g, r.oc);
      if (!out) return expect.fail('stepped aside');
      const { ratio } = worst(be.readSync(out as unknown as Storage), gradOracle(g, r.oc, Float64Array.from(be.readSync(dy)), want), 9 * r.oc);
      expect(ratio).toBeLessThanOrEqual(1);
    };
    check(wv);
    const one = be.packedBytes();
    expect(one).toBeGreaterThan(0);
    // The forward transform is kept next to it, not instead of it.
    const x = be.upload(Float32Array.from(values(43, r.c * r.h * r.w)));
    const e = { scale: be.upload(new Float32Array(r.oc).fill(1)), shift: be.upload(new Float32Array(r.oc)), residual: null, relu: false };
    be.convEpilogue(x, w, g, r.oc, e);
    expect(be.packedBytes()).toBeGreaterThan(one);
    check(wv);
    const nv = values(44, wv.length);
    be.copyInto(w, be.upload(Float32Array.from(nv)));
    check(nv);
    be.release(w);
    expect(be.packedBytes()).toBe(0);
  });

  it("steps aside for 'off', padding above 2, strides and non-3×3 kernels; 'auto' follows winogradGradWins", () => {
    const be = WasmBackend.createSync({ threads: 1, winograd: 'on' });
    made.push(be);
    const r: GradCase = { n: 1, c: 3, oc: 2, h: 6, w: 6, p: 3, q: 1, seed: 51 };
    const g = gradGeometry(r);
    const up = (n: number): WS => ws(be.upload(Float32Array.from(values(n, 4096))));
    expect(be.winograd.runInputGrad(up(1), up(2), g, 2)).toBeNull();
    expect(be.winograd.runInputGrad(up(1), up(2), { ...g, ph: 1, oh: 6, sh: 2 }, 2)).toBeNull();
    const ok = { ...g, ph: 1, oh: 6 };
    expect(be.winograd.runInputGrad(up(1), up(2), ok, 2)).not.toBeNull();
    be.winograd.mode = 'off';
    expect(be.winograd.runInputGrad(up(1), up(2), ok, 2)).toBeNull();
    be.winograd.mode = 'auto';
    expect(be.winograd.runInputGrad(up(1), up(2), ok, 2) !== null).toBe(winogradGradWins(ok, 2));
  });
});

describe("Winograd input gradient at ResNet-50's stride-1 3×3 shapes (224², batch 1)", () => {
  it.each(VARIANTS.filter((v) => v.threads === 1).map((v) => [label(v), v] as const))('stays within the float32 bound of the float64 col2im(Wᵀ·dy); worst errors logged (%s)', async (_, v) => {
    const be = await backend(v);
    const lines: string[] = [];
    for (const [c, hw] of [[64, 56], [128, 28], [256, 14], [512, 7]]) {
      const g = gradGeometry({ n: 1, c, oc: c, h: hw, w: hw, p: 1, q: 1, seed: c });
      // Weights at Kaiming scale, dy of order 1.
      const dy = values(c, c * hw * hw);
      const w = values(c + 1, c * c * 9).map((q) => Math.fround(q * Math.sqrt(2 / (9 * c))));
      const want = gradOracle(g, c, dy, w);
      const got = inputGrad(be, g, c, dy, w);
      if (got === null) return expect.fail(`${c}@${hw}²: stepped aside`);
      let [abs, peak] = [0, 0];
      want.forEach((q, i) => ((abs = Math.max(abs, Math.abs(got[i] - q))), (peak = Math.max(peak, Math.abs(q)))));
      const { ratio } = worst(got, want, 9 * c);
      lines.push(`${c}→${c} dX @${hw}²: max |err| ${abs.toExponential(2)} = ${(abs / peak).toExponential(2)} of max |dx|, ${ratio.toFixed(3)} of the float32 bound`);
      expect(ratio).toBeLessThanOrEqual(1);
    }
    console.log(`Winograd input-gradient error, ${label(v)}:\n${lines.join('\n')}`);
  });
});

/** The float64 weight gradient of conv(x, w) (geometry g) from dy in channel rows [oc, n·oh·ow]: gy·im2col(x)ᵀ as [oc, c, 3, 3]. */
function wgradOracle(g: WindowGeometry, oc: number, dy: Float64Array, x: Float64Array): Float64Array {
  const { n, c, h, w: W, ph, pw, oh, ow } = g;
  const L = oh * ow;
  const dw = new Float64Array(oc * c * 9);
  for (let o = 0; o < oc; o++)
    for (let ch = 0; ch < c; ch++)
      for (let r = 0; r < 3; r++)
        for (let q = 0; q < 3; q++) {
          let t = 0;
          for (let b = 0; b < n; b++)
            for (let oy = 0; oy < oh; oy++) {
              const iy = oy + r - ph;
              if (iy < 0 || iy >= h) continue;
              for (let ox = 0; ox < ow; ox++) {
                const ix = ox + q - pw;
                if (ix >= 0 && ix < W) t += dy[(o * n + b) * L + oy * ow + ox] * x[((b * c + ch) * h + iy) * W + ix];
              }
            }
          dw[((o * c + ch) * 3 + r) * 3 + q] = t;
        }
  return dw;
}

/** runWeightGrad on `be` (dy in channel rows, x NCHW); null where it stepped aside. */
function weightGrad(be: WasmBackend, g: WindowGeometry, oc: number, dy: Float64Array, x: Float64Array): Float32Array | null {
  const [d, xs] = [be.upload(Float32Array.from(dy)), be.upload(Float32Array.from(x))];
  const out = be.winograd.runWeightGrad(ws(d), ws(xs), g, oc);
  const got = out ? be.readSync(out as unknown as Storage) : null;
  for (const s of [d, xs, out as unknown as Storage | null]) if (s) be.release(s);
  return got;
}

/**
 * 1×1 and 2×2 maps, no padding, padding 2 (rows and columns apart), odd channel counts; k (tiles) in 2 chunks,
 * the last one shorter (132 tiles), and past the GEMM's k block in 16 chunks of 160 and a last of 120 (2520).
 */
const WGRAD_EXAMPLES: GradCase[] = [
  ...GRAD_EXAMPLES.slice(0, 5),
  { n: 1, c: 5, oc: 6, h: 21, w: 21, p: 1, q: 1, seed: 6 },
  { n: 2, c: 3, oc: 5, h: 70, w: 70, p: 1, q: 1, seed: 7 },
];

describe.each(VARIANTS.map((v) => [label(v), v] as const))('Winograd weight gradient (%s)', (_, v) => {
  it(`runWeightGrad (dy in channel rows, x NCHW) matches the float64 gy·im2col(x)ᵀ as [oc, c, 3, 3] (${label(v)})`, async () => {
    const be = await backend(v);
    fc.assert(
      fc.property(gradArb, (r) => {
        const g = gradGeometry(r);
        const dy = values(r.seed, r.oc * r.n * g.oh * g.ow);
        const x = values(r.seed + 1, r.n * r.c * r.h * r.w);
        const got = weightGrad(be, g, r.oc, dy, x);
        if (got === null) return expect.fail(`${JSON.stringify(r)}: Winograd stepped aside`);
        expect(got.length).toBe(r.oc * r.c * 9);
        const { ratio, at } = worst(got, wgradOracle(g, r.oc, dy, x), r.n * g.oh * g.ow);
        if (ratio > 1) expect.fail(`${JSON.stringify(r)}: dW ${at} off by ${ratio.toFixed(2)}× the float32 bound`);
      }),
      params(60, WGRAD_EXAMPLES),
    );
  });

  it(`runWeightGrad: NaN or ±∞ in dy or x give null (the GEMM path's semantics) (${label(v)})`, async () => {
    const be = await backend(v);
    fc.assert(
      fc.property(fc.tuple(gradArb, fc.constantFrom('dy', 'x'), fc.constantFrom<number | 'both'>(NaN, Infinity, -Infinity, 'both')), ([r, where, special]) => {
        const g = gradGeometry(r);
        const dy = values(r.seed, r.oc * r.n * g.oh * g.ow);
        const x = values(r.seed + 1, r.n * r.c * r.h * r.w);
        const a = where === 'dy' ? dy : x;
        const at = r.seed % a.length;
        if (special === 'both') {
          a[at] = Infinity;
          a[(at * 7 + 3) % a.length] = -Infinity;
        } else a[at] = special;
        expect(weightGrad(be, g, r.oc, dy, x)).toBeNull();
      }),
      params(40),
    );
  });
});

describe('Winograd weight gradient: when it runs', () => {
  it("steps aside for 'off', strides and non-3×3 kernels; 'auto' follows winogradWeightGradWins", async () => {
    const be = await backend({ relaxed: false, threads: 1 });
    const up = (k: number): WS => ws(be.upload(Float32Array.from(values(k, 2 * 2 * 256))));
    const g = gradGeometry({ n: 1, c: 2, oc: 2, h: 8, w: 8, p: 1, q: 1, seed: 0 });
    expect(be.winograd.runWeightGrad(up(1), up(2), { ...g, sh: 2, sw: 2, oh: 4, ow: 4 }, 2)).toBeNull();
    expect(be.winograd.runWeightGrad(up(1), up(2), { ...g, kh: 5, kw: 5, ph: 2, pw: 2 }, 2)).toBeNull();
    expect(be.winograd.runWeightGrad(up(1), up(2), g, 2)).not.toBeNull();
    be.winograd.mode = 'off';
    expect(be.winograd.runWeightGrad(up(1), up(2), g, 2)).toBeNull();
    be.winograd.mode = 'auto';
    expect([1, 2, 4, 8, 12, 16].map((hw) => winogradWeightGradWins(gradGeometry({ n: 1, c: 2, oc: 2, h: hw, w: hw, p: 1, q: 1, seed: 0 }), 2))).toEqual([false, false, false, false, true, true]);
    for (const hw of [1, 2, 4, 8, 12, 16]) {
      const gg = gradGeometry({ n: 1, c: 2, oc: 2, h: hw, w: hw, p: 1, q: 1, seed: 0 });
      expect(be.winograd.runWeightGrad(up(1), up(2), gg, 2) !== null).toBe(winogradWeightGradWins(gg, 2));
    }
    be.winograd.mode = 'on';
  });
});

describe("Winograd weight gradient at ResNet-50's stride-1 3×3 shapes (224², batch 1)", () => {
  it.each(VARIANTS.filter((v) => v.threads === 1).map((v) => [label(v), v] as const))('stays within the float32 bound of the float64 gy·im2col(x)ᵀ; worst errors logged (%s)', async (_, v) => {
    const be = await backend(v);
    const lines: string[] = [];
    for (const [c, hw] of [[64, 56], [128, 28], [256, 14], [512, 7]]) {
      const g = gradGeometry({ n: 1, c, oc: c, h: hw, w: hw, p: 1, q: 1, seed: c });
      // dy and x of order 1 (a dW entry sums hw² products: K = n·oh·ow).
      const dy = values(c, c * hw * hw);
      const x = values(c + 1, c * hw * hw);
      const want = wgradOracle(g, c, dy, x);
      const got = weightGrad(be, g, c, dy, x);
      if (got === null) return expect.fail(`${c}@${hw}²: stepped aside`);
      let [abs, peak] = [0, 0];
      want.forEach((q, i) => ((abs = Math.max(abs, Math.abs(got[i] - q))), (peak = Math.max(peak, Math.abs(q)))));
      const { ratio } = worst(got, want, hw * hw);
      lines.push(`${c}→${c} dW @${hw}²: max |err| ${abs.toExponential(2)} = ${(abs / peak).toExponential(2)} of max |dW|, ${ratio.toFixed(3)} of the float32 bound f32(${hw * hw})`);
      expect(ratio).toBeLessThanOrEqual(1);
    }
    console.log(`Winograd weight-gradient error, ${label(v)}:\n${lines.join('\n')}`);
  });
});

describe('Winograd in bands of tile rows (each band staged, transformed, multiplied and written by one thread)', () => {
  const bits = (a: Float32Array | null): (number | string)[] | null => (a ? Array.from(a, (q) => (Number.isNaN(q) ? 'NaN' : Object.is(q, -0) ? '-0' : q)) : null);

  it.each(VARIANTS.map((v) => [label(v), v] as const))('give the unbanded conv and input gradient bit for bit, batch and odd sizes included (%s)', async (_, v) => {
    const be = await backend(v);
    const used = spy(be);
    try {
      fc.assert(
        fc.property(caseArb, (r) => {
          const d = inputs(r);
          be.winograd.banding = 'off';
          const want = run(be, r, d);
          be.winograd.banding = 'on';
          expect(bits(run(be, r, d))).toEqual(bits(want));
        }),
        params(40, EXAMPLES),
      );
      expect(used()).toBeGreaterThan(0);
      fc.assert(
        fc.property(gradArb, (r) => {
          const g = gradGeometry(r);
          const dy = values(r.seed, r.n * r.oc * g.oh * g.ow);
          const w = values(r.seed + 1, r.oc * r.c * 9);
          be.winograd.banding = 'off';
          const want = inputGrad(be, g, r.oc, dy, w);
          be.winograd.banding = 'on';
          expect(bits(inputGrad(be, g, r.oc, dy, w))).toEqual(bits(want));
        }),
        params(30, GRAD_EXAMPLES),
      );
      // NaN or ±∞ in the input: the bands see it after writing their output, which is dropped for the GEMM path.
      fc.assert(
        fc.property(fc.tuple(caseArb, fc.constantFrom(NaN, Infinity, -Infinity)), ([r, special]) => {
          const d = inputs(r);
          d.x[r.seed % d.x.length] = special;
          be.winograd.mode = 'off';
          const want = run(be, r, d);
          be.winograd.mode = 'on';
          const before = used();
          expect(bits(run(be, r, d))).toEqual(bits(want));
          expect(used()).toBe(before);
        }),
        params(15),
      );
    } finally {
      be.winograd.banding = 'auto';
    }
  });

  it("'auto' bands on 2 threads or more where all 16 U_ξ fit beside a band in L2 (ResNet-50's 56² and 28² stages, not 14² and 7²); bands are whole tile rows of one image, full GEMM panels, shared evenly", () => {
    const shape = (n: number, c: number, hw: number) => ({ n, cin: c, cout: c, oh: hw, ow: hw });
    expect([[64, 56], [128, 28], [256, 14], [512, 7]].map(([c, hw]) => bandRows(shape(1, c, hw), 2))).toEqual([2, 1, 0, 0]);
    expect([[64, 56], [128, 28]].map(([c, hw]) => bandRows(shape(1, c, hw), 1))).toEqual([0, 0]);
    expect(bandRows(shape(1, 128, 28), 1, true)).toBe(2);
    expect(bandRows(shape(1, 512, 7), 2, true)).toBeGreaterThan(0);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 120 }), fc.integer({ min: 1, max: 4 }), (n, c, oc, hw, T) => {
        const R = bandRows({ n, cin: c, cout: oc, oh: hw, ow: hw }, T, true);
        const { th } = winogradTiles(n, hw, hw);
        expect(R).toBeGreaterThanOrEqual(1);
        expect(R).toBeLessThanOrEqual(th);
        if (16 * uStride(oc, c) > 1024 * 1024 + 16 * 64) expect(bandRows({ n, cin: c, cout: oc, oh: hw, ow: hw }, T)).toBe(0);
      }),
    );
  });
});
