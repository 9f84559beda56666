// Two models on two backends in one process give the results each gives alone; a pending data() read
// never sees a buffer that was freed and reused after the call.
import { describe, expect, it } from 'vitest';
import { F, manualSeed, randn, resnet50, setBackend, tensor, tidy } from '../src/index.js';
import { readyBackends, testBackends, useBackend, type TestBackend } from './helpers/backends.js';

const ready = await readyBackends();

const tiny = { layers: [1, 1, 1, 1], widths: [4, 4, 8, 8], inChannels: 1, stemKernel: 3, stemStride: 1, maxPool: false, numClasses: 5 } as const;

async function build(tb: TestBackend): Promise<{ forward(x: Float32Array): Promise<Float32Array> }> {
  await useBackend(tb);
  manualSeed(11);
  const model = resnet50(tiny);
  model.eval();
  return {
    async forward(v) {
      // The input is made on this model's backend directly (selecting a started backend is synchronous): the
      // other backend may have no synchronous read to copy it from.
      setBackend(tb.name, tb.options ?? {});
      const y = tidy(() => model.forward(tensor(v, [2, 1, 6, 6])));
      const d = await y.data();
      y.dispose();
      return d;
    },
  };
}

const others = testBackends.slice(1);

describe.each(others)('reference beside $label', (tb) => {
  it.skipIf(!ready.has(tb))('interleaved forwards match the results each backend gives alone', async () => {
    await setBackend('reference');
    const input = (await randn([2, 1, 6, 6]).data()).slice();
    const a = await build(testBackends[0]);
    const b = await build(tb);
    const aloneA = await a.forward(input);
    const aloneB = await b.forward(input);
    // Interleave: start both reads before awaiting either, several times over.
    for (let i = 0; i < 3; i++) {
      const [ra, rb] = await Promise.all([a.forward(input), b.forward(input)]);
      expect(Array.from(ra)).toEqual(Array.from(aloneA));
      expect(Array.from(rb)).toEqual(Array.from(aloneB));
    }
    const { atol, rtol } = tb.tolerance(144);
    aloneB.forEach((v, i) => expect(Math.abs(v - aloneA[i])).toBeLessThanOrEqual(atol + rtol * Math.abs(aloneA[i]) + 1e-4));
  });

  it.skipIf(!ready.has(tb))('a pending data() read keeps the values of the moment it was called', async () => {
    await useBackend(tb);
    const values = Float32Array.from({ length: 4096 }, (_, i) => i);
    const t = tensor(values, [4096]);
    const pending = t.data();
    t.dispose();
    // Churn allocations of the same size, so a reusing allocator hands the freed block out again.
    for (let i = 0; i < 20; i++) tidy(() => F.relu(tensor(new Float32Array(4096).fill(-i), [4096]).neg()));
    expect(Array.from(await pending)).toEqual(Array.from(values));
  });
});
