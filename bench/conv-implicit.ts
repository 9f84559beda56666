// Eval conv (groups 1, with the folded-batch-norm epilogue) on the wasm backend at ResNet-50's conv shapes, batch 1:
// convEpilogue (implicit im2col: GEMM panels packed straight from the image) against im2col + matmulEpilogue
// (the path it replaced) in the same process, 1 and 2 threads, weights pre-packed in both (tinybench).
// Run: node --experimental-wasm-relaxed-simd --import tsx bench/conv-implicit.ts [--threads 1,2] [--time 1200] [--rounds 6] [--relaxed 0]
// (--time: ms per path and shape, spread over --rounds alternating rounds)
import os from 'node:os';
import { Bench } from 'tinybench';
import { enableRelaxedSimd, WasmBackend } from '../src/backends/wasm.js';
import type { WindowGeometry } from '../src/backend.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
}
const threadList = arg('threads', '1,2').split(',').map(Number);
const timeMs = Number(arg('time', '1200'));
const rounds = Number(arg('rounds', '6'));
const relaxed = arg('relaxed', '1') !== '0' && enableRelaxedSimd();

/** [name, c, hw, k, stride, oc]: padding k/2. */
const SHAPES: [string, number, number, number, number, number][] = [
  ['stem 7×7 s2', 3, 224, 7, 2, 64],
  ['3×3 s1 56²', 64, 56, 3, 1, 64],
  ['3×3 s1 28²', 128, 28, 3, 1, 128],
  ['3×3 s1 14²', 256, 14, 3, 1, 256],
  ['3×3 s1 7²', 512, 7, 3, 1, 512],
  ['3×3 s2 56²→28²', 128, 56, 3, 2, 128],
  ['3×3 s2 14²→7²', 512, 14, 3, 2, 512],
  ['1×1 s2 56²→28²', 256, 56, 1, 2, 512],
  ['1×1 s2 14²→7²', 1024, 14, 1, 2, 2048],
];

const rnd = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);

console.log(`machine: ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, node ${process.version}, relaxed SIMD ${relaxed}`);
console.log(`load average at start: ${os.loadavg().map((v) => v.toFixed(1)).join(' ')}`);
console.log('| conv (batch 1) | M×K×N | threads | implicit median (min) ms | GFLOP/s (median) | im2col+GEMM median (min) ms | GFLOP/s (median) | ratio median (min) |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|');
for (const threads of threadList) {
  const be = await WasmBackend.create({ threads, relaxed });
  for (const [name, c, hw, k, s, oc] of SHAPES) {
    const p = Math.floor(k / 2);
    const o = Math.floor((hw + 2 * p - k) / s) + 1;
    const g: WindowGeometry = { n: 1, c, h: hw, w: hw, kh: k, kw: k, sh: s, sw: s, ph: p, pw: p, dh: 1, dw: 1, oh: o, ow: o };
    const K = c * k * k;
    const N = o * o;
    const x = be.upload(rnd(c * hw * hw));
    const w = be.upload(rnd(oc * K));
    const e = { scale: be.upload(rnd(oc)), shift: be.upload(rnd(oc)), residual: null, relu: true };
    const mm = { batch: 1, batchA: 1, batchB: 1, m: oc, k: K, n: N, transA: false, transB: false };
    // Rounds of short tinybench runs, the two paths alternating, their samples pooled: a loaded, shared machine
    // then slows both alike (one long run per path measured mostly who else was running at the time).
    const samples: number[][] = [[], []];
    for (let round = 0; round < rounds; round++) {
      const bench = new Bench({ time: timeMs / rounds, iterations: 3, warmupIterations: 2, retainSamples: true });
      bench.add('implicit', () => be.release(be.convEpilogue(x, w, g, oc, e)));
      bench.add('im2col', () => {
        const cols = be.im2col(x, g);
        be.release(be.matmulEpilogue(w, cols, mm, e));
        be.release(cols);
      });
      await bench.run();
      bench.tasks.forEach((t, i) => {
        const r = t.result;
        if (r && 'latency' in r) samples[i].push(...(r.latency.samples ?? []));
      });
    }
    const stat = (a: number[]): [number, number] => {
      a.sort((p, q) => p - q);
      return [a[0], a[a.length >> 1]];
    };
    const [[aMin, a], [bMin, b]] = samples.map(stat);
    const gf = (ms: number): string => ((2 * oc * K * N) / (ms * 1e6)).toFixed(1);
    console.log(`| ${name} | ${oc}×${K}×${N} | ${threads} | ${a.toFixed(2)} (${aMin.toFixed(2)}) | ${gf(a)} | ${b.toFixed(2)} (${bMin.toFixed(2)}) | ${gf(b)} | ${(a / b).toFixed(2)} (${(aMin / bMin).toFixed(2)}) |`);
    for (const t of [x, w, e.scale, e.shift]) be.release(t);
  }
  be.destroy();
}
