// GEMM throughput of the wasm backend at the four ResNet-50 im2col shapes, 1 and 2 threads (tinybench).
// Run: node --import tsx bench/wasm-gemm.ts [--threads 1,2] [--time 1500] [--variants simd128,relaxed] [--resnet] [--no-gemm]
// --variants: the kernel variants to time side by side at each shape (plain SIMD128 and relaxed SIMD's fused
// multiply-add; the latter needs relaxed SIMD, turned on here through V8's flag); default: the backend default.
// --resnet adds ResNet-50 on the wasm backend: eval forward 224² batch 1, SGD training steps (32² batch 8,
// 224² batch 1), with wall and CPU time and the process's peak resident memory so far (run one thread
// count per process, with --no-gemm, for the forward's own peak).
import os from 'node:os';
import { Bench } from 'tinybench';
import { enableRelaxedSimd, WasmBackend } from '../src/backends/wasm.js';
import { F, noGrad, randn, resnet50, setBackend, tidy, manualSeed } from '../src/index.js';
import { SGD } from '../src/optim/index.js';

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
const variants = arg('variants', 'default').split(',');
if (variants.includes('relaxed') && !enableRelaxedSimd()) throw new Error('relaxed SIMD does not validate in this engine');
const relaxedOf = (v: string): boolean | undefined => (v === 'default' ? undefined : v === 'relaxed');

function rnd(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);
}

console.log(`machine: ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, node ${process.version}`);
console.log(`load average at start: ${os.loadavg().map((v) => v.toFixed(1)).join(' ')}`);
// CPU time (all threads) per call is reported beside wall time: on a shared, loaded machine it shows what
// the kernels do per core-second even when the wall clock mostly measures waiting for a core.
console.log('| M×K×N | threads | kernels | median ms | GFLOP/s (wall) | GFLOP/s per CPU-second |');
console.log('|---|---:|---|---:|---:|---:|');
const results: Record<string, number> = {};
for (const threads of process.argv.includes('--no-gemm') ? [] : threadList) {
  // fmaTraining (the default where relaxed): matmul itself runs the fused kernel; stated, as SIMD128 rows turn it off.
  const bes = await Promise.all(variants.map((v) => WasmBackend.create({ threads, relaxed: relaxedOf(v), fmaTraining: relaxedOf(v) })));
  for (const [m, k, n] of SHAPES) for (const be of bes) {
    const a = be.upload(rnd(m * k));
    const b = be.upload(rnd(k * n));
    const g = { batch: 1, batchA: 1, batchB: 1, m, k, n, transA: false, transB: false };
    const bench = new Bench({ time: timeMs, iterations: 10, warmupIterations: 3 });
    let calls = 0;
    bench.add('gemm', () => {
      calls++;
      be.release(be.matmul(a, b, g));
    });
    const c0 = process.cpuUsage();
    calls = 0;
    await bench.run();
    const cu = process.cpuUsage(c0);
    const cpuMs = (cu.user + cu.system) / 1000 / Math.max(1, calls);
    const t = bench.tasks[0].result;
    const ms = t && 'latency' in t ? t.latency.p50 : NaN;
    const gf = (2 * m * k * n) / (ms * 1e6);
    results[`${m}x${k}x${n}@${threads}@${be.fmaTraining}`] = gf;
    console.log(`| ${m}×${k}×${n} | ${threads} | ${be.fmaTraining ? 'relaxed SIMD (FMA)' : 'SIMD128'} | ${ms.toFixed(2)} | ${gf.toFixed(1)} | ${((2 * m * k * n) / (cpuMs * 1e6)).toFixed(1)} |`);
    be.release(a);
    be.release(b);
  }
  for (const be of bes) be.destroy();
}
const gemmRan = !process.argv.includes('--no-gemm');
for (const r of gemmRan ? [...new Set(Object.keys(results).map((k) => k.split('@')[2]))] : []) {
  if (!threadList.includes(1) || !threadList.includes(2)) break;
  const sp = SHAPES.map(([m, k, n]) => (results[`${m}x${k}x${n}@2@${r}`] / results[`${m}x${k}x${n}@1@${r}`]).toFixed(2));
  console.log(`2-thread speed-up per shape (${r === 'true' ? 'relaxed SIMD' : 'SIMD128'}): ${sp.join(', ')}`);
}
if (gemmRan && variants.includes('relaxed') && variants.includes('simd128')) {
  for (const t of threadList) {
    const sp = SHAPES.map(([m, k, n]) => (results[`${m}x${k}x${n}@${t}@true`] / results[`${m}x${k}x${n}@${t}@false`]).toFixed(2));
    console.log(`relaxed SIMD ÷ SIMD128 GFLOP/s per shape, ${t} thread${t > 1 ? 's' : ''}: ${sp.join(', ')}`);
  }
}

/** Median wall and CPU ms of `reps` calls after one warm-up. */
function timeIt(fn: () => void, reps: number): { wall: number; cpu: number } {
  fn();
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    walls.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpus.push((c.user + c.system) / 1000);
  }
  const med = (a: number[]): number => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
  return { wall: med(walls), cpu: med(cpus) };
}

if (process.argv.includes('--resnet')) {
  console.log('');
  console.log('| ResNet-50 on wasm | threads | median wall ms | median CPU ms | peak RSS MB |');
  console.log('|---|---:|---:|---:|---:|');
  for (const threads of threadList) {
    await setBackend('wasm', { threads });
    manualSeed(0);
    const row = (work: string, t: { wall: number; cpu: number }): void =>
      console.log(`| ${work} | ${threads} | ${t.wall.toFixed(0)} | ${t.cpu.toFixed(0)} | ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} |`);
    const model = resnet50();
    model.eval();
    const x = randn([1, 3, 224, 224]);
    row('eval forward 224² b1', timeIt(() => tidy(() => void noGrad(() => model.forward(x)).dataSync()), 5));
    model.train();
    const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
    const step = (input: ReturnType<typeof randn>, labels: number[]) => () =>
      tidy(() => {
        opt.zeroGrad();
        const loss = F.crossEntropy(model.forward(input), labels);
        loss.backward();
        opt.step();
        loss.dataSync();
      });
    const x8 = randn([8, 3, 32, 32]);
    row('train step SGD 32² b8', timeIt(step(x8, [0, 1, 2, 3, 4, 5, 6, 7]), 5));
    row('train step SGD 224² b1', timeIt(step(x, [3]), 2));
    model.dispose();
    opt.zeroGrad();
    x.dispose();
    x8.dispose();
  }
  for (const t of threadList) (await setBackend('wasm', { threads: t }) as WasmBackend).destroy();
}
