// PyTorch .pth checkpoints: files written by torch.save (scripts/fixtures_pth.py) read back value for value in
// every dtype and through strided views, a torchvision Bottleneck's state dict loaded into gpugrad's and run
// against torchvision's output, and refused files (legacy format, foreign Python globals, damage) that throw
// GpugradError, allocate nothing and leave a model unchanged.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Bottleneck, GpugradError, isTorchFile, isTorchZip, loadTorchStateDict, makeLayer, memory, noGrad, readTorchStateDict, tensor, type Tensor } from '../src/node.js';
import { hashStateDict, hashTensor } from './helpers/hashinit.js';
import { expectSummaryClose, type RefSummary } from './helpers/refcompare.js';
import { errorOf } from './helpers/errors.js';

const dir = new URL('./fixtures/pth/', import.meta.url);
const bytesOf = (name: string): Uint8Array => readFileSync(new URL(name, dir));
interface Expected {
  shape: number[];
  values: number[];
}
const expected = JSON.parse(readFileSync(new URL('expected.json', dir), 'utf8')) as {
  dtypes: Record<string, Expected>;
  checkpoint: { model: Record<string, Expected> };
};
const bottleneckRef = JSON.parse(readFileSync(new URL('./fixtures/resnet/bottleneck.json', import.meta.url), 'utf8')) as {
  seed: number;
  inputStream: number;
  cases: { inplanes: number; planes: number; stride: number; inputShape: number[]; keys: [string, number[]][]; evalOut: RefSummary }[];
};
// The block fixtures_pth.py saves: torchvision's Bottleneck(8, 4, stride 2) with its projection shortcut.
const blockCase = bottleneckRef.cases.find((c) => c.inplanes === 8 && c.planes === 4 && c.stride === 2)!;

async function expectValues(map: Map<string, Tensor>, want: Record<string, Expected>): Promise<void> {
  expect([...map.keys()]).toEqual(Object.keys(want));
  for (const [k, e] of Object.entries(want)) {
    const t = map.get(k)!;
    expect([...t.shape], k).toEqual(e.shape);
    // float32 of PyTorch's value, exactly: every dtype converts without rounding twice.
    expect(Array.from(await t.data()), k).toEqual(e.values.map(Math.fround));
  }
}

const newBlock = (): Bottleneck => makeLayer(Bottleneck, blockCase.inplanes, blockCase.planes, 1, blockCase.stride).layer.at(0) as Bottleneck;

