// Datasets and loading: IDX parsing (plain, gzipped, malformed), the mnist package's digits, the
// stratified hold-out split, and the seeded loader (order, normalisation, shifts).
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { GpugradError, memory } from '../src/index.js';
import { DataLoader, loadIdxDir, loadIdxPair, loadMnistPackage, readIdx, splitHoldout, type ImageDataset } from '../src/data/index.js';

function idx(dims: number[], data: number[]): Uint8Array {
  const head = new Uint8Array(4 + 4 * dims.length);
  const v = new DataView(head.buffer);
  head[2] = 0x08;
  head[3] = dims.length;
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}

function toy(n: number, classes = 10): ImageDataset {
  const pixels = new Float32Array(n * 4);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % classes;
    pixels.fill(i / n, i * 4, i * 4 + 4);
  }
  return { name: 'toy', pixels, labels, count: n, channels: 1, height: 2, width: 2, classes };
}

describe('IDX reader', () => {
  it('reads big-endian dims and data, plain and gzipped', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 }), fc.boolean(), (dims, gz) => {
        const n = dims.reduce((a, b) => a * b, 1);
        const data = Array.from({ length: n }, (_, i) => (i * 37) % 256);
        const bytes = idx(dims, data);
        const got = readIdx(gz ? gzipSync(bytes) : bytes);
        expect(got.dims).toEqual(dims);
        expect([...got.data]).toEqual(data);
      }),
      { numRuns: 30 },
    );
  });

  it('refuses bad magic, non-byte types, truncation and corrupt gzip with a GpugradError', () => {
    const good = idx([2, 2], [1, 2, 3, 4]);
    expect(() => readIdx(Uint8Array.from([1, 0, 8, 1, 0, 0, 0, 1, 5]))).toThrow(/readIdx: .*IDX magic/);
    const float = good.slice();
    float[2] = 0x0d;
    expect(() => readIdx(float)).toThrow(/element type 0x0d/);
    expect(() => readIdx(good.subarray(0, good.length - 1))).toThrow(/declares \[2,2\] = 4 bytes of data, but 3 follow/);
    expect(() => readIdx(new Uint8Array(3))).toThrow(/too short/);
    expect(() => readIdx(Uint8Array.from([0x1f, 0x8b, 1, 2, 3]))).toThrow(/does not decompress/);
    expect(() => readIdx(new Uint8Array(3))).toThrow(GpugradError);
  });

  it('loads an image/label pair from a directory and checks they agree', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpugrad-idx-'));
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(idx([3, 2, 2], [0, 255, 0, 255, 1, 2, 3, 4, 5, 6, 7, 8])));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx([3], [7, 1, 2]));
    const ds = loadIdxDir(dir, 'train');
    expect(ds.count).toBe(3);
    expect([ds.channels, ds.height, ds.width]).toEqual([1, 2, 2]);
    expect([...ds.labels]).toEqual([7, 1, 2]);
    expect(ds.pixels[1]).toBeCloseTo(1);
    writeFileSync(join(dir, 'bad-labels'), idx([2], [1, 2]));
    expect(() => loadIdxPair(join(dir, 'train-images-idx3-ubyte.gz'), join(dir, 'bad-labels'))).toThrow(/has 3 images but .* has 2 labels/);
    expect(() => loadIdxPair(join(dir, 'train-labels-idx1-ubyte'), join(dir, 'bad-labels'))).toThrow(/must hold images \[N, H, W\]/);
    expect(() => loadIdxDir(join(dir, 'nope'))).toThrow(/dataset directory not found/);
    expect(() => loadIdxDir(dir, 't10k')).toThrow(/no t10k-images-idx3-ubyte/);
  });

  const fashion = '/usr/share/datasets/fashion-mnist';
  it.skipIf(!existsSync(fashion))("reads Debian's real Fashion-MNIST files", () => {
    const ds = loadIdxDir(fashion, 't10k');
    expect(ds.count).toBe(10000);
    expect([ds.height, ds.width, ds.classes]).toEqual([28, 28, 10]);
    const counts = new Array(10).fill(0);
    for (const l of ds.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(1000));
  });
});

