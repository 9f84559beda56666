// The conv primitive in training (F.conv2d recorded for a gradient: the backend's convForward, convInputGrad and
// convWeightGrad)
// on the wasm backend with Winograd forced on and off, relaxed and plain SIMD128, 1 and 2 threads: output and
// input/weight/bias gradients against the float64 oracle and central differences over generated 3×3 stride-1
// shapes (odd sizes, 1×1 and 2×2 maps, padding 0–2, batch 1 and 2, channel counts off multiples of 4), with
// a count showing which path ran; a NaN or ±∞ in the input keeps the direct convolution's NaN pattern in
// the output and both gradients.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { currentBackend, F, setBackend, tensor, type Tensor } from '../src/index.js';
import { enableRelaxedSimd, WasmBackend, wasmThreadsAvailable } from '../src/backends/wasm.js';
import type { TestBackend } from './helpers/backends.js';
import { checkOp, params, seedArb, values, type Input } from './helpers/fd.js';
import * as O from './helpers/oracle.js';
import { f32 } from './helpers/tolerance.js';

const hasRelaxed = process.env.GPUGRAD_WASM_RELAXED !== '0' && enableRelaxedSimd();
const variants: TestBackend[] = [];
for (const winograd of ['on', 'off'] as const) {
  for (const relaxed of hasRelaxed ? [true, false] : [false]) {
    for (const threads of wasmThreadsAvailable() ? [1, 2] : [1]) {
      variants.push({ label: `wasm ${relaxed ? 'relaxed' : 'simd128'} ${threads}T winograd ${winograd}`, name: 'wasm', options: { threads, relaxed, winograd }, tolerance: f32, available: () => true });
    }
  }
}
afterAll(() => setBackend('reference'));

/** Counts the training convs whose forward and gradients took Winograd (non-null from its driver). */
function spy(): { forward: () => number; inputGrad: () => number; weightGrad: () => number } {
  const w = (currentBackend() as unknown as WasmBackend).winograd as unknown as Record<string, (...a: unknown[]) => unknown>;
  const counts = { run: 0, runInputGrad: 0, runWeightGrad: 0 };
  for (const m of ['run', 'runInputGrad', 'runWeightGrad'] as const) {
    if (typeof w[m] !== 'function') continue;
    const f = w[m].bind(w);
    w[m] = (...a: unknown[]) => {
      const r = f(...a);
      if (r) counts[m]++;
      return r;
    };
  }
  return { forward: () => counts.run, inputGrad: () => counts.runInputGrad, weightGrad: () => counts.runWeightGrad };
}

interface Case {
  n: number;
  c: number;
  oc: number;
  h: number;
  w: number;
  p: number;
  q: number;
  bias: boolean;
  seed: number;
}
const caseArb: fc.Arbitrary<Case> = fc
  .record({ n: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 1, max: 6 }), oc: fc.integer({ min: 1, max: 6 }), h: fc.integer({ min: 1, max: 9 }), w: fc.integer({ min: 1, max: 9 }), p: fc.integer({ min: 0, max: 2 }), q: fc.integer({ min: 0, max: 2 }), bias: fc.boolean(), seed: seedArb })
  // The window must fit: h + 2p ≥ 3.
  .map((r) => ({ ...r, h: Math.max(r.h, 3 - 2 * r.p), w: Math.max(r.w, 3 - 2 * r.q) }));
const edges: Case[] = [
  { n: 1, c: 1, oc: 1, h: 1, w: 1, p: 1, q: 1, bias: false, seed: 1 }, // 1×1 map
  { n: 2, c: 3, oc: 5, h: 2, w: 2, p: 1, q: 1, bias: true, seed: 2 }, // 2×2 maps, batch 2
  { n: 1, c: 5, oc: 3, h: 7, w: 5, p: 0, q: 2, bias: false, seed: 3 }, // no padding on rows, 2 on columns
  { n: 2, c: 4, oc: 8, h: 8, w: 8, p: 1, q: 1, bias: true, seed: 4 }, // ResNet's shape, scaled down
  { n: 1, c: 2, oc: 2, h: 9, w: 3, p: 2, q: 0, bias: false, seed: 5 },
];

const x4 = (shape: number[], seed: number): Input => ({ shape, data: values(seed, O.sizeOf(shape)), grad: true });
function check(r: Case) {
  const inputs = [x4([r.n, r.c, r.h, r.w], r.seed), x4([r.oc, r.c, 3, 3], r.seed + 1)];
  if (r.bias) inputs.push(x4([r.oc], r.seed + 2));
  const win = { sh: 1, sw: 1, ph: r.p, pw: r.q, dh: 1, dw: 1 };
  return {
    name: 'conv2d (training)',
    inputs,
    run: (ts: Tensor[]) => F.conv2d(ts[0], ts[1], r.bias ? ts[2] : null, { padding: [r.p, r.q] }),
    oracle: (xs: O.Arr[]) => O.conv2d(xs[0], xs[1], r.bias ? xs[2] : null, win, 1),
    k: r.c * 9,
    gradK: r.n * (r.h + 2) * (r.w + 2) * Math.max(r.oc, 9),
    seed: r.seed,
  };
}

describe.each(variants.map((v) => [v.label, v] as const))('training conv2d 3×3 stride 1 on %s', (_, v) => {
  it('output and input/weight/bias gradients match the float64 oracle and central differences', async () => {
    await setBackend(v.name, v.options);
    const used = spy();
    await fc.assert(fc.asyncProperty(caseArb, async (r) => checkOp(v, check(r))), params(25, edges));
    // The forced mode decides the path wherever Winograd can run (finite values: always here).
    const on = (v.options as { winograd: string }).winograd === 'on';
    expect(used.forward() > 0, 'Winograd forward ran').toBe(on);
    expect(used.inputGrad() > 0, 'Winograd input gradient ran').toBe(on);
    expect(used.weightGrad() > 0, 'Winograd weight gradient ran').toBe(on);
  });

  it('NaN and ±∞ in the input give the direct convolution’s NaN pattern in the output and both gradients', async () => {
    await setBackend(v.name, v.options);
    const [n, c, oc, h, w] = [1, 3, 4, 6, 6];
    const xs = Array.from(values(11, n * c * h * w));
    xs[7] = NaN;
    xs[c * h * w - 1] = Infinity;
    xs[20] = -Infinity;
    const wv = Array.from(values(12, oc * c * 9));
    const run = async (): Promise<Float32Array[]> => {
      const x = tensor(xs, [n, c, h, w], { requiresGrad: true });
      const wt = tensor(wv, [oc, c, 3, 3], { requiresGrad: true });
      const y = F.conv2d(x, wt, null, { padding: 1 });
      y.sum().backward();
      const out = [await y.data(), await (x.grad as Tensor).data(), await (wt.grad as Tensor).data()];
      for (const t of [x, wt, y]) t.dispose();
      return out;
    };
    const got = await run();
    await setBackend('reference');
    const want = await run();
    await setBackend(v.name, v.options);
    want.forEach((wa, i) => wa.forEach((val, j) => expect(Number.isNaN(got[i][j]), `output ${i} [${j}]: ${got[i][j]} vs ${val}`).toBe(Number.isNaN(val))));
  });
});
