// Training-step time of ResNet-50 (SGD momentum, cross-entropy) for one or two gpugrad checkouts and PyTorch 1.13
// CPU, alternating in rounds within one run (the 2-vCPU machines are shared, so only same-run, interleaved
// numbers compare): each round runs `per` steps of every contender in turn. Prints each contender's median and
// minimum step time, and its ratio to PyTorch two ways: of the medians over all steps, and the median over rounds
// of the per-round ratio (the second is thrown off when one of a round's few steps is stalled).
// Two gpugrad trees in one process (two heaps, two worker pools) did not separate a 7-10% difference that
// separate processes showed (bench/RESULTS.md, 2026-11-30 16:24): compare trees in separate processes.
// usage: node --experimental-wasm-relaxed-simd --import tsx bench/train-ab.ts SIZE BATCH ROUNDS ROOT [ROOT2] [--per=2] [--threads=2] [--no-torch]
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const opt = (k: string, d: string): string => process.argv.find((a) => a.startsWith(`--${k}=`))?.split('=')[1] ?? d;
const [size, batch, rounds] = args.slice(0, 3).map(Number);
const roots = args.slice(3).map((r) => resolve(r));
const per = Number(opt('per', '2'));
const threads = Number(opt('threads', '2'));
const withTorch = !process.argv.includes('--no-torch');

type Runner = { name: string; run: (n: number) => Promise<number[]> };
const runners: Runner[] = [];
for (const root of roots) {
  const g = await import(`${root}/src/index.js`);
  await g.setBackend('wasm', { threads });
  g.manualSeed(0);
  const model = g.resnet50();
  model.train();
  const sgd = new g.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = g.randn([batch, 3, size, size]);
  const labels = Array.from({ length: batch }, (_, i) => (i * 37) % 1000);
  const step = (): void => {
    const l = g.tidy(() => {
      sgd.zeroGrad();
      const loss = g.F.crossEntropy(model.forward(x), labels);
      loss.backward();
      sgd.step();
      return loss;
    });
    l.itemSync();
    l.dispose();
  };
  for (let i = 0; i < 2; i++) step();
  runners.push({ name: `gpugrad ${root} (${g.getBackend()})`, run: async (n) => Array.from({ length: n }, () => { const t0 = performance.now(); step(); return performance.now() - t0; }) });
}
if (withTorch) {
  const here = dirname(fileURLToPath(import.meta.url));
  const py = spawn('/usr/bin/python3', [join(here, 'peers/torch_train_step.py'), String(size), String(batch), '0', String(threads)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: py.stdout })[Symbol.asyncIterator]();
  await lines.next(); // the warm-up report (0 steps)
  runners.push({ name: 'PyTorch 1.13 CPU', run: async (n) => { py.stdin.write(`${n}\n`); return JSON.parse((await lines.next()).value as string).ms; } });
  process.on('exit', () => py.kill());
}
const times: number[][] = runners.map(() => []);
const roundMed: number[][] = runners.map(() => []);
const med = (a: number[]): number => { const s = [...a].sort((p, q) => p - q); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
for (let r = 0; r < rounds; r++) {
  for (const [i, c] of runners.entries()) {
    const ms = await c.run(per);
    times[i].push(...ms);
    roundMed[i].push(med(ms));
  }
}
console.log(`ResNet-50 train ${size}² b${batch}, ${threads} threads, ${rounds} rounds × ${per} steps`);
for (const [i, c] of runners.entries()) {
  const torch = runners.length - 1;
  const ratio = withTorch && i < torch ? `  ÷ PyTorch: of medians ${(med(times[i]) / med(times[torch])).toFixed(2)}, median of per-round ratios ${med(roundMed[i].map((m, r) => m / roundMed[torch][r])).toFixed(2)}` : '';
  console.log(`${c.name}: median ${med(times[i]).toFixed(0)} ms, min ${Math.min(...times[i]).toFixed(0)} ms${ratio}`);
}
process.exit(0);
