// im2col (training's convolution columns) on the wasm backend at ResNet-50's 224² batch-1 conv shapes, one thread
// against two (WasmBackend.im2colThreads), alternating in bursts in one process: min and median of 30 calls.
// Run: node --import tsx bench/im2col-threads.ts
import os from 'node:os';
import { WasmBackend } from '../src/backends/wasm.js';

/** [name, c, hw, k, stride]: padding k/2. */
const SHAPES: [string, number, number, number, number][] = [
  ['stem 7×7 s2', 3, 224, 7, 2],
  ['3×3 s1 56²', 64, 56, 3, 1],
  ['3×3 s1 28²', 128, 28, 3, 1],
  ['3×3 s1 14²', 256, 14, 3, 1],
  ['3×3 s1 7²', 512, 7, 3, 1],
  ['3×3 s2 56²→28²', 128, 56, 3, 2],
  ['1×1 s2 56²→28²', 256, 56, 1, 2],
];

console.log(`machine: ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, node ${process.version}, load average ${os.loadavg().map((v) => v.toFixed(1)).join(' ')}`);
console.log('| im2col (batch 1) | K×N | MB written | 1 thread min / median ms | 2 threads min / median ms |');
console.log('|---|---|---:|---:|---:|');
const one = await WasmBackend.create({ threads: 1 });
const two = await WasmBackend.create({ threads: 2 });
two.im2colThreads = 2;
for (const [name, c, hw, k, s] of SHAPES) {
  const p = Math.floor(k / 2);
  const o = Math.floor((hw + 2 * p - k) / s) + 1;
  const g = { n: 1, c, h: hw, w: hw, kh: k, kw: k, sh: s, sw: s, ph: p, pw: p, dh: 1, dw: 1, oh: o, ow: o };
  const bes = [one, two];
  const xs = bes.map((b) => b.upload(Float32Array.from({ length: c * hw * hw }, (_, i) => Math.sin(i))));
  const times: number[][] = [[], []];
  // Bursts of 4 back-to-back calls per backend, the first untimed: between ops a worker spins only ~0.1 ms
  // before it sleeps, and a forward or training pass posts ops back to back, so a call after a gap (a sleeping
  // worker, woken late on a loaded machine) would time the wake-up, not the split.
  for (let i = 0; i < 10; i++)
    for (const j of [0, 1])
      for (let r = 0; r < 4; r++) {
        const t0 = performance.now();
        bes[j].release(bes[j].im2col(xs[j], g));
        if (r > 0) times[j].push(performance.now() - t0);
      }
  const f = (a: number[]): string => {
    a.sort((x, y) => x - y);
    return `${a[0].toFixed(3)} / ${a[a.length >> 1].toFixed(3)}`;
  };
  console.log(`| ${name} | ${c * k * k}×${o * o} | ${((c * k * k * o * o * 4) / 1e6).toFixed(1)} | ${f(times[0])} | ${f(times[1])} |`);
  bes.forEach((b, j) => b.release(xs[j]));
}
one.destroy();
two.destroy();
