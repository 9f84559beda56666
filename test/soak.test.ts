// Short soak (CI): training a small Bottleneck ResNet must not grow memory() or the process after warm-up.
import { describe, expect, it } from 'vitest';
import { formatSoak, soak, testBackends } from './helpers/soak.js';

const STEPS = Number(process.env.GPUGRAD_SOAK_STEPS ?? 200);

describe.each(testBackends)('soak on $label', (tb) => {
  it(`${STEPS} training steps keep tensors and bytes flat`, async () => {
    if (!(await tb.available())) return;
    const r = await soak(tb, STEPS, 25, 50);
    console.log(`soak ${formatSoak(r)}`);
    const after = r.samples.filter((s) => s.step > 50);
    // Exactly flat: every step frees what it made; a single leaked tensor per step would show here.
    expect(new Set(after.map((s) => s.tensors)).size).toBe(1);
    expect(new Set(after.map((s) => s.bytes)).size).toBe(1);
    // RSS is noisy (GC timing, JIT); the exact tensor/byte checks above are the leak test, this bounds the
    // process. On gpujs the RSS slope over 200 steps varied from 20 to 570 KiB/step between runs (gpu.js's
    // per-call garbage, 29 KiB/step over 800 steps): printed above, bounded only for our own heaps.
    if (tb.name !== 'gpujs') expect(r.rssSlope).toBeLessThan(256 * 1024);
  });
});
