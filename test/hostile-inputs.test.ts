// Regression tests for the hostile inputs of issue #15: each crafted file is refused with a GpugradError that names
// the file, the field and the limit, in < 1 s and < 100 MB of extra peak RSS (API), or with exit status 1 and one
// line (CLI); weight-file configs are checked before a model is built; loadStateDict stays all-or-nothing when the
// backend runs out of memory part way.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentBackend, registerBackend, setBackend, type Backend } from '../src/backend.js';
import { GpugradError, loadSafetensors, loadTorchStateDict, memory, readTorchStateDict, tensor, writeSafetensors, type Tensor } from '../src/node.js';
import { buildNet, digitNetConfig, readWeights } from '../src/cli/model.js';
import { readIdx } from '../src/data/idx.js';
import { decodeImage, encodePng } from '../src/io/image.js';
import { hasStack, runCli } from './helpers/cli-run.js';
import { craftPth, gzipIdxBomb, idxHeader, interlacedPng, jpegHeader, longPth, pngHeader, stateDictPickle, viewPth } from './helpers/craft.js';
import { guarded, REFUSE_MB, REFUSE_MS } from './helpers/guard.js';

const dir = mkdtempSync(join(tmpdir(), 'gpugrad-hostile-'));
const file = (name: string, bytes: Uint8Array | string): string => {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
};
const measured: string[] = [];
afterAll(() => console.log(`hostile inputs (ms, MB of peak RSS growth):\n  ${measured.join('\n  ')}`));

/** Runs a case under the guard: it must throw a GpugradError matching `pattern` within the time and memory limits. */
async function expectRefused(name: string, fn: () => unknown, pattern: RegExp): Promise<void> {
  const g = await guarded(fn);
  measured.push(`${name}: ${g.ms.toFixed(1)} ms, ${g.peakMB.toFixed(1)} MB`);
  if (g.value instanceof Map) for (const t of g.value.values()) (t as Tensor).dispose();
  expect(g.error, `${name} was accepted`).toBeInstanceOf(GpugradError);
  expect((g.error as Error).message).toMatch(pattern);
  expect(g.ms, name).toBeLessThan(REFUSE_MS);
  expect(g.peakMB, name).toBeLessThan(REFUSE_MB);
}

describe('crafted .pth files', () => {
  it.each([200_000, 400_000, 1 << 20])('a LONG4 integer of %i bytes is refused by its declared size, not decoded', async (n) => {
    await expectRefused(`LONG4 ${n} B`, () => readTorchStateDict(longPth(n)), new RegExp(`declares a ${n}-byte integer at byte \\d+, over the 64-byte limit`));
  });

  it.each([600_000_000, 1_200_000_000])('a one-element storage viewed with size (%i,) and stride (0,) is refused, not materialised', async (n) => {
    await expectRefused(`stride-0 view of ${n}`, () => readTorchStateDict(viewPth({ numel: 1, offset: 0, shape: [n], stride: [0] })), new RegExp(`tensor 'w' of size \\[${n}\\], stride \\[0\\] repeats elements .* over the limit of 4194304 \\(option maxExpandedElements\\)`));
  });

  it('views that repeat a few elements still load, as views, and the limit can be raised', async () => {
    const small = readTorchStateDict(viewPth({ numel: 3, offset: 0, shape: [4, 3], stride: [0, 1] }));
    expect(Array.from(await small.get('w')!.data())).toEqual(new Array(12).fill(0));
    small.get('w')!.dispose();
    const bytes = viewPth({ numel: 1, offset: 0, shape: [2000], stride: [0] });
    expect(() => readTorchStateDict(bytes, { maxExpandedElements: 100 })).toThrow(/over the limit of 100/);
    const big = readTorchStateDict(bytes, { maxExpandedElements: 2000 });
    expect(big.get('w')!.shape).toEqual([2000]);
    big.get('w')!.dispose();
  });

  it('negative sizes are refused (torch.load(weights_only=True) refuses shape (-1, -1) too)', async () => {
    await expectRefused('shape (-1,-1)', () => readTorchStateDict(viewPth({ numel: 4, offset: 0, shape: [-1, -1], stride: [1, 1] })), /size \[-1, -1\].*sizes must be non-negative integers/);
  });

  it('a storage with fewer bytes than its elements need is refused before decoding', async () => {
    // The pickle claims 2^40 elements for a storage of 16 bytes.
    const bytes = craftPth(stateDictPickle([{ name: 'w', key: '0', numel: 2 ** 40, offset: 0, shape: [4], stride: [1] }]), { '0': 16 });
    await expectRefused('storage numel 2^40', () => readTorchStateDict(bytes), /truncated file: storage '0' holds 16 bytes, fewer than its 1099511627776 F32 elements need/);
  });

  it('the file-level readers name the file; loadSafetensors given a .pth says to use loadTorchStateDict', async () => {
    const p = file('long.pth', longPth(1 << 20));
    await expectRefused('loadTorchStateDict file', () => loadTorchStateDict(p), new RegExp(`loadTorchStateDict: ${p}: readTorchStateDict: data\\.pkl declares a 1048576-byte integer`));
    const ok = file('ok.pth', viewPth({ numel: 6, offset: 0, shape: [2, 3], stride: [3, 1] }));
    await expectRefused('loadSafetensors of a .pth', () => loadSafetensors(ok), new RegExp(`${ok} is a PyTorch checkpoint \\(torch\\.save\\), not a safetensors file: read it with loadTorchStateDict`));
  });
});

