// Winograd F(2×2,3×3) against the GEMM path (implicit im2col) on the wasm backend's eval conv (convEpilogue with scale, shift
// and ReLU), at ResNet-50's stride-1 3×3 shapes (224² batch 1, and 32² batch 8), on 1 and 2 threads, with
// relaxed SIMD (fused multiply-add) and without. Both paths run on the same backend and weights, alternating,
// with the best of `--rounds` tinybench medians each; GFLOP/s counts direct-conv FLOPs 2·oc·c·9·n·oh·ow.
// The 'auto' column says what winogradWins (src/backends/wasm-winograd.ts) picks for the shape.
// `--mode transform`: the weight transform alone (U = G g Gᵀ for every kernel, packed) at c = oc = 64, 256, 512, the
// wasm kernels (forward wino_w, input gradient's wino_wt) against the JS loop they replaced (float64, kept below).
// `--mode grad`: the input gradient dx of each shape from dy [oc × n·oh·ow] (the conv primitive's layout),
// (a) matmul(Wᵀ [c·9 × oc], dy) then col2im (WasmBackend.convInputGrad's GEMM path) against (b) runInputGrad with the weight
// transformed again on every call (as in training, where each step writes the weights); 'auto' column:
// winogradGradWins.
// `--mode wgrad`: the weight gradient dW [oc, c, 3, 3] of each shape from dy [oc × n·oh·ow] and x (NCHW), (a) im2col(x)
// then matmul(gy, colsᵀ) (the autograd rule after a Winograd forward, which saves no columns) against (b)
// runWeightGrad; 'auto' column: winogradWeightGradWins.
// `--mode band`: the eval conv unbanded (as above) against in bands of tile rows (WasmWinograd.banding 'off' / 'on',
// bandRows's band height even where 'auto' would not band), with the 2-thread cache-line round trip before each
// row: ~110 ns when the host has the two vCPUs in one core complex, ~330 ns when it keeps them apart (RESULTS.md).
// Run: node --experimental-wasm-relaxed-simd --import tsx bench/winograd.ts [--mode conv|transform|grad|wgrad|band]
//   [--threads 1,2] [--rounds 3] [--time 300] [--shapes n:c:hw,…] (instead of WINOGRAD_SHAPES)
import { WasmBackend } from '../src/backends/wasm.js';
import { bandRows, winogradGradWins, winogradWeightGradWins, winogradWins } from '../src/backends/wasm-winograd.js';
import { Worker } from 'node:worker_threads';
import type { WindowGeometry } from '../src/backend.js';
import { relaxedSimdAvailable } from '../kernels/wasm/module.js';
import { gflops, machine, measure } from './common.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const threadsList = arg('threads', '1,2').split(',').map(Number);
const rounds = Number(arg('rounds', '3'));
const timeMs = Number(arg('time', '300'));

/** [n, c = oc, h = w]: ResNet-50's stride-1 3×3 convs (padding 1) at 224² batch 1 and at 32² batch 8. */
export const WINOGRAD_SHAPES: [number, number, number][] = [
  [1, 64, 56], [1, 128, 28], [1, 256, 14], [1, 512, 7],
  [8, 64, 8], [8, 128, 4], [8, 256, 2], [8, 512, 1],
  // Fewer channels (not ResNet-50's): Winograd wins there too.
  [1, 16, 56], [1, 32, 56], [8, 32, 8],
];

const shapes = process.argv.includes('--shapes') ? arg('shapes', '').split(',').map((s) => s.split(':').map(Number) as [number, number, number]) : WINOGRAD_SHAPES;