describe('mnist package digits', () => {
  it('holds 10,000 real 28×28 digits of every class, pixels in [0,1]', () => {
    const ds = loadMnistPackage();
    expect(ds.count).toBe(10000);
    expect(ds.pixels.length).toBe(10000 * 784);
    const counts = new Array(10).fill(0);
    for (const l of ds.labels) counts[l]++;
    expect(Math.min(...counts)).toBeGreaterThan(800);
    let lo = Infinity;
    let hi = -Infinity;
    let mean = 0;
    for (const p of ds.pixels) {
      lo = Math.min(lo, p);
      hi = Math.max(hi, p);
      mean += p;
    }
    expect(lo).toBe(0);
    expect(hi).toBeLessThanOrEqual(1);
    // MNIST's well-known mean intensity is about 0.13.
    expect(mean / ds.pixels.length).toBeGreaterThan(0.1);
    expect(mean / ds.pixels.length).toBeLessThan(0.16);
  });
});

describe('hold-out split', () => {
  it('is disjoint, exact in size and stratified', () => {
    fc.assert(
      fc.property(fc.integer({ min: 20, max: 300 }), fc.integer({ min: 2, max: 10 }), fc.double({ min: 0.05, max: 0.9, noNaN: true }), (n, classes, share) => {
        const ds = toy(n, classes);
        const h = Math.max(1, Math.floor(n * share));
        const { train, test } = splitHoldout(ds, h);
        expect(test.count).toBe(h);
        expect(train.count).toBe(n - h);
        const seen = new Set([...train.pixels.filter((_, i) => i % 4 === 0), ...test.pixels.filter((_, i) => i % 4 === 0)]);
        expect(seen.size).toBe(n);
        for (let c = 0; c < classes; c++) {
          const inClass = ds.labels.filter((l) => l === c).length;
          const held = test.labels.filter((l) => l === c).length;
          expect(Math.abs(held - (inClass * h) / n)).toBeLessThan(1 + 1e-9);
        }
      }),
      { numRuns: 40 },
    );
    expect(() => splitHoldout(toy(10), 10)).toThrow(/holdout must be an integer in \[1, 9\]/);
  });
});

describe('DataLoader', () => {
  it('covers every image once per epoch, seeded order, reproducible per (seed, epoch)', async () => {
    const ds = toy(50);
    const order = async (seed: number, epoch: number): Promise<number[]> => {
      const dl = new DataLoader(ds, { batchSize: 8, shuffle: true, seed });
      const out: number[] = [];
      for (const b of dl.epoch(epoch)) {
        const d = await b.x.data();
        for (let i = 0; i < b.labels.length; i++) out.push(Math.round(d[i * 4] * 50));
        b.x.dispose();
      }
      return out;
    };
    const a = await order(1, 0);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(await order(1, 0)).toEqual(a);
    expect(await order(1, 1)).not.toEqual(a);
    expect(await order(2, 0)).not.toEqual(a);
  });

  it('normalises, sizes batches, drops the last one on request, and leaks nothing', async () => {
    const ds = toy(10);
    const before = memory().tensors;
    const dl = new DataLoader(ds, { batchSize: 4, mean: 0.5, std: 0.25 });
    const sizes: number[] = [];
    for (const b of dl.epoch()) {
      sizes.push(b.x.shape[0]);
      expect(b.x.shape.slice(1)).toEqual([1, 2, 2]);
      const d = await b.x.data();
      expect(d[0]).toBeCloseTo((ds.pixels[(sizes.length - 1) * 16] - 0.5) / 0.25, 5);
      b.x.dispose();
    }
    expect(sizes).toEqual([4, 4, 2]);
    expect(memory().tensors).toBe(before);
    expect(new DataLoader(ds, { batchSize: 4, dropLast: true }).length).toBe(2);
    expect(() => new DataLoader(ds, { batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
  });

  it('random shifts move the digit and fill with the normalised background', async () => {
    const ds = loadMnistPackage();
    const one: ImageDataset = { ...ds, pixels: ds.pixels.subarray(0, 784), labels: ds.labels.subarray(0, 1), count: 1 };
    const first = async (dl: DataLoader, epoch: number): Promise<Float32Array> => {
      for (const b of dl.epoch(epoch)) {
        const d = await b.x.data();
        b.x.dispose();
        return d;
      }
      throw new Error('empty loader');
    };
    const plain = [...(await first(new DataLoader(one, { batchSize: 1 }), 0))];
    const sums = plain.reduce((a, b) => a + b, 0);
    let moved = 0;
    for (let e = 0; e < 6; e++) {
      const d = await first(new DataLoader(one, { batchSize: 1, maxShift: 2, seed: 3 }), e);
      if (d.some((v, i) => v !== plain[i])) moved++;
      // A digit centred in a 28×28 frame with a 4-pixel border loses nothing when shifted by ≤2.
      expect(d.reduce((a, b) => a + b, 0)).toBeCloseTo(sums, 3);
    }
    expect(moved).toBeGreaterThan(0);
  });
});