describe('crafted images', () => {
  it('a 69-byte PNG claiming 60000×60000 is refused from its header', async () => {
    const png = pngHeader(60000, 60000, deflateSync(new Uint8Array(8)));
    expect(png.length).toBeLessThan(80);
    await expectRefused('PNG 60000×60000', () => decodeImage(png, 'bomb.png'), /bomb\.png: the PNG header declares 60000×60000 = 3600000000 pixels, over the limit of 33554432 \(raise it with the maxPixels option/);
  });

  it('a 20000×20000 PNG is refused unless the limit is raised; the limit applies to real images too', async () => {
    await expectRefused('PNG 20000×20000', () => decodeImage(pngHeader(20000, 20000, deflateSync(new Uint8Array(16))), 'big.png'), /20000×20000 = 400000000 pixels, over the limit/);
    const real = encodePng(new Float32Array(40 * 30).fill(0.5), 40, 30);
    expect(decodeImage(real).width).toBe(40);
    await expectRefused('PNG 40×30 over maxPixels 1000', () => decodeImage(real, 'small.png', { maxPixels: 1000 }), /40×30 = 1200 pixels, over the limit of 1000/);
    expect(decodeImage(real, 'small.png', { maxPixels: 1200 }).height).toBe(30);
  });

  it('a PNG within the limit whose data is junk or inflates past its size is refused before pngjs allocates', async () => {
    await expectRefused('PNG 5000×5000 junk IDAT', () => decodeImage(pngHeader(5000, 5000, new Uint8Array(64).fill(7)), 'junk.png'), /junk\.png is a corrupt PNG/);
    // An interlaced 1×1 PNG whose IDAT inflates to 64 MB (pngjs inflates interlaced data without a cap).
    const bomb = pngHeader(1, 1, deflateSync(new Uint8Array(64 << 20)));
    bomb[28] = 1; // interlace method (the IHDR CRC is not checked before this)
    await expectRefused('interlaced PNG bomb', () => decodeImage(bomb, 'interlaced.png'), /interlaced\.png: its PNG data inflate past the \d+ bytes a 1×1 image holds/);
  });

  it('interlaced PNGs of any size still decode exactly (the data-size bound follows Adam7)', () => {
    for (const [w, h] of [[1, 1], [3, 5], [17, 9], [8, 8], [33, 2], [2, 33]]) {
      const rgba = Uint8Array.from({ length: 4 * w * h }, (_, i) => (i * 37) & 255);
      const img = decodeImage(interlacedPng(w, h, rgba));
      expect([img.width, img.height]).toEqual([w, h]);
      expect(Array.from(img.rgba)).toEqual(Array.from(rgba));
    }
  });

  it('a JPEG claiming 65535×65535 is refused from its start-of-frame marker', async () => {
    await expectRefused('JPEG 65535×65535', () => decodeImage(jpegHeader(65535, 65535), 'bomb.jpg'), /bomb\.jpg: the JPEG header declares 65535×65535 = 4294836225 pixels, over the limit/);
    await expectRefused('JPEG progressive 30000×30000', () => decodeImage(jpegHeader(30000, 30000, 0xc2), 'p.jpg'), /30000×30000/);
  });
});

describe('crafted IDX files', () => {
  it('a 2.9 MB gzip inflating to 3 GB is refused while it inflates', async () => {
    const bomb = gzipIdxBomb([10, 28, 28], 3e9);
    expect(bomb.length).toBeLessThan(4e6);
    await expectRefused('IDX gzip 3 GB, header [10,28,28]', () => readIdx(bomb, 'bomb-idx3-ubyte.gz'), /bomb-idx3-ubyte\.gz decompresses to more than the 7856 bytes its IDX header declares/);
    const honest = gzipIdxBomb([3826530, 28, 28], 3e9);
    await expectRefused('IDX gzip 3 GB, header declaring 3 GB', () => readIdx(honest, 'honest.gz'), /honest\.gz: the IDX header declares 2999999520 bytes of data, over the limit of 1073741824 \(option maxBytes\)/);
  });

  it('an uncompressed header declaring more than the limit is refused; a small limit applies while inflating', async () => {
    await expectRefused('IDX header 4 GB', () => readIdx(idxHeader([65535, 65535]), 'x'), /declares \[65535,65535\] = 4294836225 bytes of data, over the limit/);
    await expectRefused('IDX gzip past maxBytes', () => readIdx(gzipIdxBomb([4000], 4000, 4000), 'y', { maxBytes: 1000 }), /declares 4000 bytes of data, over the limit of 1000/);
  });
});

/** A weights file holding the digit net's tensors and the given (hostile) gpugrad.config. */
function weightsWithConfig(name: string, config: unknown): string {
  const model = buildNet(digitNetConfig(1, [1, 1, 1, 1], 2));
  const bytes = writeSafetensors(model.stateDict(), { metadata: { 'gpugrad.config': typeof config === 'string' ? config : JSON.stringify(config) } });
  model.dispose();
  return file(name, bytes);
}
const base = digitNetConfig(1, [1, 1, 1, 1], 2);
const CONFIGS: [string, unknown, RegExp][] = [
  ['empty', {}, /gpugrad\.config: block must be 'bottleneck' or 'basic', got nothing/],
  ['inputSize', { ...base, inputSize: 100000 }, /inputSize must be an integer from 1 to 1024, got 100000/],
  ['widths', { ...base, widths: [1e9, 1e9, 1e9, 1e9] }, /widths must be a list of 4 integers from 1 to 8192/],
  ['widths-budget', { ...base, widths: [8000, 8000, 8000, 8000] }, /has \d+ parameters and buffers, over the limit of 134217728/],
  ['layers-string', { ...base, layers: 'abc' }, /layers must be a list of 4 integers from 1 to 256, got "abc"/],
  ['layers-3000', { ...base, layers: [3000, 3000, 3000, 3000] }, /layers must be a list of 4 integers from 1 to 256/],
  ['layers-total', { ...base, layers: [200, 200, 200, 200] }, /layers must be at most 256 blocks in all/],
  ['not-json', '{"block":', /gpugrad\.config metadata is not JSON/],
];

describe('gpugrad.config metadata is validated before a model is built', () => {
  it.each(CONFIGS)('%s', async (name, config, pattern) => {
    const p = weightsWithConfig(`config-${name}.safetensors`, config);
    const live = memory().tensors;
    await expectRefused(`config ${name}`, () => readWeights(p), pattern);
    expect(memory().tensors).toBe(live);
  });
});

describe('the CLI: exit 1 and one line for every refusal', () => {
  let png: string;
  beforeAll(() => {
    png = file('digit.png', encodePng(new Float32Array(784).fill(0.3), 28, 28));
  });
  const oneLine = (r: { code: number; stdout: string; stderr: string }, pattern: RegExp): void => {
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/internal error|gpugrad: gpugrad:/);
    expect(hasStack(r.stderr + r.stdout)).toBe(false);
    expect(r.code).toBe(1);
  };

  it('crafted weights, images and a missing file', async () => {
    const data = join(dir, 'idx');
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, 'train-images-idx3-ubyte.gz'), gzipIdxBomb([10, 28, 28], 1e9));
    writeFileSync(join(data, 'train-labels-idx1-ubyte'), idxHeader([10], new Uint8Array(10)));
    const cases: [string[], RegExp][] = [
      [['predict', '--weights', file('long4.pth', longPth(1 << 20)), png], /long4\.pth: readTorchStateDict: data\.pkl declares a 1048576-byte integer/],
      [['predict', '--weights', file('stride0.pth', viewPth({ numel: 1, offset: 0, shape: [1_200_000_000], stride: [0] })), png], /stride0\.pth: .*over the limit of 4194304/],
      [['predict', '--weights', file('neg.pth', viewPth({ numel: 4, offset: 0, shape: [-1, -1], stride: [1, 1] })), png], /sizes must be non-negative integers/],
      [['predict', '--weights', file('text.pth', 'not a checkpoint'), png], /text\.pth: readTorchStateDict: not a PyTorch checkpoint/],
      [['predict', '--weights', join(dir, 'absent.safetensors'), png], /^gpugrad: readWeights: weights file not found: /],
      [['predict', '--weights', file('unused.pth', longPth(8)), file('bomb.png', pngHeader(60000, 60000, deflateSync(new Uint8Array(8))))], /bomb\.png: the PNG header declares 60000×60000/],
      [['train', '--data', data, '--out', join(dir, 'idx-run'), '--backend', 'reference'], /decompresses to more than the 7856 bytes its IDX header declares/],
      ...CONFIGS.filter(([n]) => ['empty', 'inputSize', 'widths', 'layers-string', 'layers-3000'].includes(n)).map(([n, c, re]) => [['predict', '--weights', weightsWithConfig(`cli-${n}.safetensors`, c), png], re] as [string[], RegExp]),
    ];
    // Two at a time: each is a process start of a few seconds here.
    for (let i = 0; i < cases.length; i += 2) {
      const rs = await Promise.all(cases.slice(i, i + 2).map(([args]) => runCli(args, 60_000)));
      rs.forEach((r, j) => oneLine(r, cases[i + j][1]));
    }
  }, 300_000);
});

