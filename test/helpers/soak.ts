// The soak loop shared by the CI test (short) and `npm run soak` (long): train a small Bottleneck ResNet
// and sample memory() and the process RSS every `every` steps.
import { F, manualSeed, memory, randn, resnet50, tidy, type Tensor } from '../../src/index.js';
import { SGD } from '../../src/optim/index.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { testBackends, useBackend, type TestBackend } from './backends.js';
import { buildNet, digitNetConfig } from '../../src/cli/model.js';

// A full GC before each sample, so the JS heap figure measures what is reachable, not GC timing.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

export interface SoakSample {
  step: number;
  tensors: number;
  bytes: number;
  rss: number;
  /** JS heap + external memory (ArrayBuffers, wasm memories) after a full GC. */
  heap: number;
}

export interface SoakResult {
  backend: string;
  steps: number;
  samples: SoakSample[];
  /** Least-squares slope after warm-up, per step. */
  tensorSlope: number;
  byteSlope: number;
  rssSlope: number;
  heapSlope: number;
  msPerStep: number;
}

function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export async function soak(tb: TestBackend, steps: number, every = 50, warmup = every): Promise<SoakResult> {
  await useBackend(tb);
  manualSeed(7);
  const model = resnet50({ layers: [1, 1, 1, 1], widths: [4, 4, 8, 8], inChannels: 1, stemKernel: 3, stemStride: 1, maxPool: false, numClasses: 10 });
  model.train();
  const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
  const x = randn([4, 1, 8, 8]);
  const labels = [1, 3, 5, 7];
  const samples: SoakSample[] = [];
  const t0 = performance.now();
  for (let step = 1; step <= steps; step++) {
    const loss = tidy(() => {
      opt.zeroGrad();
      const l: Tensor = F.crossEntropy(model.forward(x), labels);
      l.backward();
      opt.step();
      return l;
    });
    // Reading the loss each step, as a training loop does: on a backend that queues its kernels (threaded
    // gpu.js) this is also what lets the queue drain instead of holding every step's work.
    await loss.data();
    loss.dispose();
    if (step % every === 0) {
      const m = memory();
      gc();
      const u = process.memoryUsage();
      samples.push({ step, tensors: m.tensors, bytes: m.bytes, rss: u.rss, heap: u.heapUsed + u.external });
    }
  }
  const result = summarise(tb.label, steps, samples, warmup, (performance.now() - t0) / steps);
  // The optimizer's momentum buffers too: left to the collector, they would be finalized during the next backend's
  // run and show there as a falling tensor count (seen as -0.3 tensors/step on wasm:simd128).
  opt.dispose();
  model.dispose();
  x.dispose();
  return result;
}

/** The slopes after warm-up of a run's samples. */
function summarise(backend: string, steps: number, samples: SoakSample[], warmup: number, msPerStep: number): SoakResult {
  const after = samples.filter((s) => s.step > warmup);
  const xs = after.map((s) => s.step);
  const fit = (pick: (s: SoakSample) => number): number => slope(xs, after.map(pick));
  return { backend, steps, samples, tensorSlope: fit((s) => s.tensors), byteSlope: fit((s) => s.bytes), rssSlope: fit((s) => s.rss), heapSlope: fit((s) => s.heap), msPerStep };
}

/**
 * The loop a PyTorch user writes, with no tidy() and no dispose(): zeroGrad, forward, loss, backward, step, and
 * the loss read each step, on the `npm start` digit network (width 8, one Bottleneck per stage, 3×3 stem with
 * stride 2) at batch 8 of 28×28 images. Memory must stay bounded by what the engine frees on its own.
 */
export async function soakPlain(tb: TestBackend, steps: number, every = 50, warmup = every): Promise<SoakResult> {
  await useBackend(tb);
  manualSeed(7);
  const model = buildNet(digitNetConfig(8, [1, 1, 1, 1], 2));
  model.train();
  const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const labels = Array.from({ length: 8 }, (_, i) => i % 10);
  const samples: SoakSample[] = [];
  const t0 = performance.now();
  for (let step = 1; step <= steps; step++) {
    const x = randn([8, 1, 28, 28]); // a fresh batch each step, as a data loader gives
    opt.zeroGrad();
    const out = model.forward(x);
    const loss = F.crossEntropy(out, labels);
    loss.backward();
    opt.step();
    await loss.item();
    if (step % every === 0) {
      const m = memory();
      const u = process.memoryUsage();
      samples.push({ step, tensors: m.tensors, bytes: m.bytes, rss: u.rss, heap: u.heapUsed + u.external });
    }
  }
  const ms = (performance.now() - t0) / steps;
  model.dispose();
  opt.dispose();
  return summarise(`${tb.label} (plain loop)`, steps, samples, warmup, ms);
}


export function formatSoak(r: SoakResult): string {
  const last = r.samples[r.samples.length - 1];
  return `${r.backend}: ${r.steps} steps, ${r.msPerStep.toFixed(1)} ms/step; after warm-up: tensors ${r.tensorSlope.toFixed(3)}/step (live ${last.tensors}), bytes ${r.byteSlope.toFixed(1)}/step (${last.bytes}), heap after GC ${(r.heapSlope / 1024).toFixed(2)} KiB/step, RSS ${(r.rssSlope / 1024).toFixed(2)} KiB/step (${(last.rss / 2 ** 20).toFixed(0)} MiB)`;
}

export { testBackends };
