// GEMM GFLOP/s of the gpujs backend per gpu.js mode at the four ResNet-50 im2col shapes (C[M,N] = W[M,K]·col[K,N]),
// cold (first call: kernel compile included) and warm (tinybench median), each beside a same-run baseline: a plain
// JavaScript ikj loop on one thread (about 1.0 GFLOP/s on the 2-vCPU machines of bench/RESULTS.md), so
// figures from different machines can be compared through their ratio to it.
// Run: node --import tsx bench/gemm.ts [--modes webasm,webasm:threads2,headlessgl,webgpu,cpu] [--time 2000]  (GL modes under
// xvfb-run -a). 'webasm:threads2' is gpu.js's webasm mode with its kernels split over 2 worker threads; webgpu (Node: the
// optional `webgpu` package) runs in a child process when other modes run too.
import { GpujsBackend, gpujsModeAvailable, gpujsThreadsAvailable, installWebGPU, type GpujsMode } from '../src/index.js';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { gflops, machine, measure } from './common.js';

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
const modes = arg('modes', 'webasm,webasm:threads2,headlessgl,webgpu').split(',');
const timeMs = Number(arg('time', '2000'));
const rnd = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);

const child = process.argv.includes('--child');
const mc = machine();
if (!child) console.log(`machine: ${mc.cpu} × ${mc.cores}, ${mc.memGiB} GiB, node ${mc.node}, ${mc.os}`);
if (!child) console.log(`load average at start: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
// CPU seconds (all threads, llvmpipe's included) per call beside wall time: on a shared, loaded machine the
// wall clock mostly measures waiting for a core, while GFLOP per CPU-second shows what the kernel does.
/** The baseline: C += A[i,p]·B[p,:] row by row, plain JavaScript on Float32Arrays, one thread. */
function ikj(a: Float32Array, b: Float32Array, c: Float32Array, m: number, k: number, n: number): void {
  c.fill(0);
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p];
      const bp = p * n;
      for (let j = 0; j < n; j++) c[ci + j] += av * b[bp + j];
    }
  }
}
const shapeKey = (m: number, k: number, n: number): string => `${m}×${k}×${n}`;
// Baseline warm median (ms) and GFLOP/s per shape; the child (webgpu) process measures its own.
const base = new Map<string, { ms: number; gflops: number }>();
for (const [m, k, n] of SHAPES) {
  const a = rnd(m * k);
  const b = rnd(k * n);
  const c = new Float32Array(m * n);
  const t = await measure(() => ikj(a, b, c, m, k, n), Math.min(timeMs, 1000), 3);
  base.set(shapeKey(m, k, n), { ms: t.medianMs, gflops: gflops(2 * m * k * n, t.medianMs) });
}
// The targets of issue #3 (warm GFLOP/s on a 2-core CPU machine).
const TARGETS: Record<string, number> = { headlessgl: 7, 'webasm:threads2': 4, webasm: 2.5 };
if (!child) console.log('| mode | M×K×N | cold ms | cold GFLOP/s | warm median ms | warm GFLOP/s | × baseline | GFLOP/s per CPU-second |');
if (!child) console.log('|---|---|---:|---:|---:|---:|---:|---:|');
if (!child) for (const [key, b] of base) console.log(`| baseline: plain JS ikj, 1 thread | ${key} | | | ${b.ms.toFixed(1)} | ${b.gflops.toFixed(2)} | 1.00 | |`);
const summary: string[] = [];
for (const mode of modes) {
  // Without a GPU, Dawn's OpenGL ES backend and headless-gl cannot share one process's GL: webgpu runs in a
  // child process of its own when other modes share this one.
  if (mode === 'webgpu' && modes.length > 1) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--modes', 'webgpu', '--time', String(timeMs), '--child'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    process.stdout.write(r.status === 0 ? (r.stdout ?? '') : `| webgpu | – | failed in its child process (status ${r.status}) | | | | | |\n`);
    continue;
  }
  const [gpuMode, threadsArg] = mode.split(':') as [GpujsMode, string | undefined];
  const threads = threadsArg ? Number(threadsArg.replace(/^threads/, '')) : 1;
  // webgpu in Node: navigator.gpu from the optional `webgpu` package (Dawn), installed here.
  const why = gpuMode === 'webgpu' ? await installWebGPU() : null;
  if (why !== null || !gpujsModeAvailable(gpuMode) || (threads > 1 && !gpujsThreadsAvailable())) {
    console.log(`| ${mode} | – | not available here${why ? ` (${why})` : ''} | | | | | |`);
    continue;
  }
  const be = await GpujsBackend.create(gpuMode, threads);
  const warmGflops: number[] = [];
  for (const [m, k, n] of SHAPES) {
    const a = be.upload(rnd(m * k));
    const b = be.upload(rnd(k * n));
    const geo = { batch: 1, batchA: 1, batchB: 1, m, k, n, transA: false, transB: false };
    // Each call ends with a one-element readback so deferred GL work is finished inside the timing.
    const call = async (): Promise<void> => {
      const c = be.matmul(a, b, geo);
      const last = be.slice(c, [m * n], 0, m * n - 1, 1);
      await be.read(last);
      be.release(last);
      be.release(c);
    };
    const t = await measure(call, timeMs, 5);
    const flop = 2 * m * k * n;
    const cpu0 = process.cpuUsage();
    const reps = 3;
    for (let i = 0; i < reps; i++) await call();
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000 / reps;
    const w = gflops(flop, t.medianMs);
    warmGflops.push(w);
    console.log(`| ${mode} | ${shapeKey(m, k, n)} | ${t.coldMs.toFixed(1)} | ${gflops(flop, t.coldMs).toFixed(2)} | ${t.medianMs.toFixed(1)} | ${w.toFixed(2)} | ${(w / base.get(shapeKey(m, k, n))!.gflops).toFixed(2)} | ${gflops(flop, cpuMs).toFixed(2)} |`);
    be.release(a);
    be.release(b);
  }
  // Which GEMM kernels ran, as which gpu.js class (a silent fallback to cpu would show here).
  const ran = [...be.ranAs].filter(([op]) => op.startsWith('matmul')).map(([op, cls]) => `${op} (${cls})`);
  console.log(`${mode} kernels: ${ran.join(', ')}`);
  const target = TARGETS[mode];
  if (target !== undefined) {
    const met = warmGflops.filter((w) => w >= target).length;
    summary.push(`- ${mode}: target ≥ ${target} GFLOP/s warm, met at ${met} of ${warmGflops.length} shapes (lowest ${Math.min(...warmGflops).toFixed(2)})`);
  }
  be.destroy();
}
if (summary.length > 0) console.log(`issue #3's targets on this machine:\n${summary.join('\n')}`);
if (!child) console.log(`load average at end: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
