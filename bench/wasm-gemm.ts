// GEMM throughput of the wasm backend at the four ResNet-50 im2col shapes, 1 and 2 threads (tinybench).
// Run: node --import tsx bench/wasm-gemm.ts [--threads 1,2] [--time 1500]
import os from 'node:os';
import { Bench } from 'tinybench';
import { WasmBackend } from '../src/backends/wasm.js';

const SHAPES: [number, number, number][] = [
  [64, 147, 12544],
  [64, 576, 3136],
  [256, 1024, 196],
  [512, 4608, 49],
];

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
}

const threadList = arg('threads', '1,2').split(',').map(Number);
const timeMs = Number(arg('time', '1500'));

function rnd(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);
}

console.log(`machine: ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, node ${process.version}`);
console.log('| M×K×N | threads | median ms | GFLOP/s |');
console.log('|---|---:|---:|---:|');
const results: Record<string, number> = {};
for (const threads of threadList) {
  const be = threads > 1 ? await WasmBackend.create({ threads }) : WasmBackend.createSync({ threads: 1 });
  for (const [m, k, n] of SHAPES) {
    const a = be.upload(rnd(m * k));
    const b = be.upload(rnd(k * n));
    const g = { batch: 1, batchA: 1, batchB: 1, m, k, n, transA: false, transB: false };
    const bench = new Bench({ time: timeMs, iterations: 10, warmupIterations: 3 });
    bench.add('gemm', () => be.release(be.matmul(a, b, g)));
    await bench.run();
    const t = bench.tasks[0].result;
    const ms = t && 'latency' in t ? t.latency.p50 : NaN;
    const gf = (2 * m * k * n) / (ms * 1e6);
    results[`${m}x${k}x${n}@${threads}`] = gf;
    console.log(`| ${m}×${k}×${n} | ${threads} | ${(ms ?? NaN).toFixed(2)} | ${gf.toFixed(1)} |`);
    be.release(a);
    be.release(b);
  }
  be.destroy();
}
if (threadList.includes(1) && threadList.includes(2)) {
  const sp = SHAPES.map(([m, k, n]) => (results[`${m}x${k}x${n}@2`] / results[`${m}x${k}x${n}@1`]).toFixed(2));
  console.log(`2-thread speed-up per shape: ${sp.join(', ')}`);
}
