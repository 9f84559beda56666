// Peak resident memory of a ResNet-50 eval forward (224², batch 1) on one backend, in a fresh process so the
// figure is the forward's own: node --import tsx bench/peak-mem.ts [--backend wasm] [--threads 2] [--quick]
import { readFileSync } from 'node:fs';
import { enableRelaxedSimd, noGrad, randn, resnet50, setBackend, tidy, manualSeed } from '../src/index.js';

// Like `npm run bench` (whose node command line has the flag): relaxed SIMD unless GPUGRAD_WASM_RELAXED=0.
if (process.env.GPUGRAD_WASM_RELAXED !== '0') enableRelaxedSimd();

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
}

const backend = arg('backend', 'wasm');
const threads = Number(arg('threads', '1'));
const size = process.argv.includes('--quick') ? 32 : 224;
const mb = (b: number): number => b / (1 << 20);

/**
 * Resident and peak resident MB of this process. Linux's /proc/self/status (VmRSS, VmHWM) starts afresh at
 * exec; getrusage's maxRSS does not (a child spawned by a large benchmark process inherits its parent's peak).
 */
function rss(): { now: number; peak: number } {
  try {
    const s = readFileSync('/proc/self/status', 'utf8');
    const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1]);
    const now = kb('VmRSS');
    const peak = kb('VmHWM');
    if (now > 0 && peak > 0) return { now: now / 1024, peak: peak / 1024 };
  } catch {
    // not Linux
  }
  return { now: mb(process.memoryUsage().rss), peak: mb(process.resourceUsage().maxRSS * 1024) };
}

await setBackend(backend, { threads });
const before = rss().now;
manualSeed(0);
const model = resnet50();
model.eval();
const afterModel = rss().now;
const x = randn([1, 3, size, size]);
for (let i = 0; i < 2; i++) {
  const y = tidy(() => noGrad(() => model.forward(x)));
  await y.data();
  y.dispose();
}
const peak = rss().peak;
// One markdown row: backend, threads, RSS at start, RSS with the model built, peak over two forwards.
console.log(`| ${backend} | ${threads} | ${size}² b1 | ${before.toFixed(0)} | ${afterModel.toFixed(0)} | ${peak.toFixed(0)} |`);
process.exit(0);