describe('reading torch.save files', () => {
  for (const file of ['dtypes.pth', 'dtypes-legacy.pth']) {
    it(`reads every dtype, 0-d and empty tensors, parameters, and views with strides and offsets into shared storages (${file})`, async () => {
      const map = readTorchStateDict(bytesOf(file));
      await expectValues(map, expected.dtypes);
      for (const t of map.values()) t.dispose();
    });
  }

  it("reads a torchvision Bottleneck's state dict bit for bit, and gpugrad's Bottleneck loaded from it matches torchvision's output", async () => {
    const map = await loadTorchStateDict(new URL('bottleneck.pth', dir).pathname);
    expect([...map].map(([k, t]) => [k, [...t.shape]])).toEqual(blockCase.keys);
    // The same hash-initialised values fixtures_resnet.py gave the block (num_batches_tracked set to 7 there).
    const hashed = hashStateDict(bottleneckRef.seed, blockCase.keys);
    for (const [k, t] of map) {
      const want = k === 'bn1.num_batches_tracked' ? [7] : k.endsWith('num_batches_tracked') ? [0] : Array.from(await hashed.get(k)!.data());
      expect(Array.from(await t.data()), k).toEqual(want);
    }
    for (const t of hashed.values()) t.dispose();
    const block = newBlock();
    block.loadStateDict(map);
    for (const t of map.values()) t.dispose();
    block.eval();
    const x = hashTensor(bottleneckRef.seed, bottleneckRef.inputStream, blockCase.inputShape);
    const y = noGrad(() => block.forward(x));
    expectSummaryClose('eval output', await y.data(), y.shape, blockCase.evalOut);
    expect(await block.bn1.numBatchesTracked!.item()).toBe(7);
    for (const t of [x, y]) t.dispose();
    block.dispose();
  });

  it('reads the state dict of a training checkpoint by key, and names the keys when none is given', async () => {
    const bytes = bytesOf('checkpoint.pth');
    const map = readTorchStateDict(bytes, { key: 'model' });
    await expectValues(map, expected.checkpoint.model);
    const block = newBlock();
    block.loadStateDict(map);
    for (const t of map.values()) t.dispose();
    block.dispose();
    expect(errorOf(() => readTorchStateDict(bytes)).message).toMatch(/entry "epoch" is a number, not a tensor; for a checkpoint, pass \{ key \}.*"epoch", "model", "optimizer", "note"/);
    expect(errorOf(() => readTorchStateDict(bytes, { key: 'optimizer' })).message).toMatch(/entry "state" is a dict, not a tensor/);
    expect(errorOf(() => readTorchStateDict(bytes, { key: 'weights' })).message).toMatch(/key 'weights' not found/);
  });

  it('refuses foreign Python globals and files that are not checkpoints, by name', () => {
    expect(errorOf(() => readTorchStateDict(bytesOf('foreign-global.pth'))).message).toMatch(/refusing the Python global 'collections\.Counter'/);
    const st = readFileSync(new URL('./fixtures/resnet/dtypes.safetensors', import.meta.url));
    expect(isTorchZip(st)).toBe(false);
    expect(isTorchZip(bytesOf('bottleneck.pth'))).toBe(true);
    expect([isTorchFile(bytesOf('dtypes-legacy.pth')), isTorchZip(bytesOf('dtypes-legacy.pth')), isTorchFile(st)]).toEqual([true, false, false]);
    expect(errorOf(() => readTorchStateDict(st)).message).toMatch(/not a PyTorch checkpoint: it starts with neither a zip header nor torch's legacy magic number/);
  });

  it('a truncated file names what is missing', () => {
    const good = bytesOf('bottleneck.pth');
    expect(errorOf(() => readTorchStateDict(good.subarray(0, good.length - 30))).message).toMatch(/truncated or not a zip archive/);
    expect(errorOf(() => readTorchStateDict(good.subarray(0, 5000))).message).toMatch(/truncated/);
    const legacy = bytesOf('dtypes-legacy.pth');
    expect(errorOf(() => readTorchStateDict(legacy.subarray(0, legacy.length - 3))).message).toMatch(/truncated file: storage '\d+' holds \d+ bytes, fewer than/);
    expect(errorOf(() => readTorchStateDict(legacy.subarray(0, 200))).message).toMatch(/truncated/);
  });
});

describe('damaged .pth files never crash or half-load a model (fuzz)', () => {
  it.each(['bottleneck.pth', 'dtypes-legacy.pth'])('flipping bytes or cutting %s gives a full read or a GpugradError, with nothing allocated and the model unchanged', async (file) => {
    const good = bytesOf(file);
    const target = newBlock();
    const before = new Map<string, number[]>();
    for (const [k, t] of target.stateDict()) before.set(k, Array.from(await t.data()));
    const restore = new Map([...target.stateDict()].map(([k, t]) => [k, tensor(before.get(k)!, [...t.shape])]));
    const live = memory().tensors;
    const mutation = fc.oneof(
      fc.record({ cut: fc.constant(false), at: fc.integer({ min: 0, max: good.length - 1 }), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ cut: fc.constant(true), at: fc.integer({ min: 0, max: good.length - 1 }), value: fc.constant(0) }),
    );
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (ms) => {
        let bytes = good.slice();
        for (const m of ms) {
          if (m.cut) bytes = bytes.slice(0, Math.min(m.at, bytes.length));
          else if (m.at < bytes.length) bytes[m.at] = m.value;
        }
        let map: Map<string, Tensor> | null = null;
        try {
          map = readTorchStateDict(bytes);
        } catch (e) {
          if (!(e instanceof GpugradError)) throw e;
          rejected++;
          expect(memory().tensors).toBe(live);
          return;
        }
        try {
          target.loadStateDict(map);
          // Loaded (a flipped storage byte changes a value, not the structure): restore the target.
          target.loadStateDict(restore);
        } catch (e) {
          if (!(e instanceof GpugradError)) throw e;
          rejected++;
        } finally {
          for (const t of map.values()) t.dispose();
        }
        for (const [k, t] of target.stateDict()) expect(Array.from(await t.data()), k).toEqual(before.get(k));
      }),
      { numRuns: 300 },
    );
    expect(rejected).toBeGreaterThan(0);
    for (const t of restore.values()) t.dispose();
    target.dispose();
  });
});
