// Short soak (CI): training a small Bottleneck ResNet must not grow memory() or the process after warm-up.
import { describe, expect, it } from 'vitest';
import { formatSoak, soak, soakPlain, testBackends } from './helpers/soak.js';
import { readyBackends } from './helpers/backends.js';

const ready = await readyBackends();

const STEPS = Number(process.env.GPUGRAD_SOAK_STEPS ?? 200);

describe.each(testBackends)('soak on $label', (tb) => {
  it.skipIf(!ready.has(tb))(`${STEPS} training steps keep tensors and bytes flat`, async () => {
    const r = await soak(tb, STEPS, 25, 50);
    console.log(`soak ${formatSoak(r)}`);
    const after = r.samples.filter((s) => s.step > 50);
    // Exactly flat: every step frees what it made; a single leaked tensor per step would show here.
    expect(new Set(after.map((s) => s.tensors)).size).toBe(1);
    expect(new Set(after.map((s) => s.bytes)).size).toBe(1);
    // The process side: reachable JS heap + external memory after a full GC must not climb. (RSS is printed
    // but not asserted: it follows GC timing and varied 1-570 KiB/step between 200-step runs.)
    expect(r.heapSlope).toBeLessThan(16 * 1024);
  });
});

// The same bound the issue set for a PyTorch-style loop (no tidy, no dispose): memory() bytes and RSS within 64 MB
// of their value early on. Dropped handles (each step's batch, output and loss) go when the collector finds them.
describe.each(testBackends.filter((tb) => tb.label === 'reference' || tb.label === 'wasm'))('plain PyTorch-style loop on $label', (tb) => {
  it.skipIf(!ready.has(tb))(`${STEPS} steps of the npm start network without tidy or dispose stay within 64 MB`, async () => {
    const r = await soakPlain(tb, STEPS, 20, 20);
    console.log(`soak ${formatSoak(r)}`);
    const first = r.samples[0];
    for (const s of r.samples) {
      expect(s.bytes - first.bytes).toBeLessThan(64 * 2 ** 20);
      expect(s.rss - first.rss).toBeLessThan(64 * 2 ** 20);
    }
  });
});
