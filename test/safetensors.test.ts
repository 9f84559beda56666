// safetensors I/O: byte-exact round trips, files written independently (numpy) in F32/F16/BF16/I64/F64,
// a clear error for each kind of corruption, atomic saves, and a fuzz of corrupted headers that only ever
// throws GpugradError and never half-loads a model.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  GpugradError,
  loadSafetensors,
  nn,
  parseSafetensorsHeader,
  readSafetensors,
  readSafetensorsMetadata,
  saveSafetensors,
  tensor,
  writeSafetensors,
  type Tensor,
} from '../src/node.js';
import { errorOf } from './helpers/errors.js';

const fixtures = new URL('./fixtures/resnet/', import.meta.url);

/** Builds a file by hand: header object (serialised as given) + data bytes. */
function file(header: unknown, data: Uint8Array = new Uint8Array(0), lengthOverride?: number): Uint8Array {
  const h = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setUint32(0, lengthOverride ?? h.length, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function f32bytes(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

class Small extends nn.Module {
  readonly conv = this.registerModule('conv', new nn.Conv2d(2, 3, 3, { bias: false }));
  readonly bn = this.registerModule('bn', new nn.BatchNorm2d(3));
  readonly fc = this.registerModule('fc', new nn.Linear(3, 2));
  forward(x: Tensor): Tensor {
    return this.fc.forward(this.bn.forward(this.conv.forward(x)).mean([2, 3]));
  }
}

async function snapshot(m: nn.Module): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const [k, t] of m.stateDict()) out.set(k, Array.from(await t.data()));
  return out;
}

const tmp = mkdtempSync(join(tmpdir(), 'gpugrad-st-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('safetensors round trip', () => {
  it('write → read → write is byte-exact, keeps order, shapes and values; num_batches_tracked goes out as I64', async () => {
    const m = new Small();
    const bytes = writeSafetensors(m.stateDict(), { metadata: { format: 'pt' } });
    const h = parseSafetensorsHeader(bytes);
    expect(h.entries.map((e) => e.name)).toEqual([...m.stateDict().keys()]);
    expect(h.entries.find((e) => e.name === 'bn.num_batches_tracked')!.dtype).toBe('I64');
    expect(h.entries.find((e) => e.name === 'conv.weight')!.dtype).toBe('F32');
    expect(h.dataStart % 8).toBe(0);
    expect(readSafetensorsMetadata(bytes)).toEqual({ format: 'pt' });
    const back = readSafetensors(bytes);
    expect([...back.keys()]).toEqual([...m.stateDict().keys()]);
    for (const [k, t] of m.stateDict()) {
      expect(back.get(k)!.shape).toEqual(t.shape);
      expect(Array.from(await back.get(k)!.data())).toEqual(Array.from(await t.data()));
    }
    const again = writeSafetensors(back, { metadata: { format: 'pt' } });
    expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
  });

  it('keeps integer-like names in the given order (JS objects would hoist them)', () => {
    const map = new Map([['b', tensor([1])], ['10', tensor([2, 3])], ['2', tensor([4])]]);
    const bytes = writeSafetensors(map);
    expect([...readSafetensors(bytes).keys()]).toEqual(['b', '10', '2']);
    expect(Buffer.from(writeSafetensors(readSafetensors(bytes))).equals(Buffer.from(bytes))).toBe(true);
  });

  it('keeps the written order of empty tensors, which share an offset (CI counterexample)', () => {
    const map = new Map([[' ', tensor([], [0])], ['0', tensor([], [0])], ['a"\\{', tensor([], [2, 0])], ['1', tensor([5])]]);
    const bytes = writeSafetensors(map);
    expect([...readSafetensors(bytes).keys()]).toEqual([' ', '0', 'a"\\{', '1']);
    expect(Buffer.from(writeSafetensors(readSafetensors(bytes))).equals(Buffer.from(bytes))).toBe(true);
  });

  it('property: any tensors round-trip byte-exactly (F32, F16 and BF16 writers)', () => {
    const entry = fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }));
    fc.assert(
      fc.property(fc.uniqueArray(entry, { selector: (e) => e[0], maxLength: 5 }), fc.constantFrom('F32' as const, 'F16' as const, 'BF16' as const), fc.integer(), (entries, dtype, seed) => {
        fc.pre(entries.every(([n]) => n !== '__metadata__'));
        let s = seed;
        const map = new Map<string, Tensor>(
          entries.map(([n, shape]) => {
            const size = shape.reduce((a, b) => a * b, 1);
            const d = Array.from({ length: size }, () => ((s = (s * 1103515245 + 12345) | 0) % 1000) / 7);
            return [n, tensor(d, shape)];
          }),
        );
        const a = writeSafetensors(map, { dtype, int64: () => false });
        const b = writeSafetensors(readSafetensors(a), { dtype, int64: () => false });
        expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('F16 and BF16 writers round to nearest even', async () => {
    const vals = [1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520, 1e-8, -0, 2 ** -24, 3 * 2 ** -25];
    const h = readSafetensors(writeSafetensors(new Map([['x', tensor(vals)]]), { dtype: 'F16' }));
    expect(Array.from(await h.get('x')!.data())).toEqual([1, 1 + 2 * 2 ** -10, Infinity, 0, -0, 2 ** -24, 2 * 2 ** -24]);
    const bvals = [1 + 2 ** -8, 1 + 3 * 2 ** -8];
    const b = readSafetensors(writeSafetensors(new Map([['x', tensor(bvals)]]), { dtype: 'BF16' }));
    expect(Array.from(await b.get('x')!.data())).toEqual([1, 1 + 2 * 2 ** -7]);
  });

  it('reads a file written independently by numpy: F32, F16, BF16, I64 and F64', async () => {
    const bytes = new Uint8Array(readFileSync(new URL('dtypes.safetensors', fixtures)));
    const want = JSON.parse(readFileSync(new URL('dtypes.json', fixtures), 'utf8')) as Record<string, number[]>;
    const got = readSafetensors(bytes);
    expect([...got.keys()].sort()).toEqual(Object.keys(want).sort());
    for (const [k, v] of Object.entries(want)) expect(Array.from(await got.get(k)!.data())).toEqual(v.map((x) => Math.fround(x)));
    expect(got.get('f32')!.shape).toEqual([2, 5]);
    expect(got.get('layer.num_batches_tracked')!.shape).toEqual([]);
  });

  it('loads a torch-style state dict (I64 num_batches_tracked) into a model, and saves atomically', async () => {
    const a = new Small();
    const b = new Small();
    a.bn.numBatchesTracked!.assign(tensor(7, []));
    const path = join(tmp, 'small.safetensors');
    await saveSafetensors(path, a.stateDict());
    expect(readdirSync(tmp)).toEqual(['small.safetensors']);
    b.loadStateDict(await loadSafetensors(path));
    expect(await snapshot(b)).toEqual(await snapshot(a));
    expect(await b.bn.numBatchesTracked!.item()).toBe(7);
    await expect(saveSafetensors(join(tmp, 'no-such-dir', 'x.safetensors'), a.stateDict())).rejects.toBeInstanceOf(GpugradError);
    expect(readdirSync(tmp)).toEqual(['small.safetensors']);
    await expect(loadSafetensors(join(tmp, 'missing.safetensors'))).rejects.toThrow(/cannot read/);
  });
});

describe('safetensors rejects bad files with a clear error', () => {
  const good = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const data = f32bytes([1, 2]);

  it('truncated below the length field', () => {
    expect(errorOf(() => readSafetensors(new Uint8Array(5))).message).toMatch(/truncated file: 5 bytes/);
  });
  it('header length past the end', () => {
    expect(errorOf(() => readSafetensors(file(good, data, 10_000))).message).toMatch(/header length 10000 runs past the end/);
    const huge = file(good, data);
    new DataView(huge.buffer).setUint32(4, 1, true);
    expect(errorOf(() => readSafetensors(huge)).message).toMatch(/runs past the end/);
  });
  it('truncated data section', () => {
    const f = file(good, data);
    expect(errorOf(() => readSafetensors(f.subarray(0, f.length - 3))).message).toMatch(/out of range of the 5-byte data section/);
  });
  it('trailing bytes after the last tensor', () => {
    expect(errorOf(() => readSafetensors(file(good, f32bytes([1, 2, 3])))).message).toMatch(/cover 8 bytes but the data section holds 12/);
  });
  it('header that is not JSON, not an object, or not UTF-8', () => {
    expect(errorOf(() => readSafetensors(file('{"a": ', data))).message).toMatch(/not valid UTF-8 JSON/);
    expect(errorOf(() => readSafetensors(file('[1,2]', data))).message).toMatch(/must be a JSON object/);
    const bad = file('{"a":1}  ');
    bad[9] = 0xff;
    expect(errorOf(() => readSafetensors(bad)).message).toMatch(/not valid UTF-8/);
  });
  it('overlapping offsets', () => {
    const h = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } };
    expect(errorOf(() => readSafetensors(file(h, data))).message).toMatch(/tensor 'b': data_offsets \[4, 8\] overlap tensor 'a'/);
  });
  it('out-of-range and reversed offsets, and gaps', () => {
    const out = { a: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } };
    expect(errorOf(() => readSafetensors(file(out, data))).message).toMatch(/\[4, 12\] are out of range of the 8-byte data section/);
    const rev = { a: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } };
    expect(errorOf(() => readSafetensors(file(rev, data))).message).toMatch(/end before they begin/);
    const gap = { a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } };
    expect(errorOf(() => readSafetensors(file(gap, data))).message).toMatch(/leave a gap after byte 0/);
  });
  it('unknown dtypes', () => {
    const h = { a: { dtype: 'Q4_K', shape: [2], data_offsets: [0, 8] } };
    expect(errorOf(() => readSafetensors(file(h, data))).message).toMatch(/tensor 'a': unknown or unsupported dtype "Q4_K"/);
  });
  it('shape and byte length that disagree', () => {
    const h = { a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } };
    expect(errorOf(() => readSafetensors(file(h, data))).message).toMatch(/shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] hold 8/);
    const neg = { a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } };
    expect(errorOf(() => readSafetensors(file(neg, data))).message).toMatch(/shape must be an array of non-negative integers/);
  });
  it('bad metadata and malformed entries', () => {
    expect(errorOf(() => readSafetensors(file({ __metadata__: { v: 1 }, ...good }, data))).message).toMatch(/__metadata__\['v'\] must be a string/);
    expect(errorOf(() => readSafetensors(file({ a: { dtype: 'F32', shape: [2] } }, data))).message).toMatch(/data_offsets must be/);
    expect(errorOf(() => readSafetensors(file({ a: 5 }, data))).message).toMatch(/entry must be an object/);
  });
  it('writer refuses non-integer I64 values and repeated or reserved names', () => {
    expect(errorOf(() => writeSafetensors(new Map([['bn.num_batches_tracked', tensor(0.5, [])]]))).message).toMatch(/non-integer 0.5/);
    expect(errorOf(() => writeSafetensors(new Map([['__metadata__', tensor([1])]]))).message).toMatch(/reserved or repeated/);
  });
});

