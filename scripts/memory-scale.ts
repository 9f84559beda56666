// How large a ResNet-50 batch fits (issue #14's acceptance): each case in a fresh process so VmHWM is its own.
//   node --import tsx scripts/memory-scale.ts            all cases, one child process each
//   node --import tsx scripts/memory-scale.ts eval 64    one case: eval | train | refuse, and a batch size
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { F, GpugradError, manualSeed, noGrad, optim, randn, resnet50, setBackend, tidy } from '../src/index.js';

function peakMiB(): number {
  const s = readFileSync('/proc/self/status', 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(s)?.[1]) / 1024;
}

async function run(kind: string, batch: number): Promise<void> {
  await setBackend('wasm', { threads: 2 });
  manualSeed(0);
  const model = resnet50();
  const labels = Array.from({ length: batch }, (_, i) => i % 1000);
  const t0 = performance.now();
  if (kind === 'eval') {
    model.eval();
    const y = noGrad(() => model.forward(randn([batch, 3, 224, 224])));
    await y.data();
  } else {
    model.train();
    const opt = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
    const step = (n: number): void => {
      opt.zeroGrad();
      const loss = F.crossEntropy(model.forward(randn([n, 3, 224, 224])), labels.slice(0, n));
      loss.backward();
      opt.step();
    };
    if (kind === 'refuse') {
      try {
        tidy(() => step(batch));
        console.log(`batch ${batch} training step: NOT refused`);
      } catch (e) {
        if (!(e instanceof GpugradError)) throw e;
        console.log(`batch ${batch} refused in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${e.message.slice(0, 160)}…`);
      }
      const t1 = performance.now();
      tidy(() => step(2));
      console.log(`then batch 2 step: ok in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    } else step(batch);
  }
  console.log(`${kind} batch ${batch} at 224²: ${((performance.now() - t0) / 1000).toFixed(1)} s, peak RSS ${peakMiB().toFixed(0)} MiB`);
}

const [kind, batch] = process.argv.slice(2);
if (kind) await run(kind, Number(batch));
else {
  for (const [k, b] of [['eval', 64], ['train', 16], ['refuse', 64]] as const) {
    process.stdout.write(execFileSync(process.execPath, ['--import', 'tsx', process.argv[1], k, String(b)], { encoding: 'utf8' }));
  }
}
process.exit(0);