describe('loadStateDict is all-or-nothing when the backend runs out of memory', () => {
  /** The reference backend behind a wrapper whose allocating calls throw, as a full wasm heap does, once `budget` runs out. */
  function flakyBackend(inner: Backend): { backend: Backend; setBudget: (n: number) => void } {
    let budget = Infinity;
    const allocating = new Set(['upload', 'fill', 'unary', 'binary', 'reduce', 'permute', 'slice', 'concat', 'matmul', 'im2col', 'col2im', 'maxPool2d', 'avgPool2d']);
    const backend = new Proxy(inner, {
      get(target, key, receiver) {
        if (key === 'name') return 'flaky';
        const v = Reflect.get(target, key, receiver) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          if (allocating.has(String(key)) && budget-- <= 0) throw new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded');
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    return { backend, setBudget: (n) => (budget = n) };
  }

  it('a failure after k allocations (k = 0, 1, half, all but one) leaves every parameter unchanged and leaks nothing; a same-backend load needs no memory', async () => {
    const ref = await setBackend('reference');
    const flaky = flakyBackend(ref);
    registerBackend('flaky', () => flaky.backend);
    await setBackend('flaky');
    try {
      expect(currentBackend().name).toBe('flaky');
      const model = buildNet(digitNetConfig(1, [1, 1, 1, 1], 2));
      const before = new Map<string, number[]>();
      for (const [k, t] of model.stateDict()) before.set(k, Array.from(await t.data()));
      // A checkpoint with other values, on the same backend and (second pass) on another one.
      const onFlaky = new Map([...model.stateDict()].map(([k, t]) => [k, tensor(new Float32Array(t.size).fill(0.25), [...t.shape])]));
      await setBackend('reference');
      const onRef = new Map([...model.stateDict()].map(([k, t]) => [k, tensor(new Float32Array(t.size).fill(0.5), [...t.shape])]));
      await setBackend('flaky');
      const n = onFlaky.size;
      // From another backend every tensor is copied across first (one upload each): a failure at any point of
      // that phase leaves the model as it was.
      for (const k of [0, 1, Math.floor(n / 2), n - 1]) {
        const live = memory().tensors;
        flaky.setBudget(k);
        let err: unknown;
        try {
          model.loadStateDict(onRef);
        } catch (e) {
          err = e;
        }
        flaky.setBudget(Infinity);
        expect(err, `budget ${k}`).toBeInstanceOf(GpugradError);
        expect((err as Error).message).toMatch(new RegExp(`loadStateDict: could not copy ${n} tensors to 'flaky' \\(failed at '[\\w.]+', after ${k}\\); nothing was loaded: RangeError: WebAssembly\\.Memory\\.grow`));
        expect(memory().tensors, `budget ${k}`).toBe(live);
        for (const [key, t] of model.stateDict()) expect(Array.from(await t.data()), key).toEqual(before.get(key));
      }
      // On the same backend the values are copied into the existing storages: no memory is needed at all.
      flaky.setBudget(0);
      model.loadStateDict(onFlaky);
      flaky.setBudget(Infinity);
      expect(Array.from(await model.stateDict().get('fc.bias')!.data())).toEqual(new Array(10).fill(0.25));
      // With memory to spare the same loads succeed.
      model.loadStateDict(onRef);
      expect(Array.from(await model.stateDict().get('fc.bias')!.data())).toEqual(new Array(10).fill(0.5));
      for (const t of [...onFlaky.values(), ...onRef.values()]) t.dispose();
      model.dispose();
    } finally {
      await setBackend('reference');
    }
  });
});