function rnd(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

const mode = arg('mode', 'conv');
const m = machine();
console.log(`# ${m.cpu}, ${m.cores} cores, Node ${m.node}; mode ${mode}, rounds ${rounds}, ${timeMs} ms each`);

/** The weight transform as the driver did it before wino_w: float64 JS, rounded once, into `out` (same packed layout, no line padding). */
function jsTransform(f: Float32Array, oc: number, c: number, out: Float32Array): boolean {
  const mt = Math.ceil(oc / 4);
  const per = mt * 4 * c;
  out.fill(0);
  let finite = true;
  const t = new Float64Array(12);
  const F32_MAX = 3.4028234663852886e38;
  for (let o = 0; o < oc; o++) {
    for (let ch = 0; ch < c; ch++) {
      const g0 = (o * c + ch) * 9;
      for (let j = 0; j < 3; j++) {
        const [a, mm, z] = [f[g0 + j], f[g0 + 3 + j], f[g0 + 6 + j]];
        t[j] = a;
        t[3 + j] = 0.5 * (a + mm + z);
        t[6 + j] = 0.5 * (a - mm + z);
        t[9 + j] = z;
      }
      let at = ((o >> 2) * c + ch) * 4 + (o & 3);
      for (let i = 0; i < 4; i++) {
        const [a, mm, z] = [t[3 * i], t[3 * i + 1], t[3 * i + 2]];
        const u1 = 0.5 * (a + mm + z);
        const u2 = 0.5 * (a - mm + z);
        if (!(Math.abs(a) <= F32_MAX && Math.abs(u1) <= F32_MAX && Math.abs(u2) <= F32_MAX && Math.abs(z) <= F32_MAX)) finite = false;
        out[at] = a;
        out[at + per] = u1;
        out[at + 2 * per] = u2;
        out[at + 3 * per] = z;
        at += 4 * per;
      }
    }
  }
  return finite;
}

/** Best of `rounds` tinybench medians for (a) the GEMM path and (b) Winograd, measured alternately. */
async function bestOf(a: () => void, b: () => void): Promise<{ a: number; b: number }> {
  const best = { a: Infinity, b: Infinity };
  for (let r = 0; r < rounds; r++) {
    best.a = Math.min(best.a, (await measure(a, timeMs, 5)).medianMs);
    best.b = Math.min(best.b, (await measure(b, timeMs, 5)).medianMs);
  }
  return best;
}

/**
 * Runs `row` for each SIMD kind this engine has and each thread count (a fresh backend each, Winograd `winograd`)
 * over every shape, with its geometry: 3×3, stride 1, padding 1.
 */
async function eachShape(winograd: 'on' | 'off', row: (be: WasmBackend, shape: { n: number; c: number; hw: number; g: WindowGeometry }, relaxed: boolean, threads: number) => Promise<void>): Promise<void> {
  for (const relaxed of relaxedSimdAvailable() ? [true, false] : [false]) {
    for (const threads of threadsList) {
      const be = await WasmBackend.create({ threads, relaxed, winograd });
      for (const [n, c, hw] of shapes) await row(be, { n, c, hw, g: { n, c, h: hw, w: hw, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, oh: hw, ow: hw } }, relaxed, threads);
      be.destroy();
    }
  }
}

/** Nanoseconds for a cache line to go to another thread and back (SharedArrayBuffer ping-pong, best of 3 × 100k). */
async function roundTrip(): Promise<number> {
  const a = new Int32Array(new SharedArrayBuffer(64));
  const src = `const a = new Int32Array(require('node:worker_threads').workerData);
for (;;) { let v; while (((v = Atomics.load(a, 0)) & 1) === 0); if (v < 0) break; Atomics.store(a, 0, v + 1); }`;
  const w = new Worker(src, { eval: true, workerData: a.buffer });
  let best = Infinity;
  for (let r = 0, i = 0; r < 3; r++) {
    const t0 = performance.now();
    for (let k = 0; k < 100_000; k++, i++) {
      Atomics.store(a, 0, 2 * i + 1);
      while (Atomics.load(a, 0) !== 2 * i + 2);
    }
    best = Math.min(best, ((performance.now() - t0) / 100_000) * 1e6);
  }
  Atomics.store(a, 0, -1);
  await w.terminate();
  return best;
}

if (mode === 'band') {
  console.log('| shape | threads | SIMD | band rows | round trip ns | unbanded ms | banded ms | unbanded/banded |');
  console.log('|---|---|---|---:|---:|---:|---:|---:|');
  await eachShape('on', async (be, { n, c, hw, g }, relaxed, threads) => {
    const oc = c;
    const [x, w, scale, shift, res] = [rnd(n * c * hw * hw, 1), rnd(oc * c * 9, 2), rnd(oc, 3), rnd(oc, 4), rnd(oc * n * hw * hw, 5)].map((a) => be.upload(a));
    const call = (banding: 'on' | 'off') => (): void => {
      be.winograd.banding = banding;
      be.release(be.convEpilogue(x, w, g, oc, { scale, shift, residual: res, relu: true }));
    };
    const rt = await roundTrip();
    const best = await bestOf(call('off'), call('on'));
    for (const s of [x, w, scale, shift, res]) be.release(s);
    const R = bandRows({ n, cin: c, cout: oc, oh: hw, ow: hw }, Math.max(2, threads), true);
    console.log(`| ${oc}→${oc} 3×3 @${hw}² b${n} | ${threads} | ${relaxed ? 'relaxed' : 'simd128'} | ${R} | ${rt.toFixed(0)} | ${best.a.toFixed(3)} | ${best.b.toFixed(3)} | ${(best.a / best.b).toFixed(2)} |`);
  });
} else if (mode === 'transform') {
  console.log('| weight | threads | JS float64 ms (before) | wino_w ms | wino_wt ms (input gradient) | JS ÷ wino_w |');
  console.log('|---|---|---:|---:|---:|---:|');
  for (const threads of threadsList) {
    const be = await WasmBackend.create({ threads, winograd: 'on' });
    for (const c of [64, 256, 512]) {
      const host = rnd(c * c * 9, 5);
      const w = be.upload(host);
      const out = new Float32Array(16 * Math.ceil(c / 4) * 4 * c);
      const wino = be.winograd;
      const ws = w as unknown as Parameters<typeof wino.transform>[0];
      const free = (wino as unknown as { ctx: { free(b: unknown): void } }).ctx;
      const best = { js: Infinity, w: Infinity, wt: Infinity };
      for (let r = 0; r < rounds; r++) {
        best.js = Math.min(best.js, (await measure(() => jsTransform(host, c, c, out), timeMs, 5)).medianMs);
        best.w = Math.min(best.w, (await measure(() => free.free(wino.transform(ws, c, c, false)), timeMs, 5)).medianMs);
        best.wt = Math.min(best.wt, (await measure(() => free.free(wino.transform(ws, c, c, true)), timeMs, 5)).medianMs);
      }
      be.release(w);
      console.log(`| ${c}→${c} 3×3 | ${threads} | ${best.js.toFixed(3)} | ${best.w.toFixed(3)} | ${best.wt.toFixed(3)} | ${(best.js / best.w).toFixed(1)} |`);
    }
    be.destroy();
  }
} else if (mode === 'grad') {
  console.log('| shape | threads | SIMD | (a) matmul + col2im ms | (b) Winograd incl. transform ms | (a)/(b) | auto |');
  console.log('|---|---|---|---:|---:|---:|---|');
  await eachShape('on', async (be, { n, c, hw, g }, relaxed, threads) => {
    const oc = c;
    const [dy, w] = [rnd(n * oc * hw * hw, 1), rnd(oc * c * 9, 2)].map((a) => be.upload(a));
    const wino = be.winograd;
    type WS = Parameters<typeof wino.runInputGrad>[0];
    const gemm = (): void => {
      const cols = be.matmul(w, dy, { batch: 1, batchA: 1, batchB: 1, m: c * 9, k: oc, n: n * hw * hw, transA: true, transB: false }, false, relaxed);
      be.release(be.col2im(cols, g));
      be.release(cols);
    };
    const win = (): void => {
      wino.forget(w as unknown as WS);
      const dx = wino.runInputGrad(dy as unknown as WS, w as unknown as WS, g, oc);
      if (!dx) throw new Error('runInputGrad stepped aside');
      be.release(dx as unknown as typeof dy);
    };
    const best = await bestOf(gemm, win);
    for (const s of [dy, w]) be.release(s);
    console.log(`| ${oc}→${c} dX @${hw}² b${n} | ${threads} | ${relaxed ? 'relaxed' : 'simd128'} | ${best.a.toFixed(3)} | ${best.b.toFixed(3)} | ${(best.a / best.b).toFixed(2)} | ${winogradGradWins(g, oc) ? 'W' : 'G'} |`);
  });
} else if (mode === 'wgrad') {
  console.log('| shape | threads | SIMD | (a) im2col + matmul(gy, colsᵀ) ms | (b) runWeightGrad ms | (a)/(b) | auto |');
  console.log('|---|---|---|---:|---:|---:|---|');
  await eachShape('on', async (be, { n, c, hw, g }, relaxed, threads) => {
    const oc = c;
    const [dy, x] = [rnd(oc * n * hw * hw, 1), rnd(n * c * hw * hw, 2)].map((a) => be.upload(a));
    const wino = be.winograd;
    type WS = Parameters<typeof wino.runWeightGrad>[0];
    // As the autograd rule with no saved columns (a Winograd forward): im2col(x) now, then gy·colsᵀ.
    const gemm = (): void => {
      const cols = be.im2col(x, g);
      be.release(be.matmul(dy, cols, { batch: 1, batchA: 1, batchB: 1, m: oc, k: n * hw * hw, n: c * 9, transA: false, transB: true }, false, relaxed));
      be.release(cols);
    };
    const win = (): void => {
      const dw = wino.runWeightGrad(dy as unknown as WS, x as unknown as WS, g, oc, relaxed);
      if (!dw) throw new Error('runWeightGrad stepped aside');
      be.release(dw as unknown as typeof dy);
    };
    const best = await bestOf(gemm, win);
    for (const s of [dy, x]) be.release(s);
    console.log(`| ${oc}→${c} dW @${hw}² b${n} | ${threads} | ${relaxed ? 'relaxed' : 'simd128'} | ${best.a.toFixed(3)} | ${best.b.toFixed(3)} | ${(best.a / best.b).toFixed(2)} | ${winogradWeightGradWins(g, oc) ? 'W' : 'G'} |`);
  });
} else {
  // "fresh": Winograd with the weight transformed again on every call (prepack off, or training's forward).
  console.log('| shape | threads | SIMD | GEMM path ms | GFLOP/s | Winograd ms | GFLOP/s | GEMM/Winograd | Winograd fresh ms | GEMM/fresh | auto |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  await eachShape('off', async (be, { n, c, hw, g }, relaxed, threads) => {
    const oc = c;
    const flop = 2 * oc * c * 9 * n * hw * hw;
    const [x, w, scale, shift] = [rnd(n * c * hw * hw, 1), rnd(oc * c * 9, 2), rnd(oc, 3), rnd(oc, 4)].map((a) => be.upload(a));
    const call = (): void => be.release(be.convEpilogue(x, w, g, oc, { scale, shift, residual: null, relu: true }));
    const fresh = (): void => {
      be.winograd.forget(w as unknown as Parameters<typeof be.winograd.forget>[0]);
      call();
    };
    const best = { off: Infinity, on: Infinity, fresh: Infinity };
    for (let r = 0; r < rounds; r++) {
      for (const mode of ['off', 'on', 'fresh'] as const) {
        be.winograd.mode = mode === 'fresh' ? 'on' : mode;
        best[mode] = Math.min(best[mode], (await measure(mode === 'fresh' ? fresh : call, timeMs, 5)).medianMs);
      }
    }
    for (const s of [x, w, scale, shift]) be.release(s);
    console.log(`| ${oc}→${oc} 3×3 @${hw}² b${n} | ${threads} | ${relaxed ? 'relaxed' : 'simd128'} | ${best.off.toFixed(3)} | ${gflops(flop, best.off).toFixed(1)} | ${best.on.toFixed(3)} | ${gflops(flop, best.on).toFixed(1)} | ${(best.off / best.on).toFixed(2)} | ${best.fresh.toFixed(3)} | ${(best.off / best.fresh).toFixed(2)} | ${winogradWins(g, oc) ? 'W' : 'G'} |`);
  });
}