describe('corrupted files never crash or half-load a model (fuzz)', () => {
  it('flipping, truncating or rewriting header bytes gives a full load or a GpugradError with the model unchanged', async () => {
    const src = new Small();
    const good = writeSafetensors(src.stateDict());
    const headerLen = new DataView(good.buffer).getUint32(0, true);
    const target = new Small();
    // The target holds src's values before every run (a successful load is undone after it).
    target.loadStateDict(src.stateDict());
    const before = await snapshot(target);
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('byte' as const), at: fc.integer({ min: 0, max: 8 + headerLen - 1 }), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.integer({ min: 0, max: good.length - 1 }), value: fc.constant(0) }),
      fc.record({ kind: fc.constant('digit' as const), at: fc.integer({ min: 8, max: 8 + headerLen - 1 }), value: fc.integer({ min: 0, max: 9 }) }),
    );
    let loaded = 0;
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (ms) => {
        let bytes = good.slice();
        for (const m of ms) {
          if (m.kind === 'cut') bytes = bytes.slice(0, Math.min(m.at, bytes.length));
          else if (m.at < bytes.length) {
            // 'digit' rewrites only digits, which mostly keeps the JSON valid and moves offsets and shapes.
            if (m.kind === 'byte' || (bytes[m.at] >= 0x30 && bytes[m.at] <= 0x39)) bytes[m.at] = m.kind === 'byte' ? m.value : 0x30 + m.value;
          }
        }
        let map: Map<string, Tensor> | null = null;
        try {
          map = readSafetensors(bytes);
          target.loadStateDict(map);
          loaded++;
          // The model now holds exactly the file's values.
          const got = await snapshot(target);
          for (const [k, t] of map) expect(got.get(k), k).toEqual(Array.from(await t.data()));
          // A full load: every key was assigned; restore for the next run.
          target.loadStateDict(src.stateDict());
        } catch (e) {
          if (!(e instanceof GpugradError)) throw e;
          rejected++;
          expect(await snapshot(target)).toEqual(before);
        } finally {
          if (map) for (const t of map.values()) t.dispose();
        }
      }),
      { numRuns: 300 },
    );
    // Both outcomes must have been exercised: refusals, and full loads of files that stayed valid.
    expect(rejected).toBeGreaterThan(0);
    expect(loaded).toBeGreaterThan(0);
    console.log(`safetensors fuzz: ${loaded} loaded, ${rejected} refused`);
  });
});
