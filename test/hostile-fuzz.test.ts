// Fuzz of the file readers with crafted (not merely damaged) inputs: fast-check builds .pth pickles from opcodes
// with hostile integer and string sizes, tensor views with hostile shapes, strides and offsets, PNG and JPEG headers,
// IDX headers and gzip streams, and gpugrad.config metadata. Every case runs under the guard: it must end in < 1 s
// with < 100 MB of extra peak RSS, either accepted (then within the stated limits) or refused with a GpugradError;
// a sample goes through the CLI, which must exit 1 with one line.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { GpugradError, readTorchStateDict, writeSafetensors, type Tensor } from '../src/index.js';
import { buildNet, countNetParameters, digitNetConfig, NET_LIMITS, readWeights, validateNetConfig } from '../src/cli/model.js';
import { readIdx } from '../src/data/idx.js';
import { decodeImage, encodePng } from '../src/io/image.js';
import { hasStack, runCli } from './helpers/cli-run.js';
import { concat, craftPth, idxHeader, jpegHeader, pk, pngHeader, stateDictPickle } from './helpers/craft.js';
import { guarded, REFUSE_MB, REFUSE_MS } from './helpers/guard.js';

const dir = mkdtempSync(join(tmpdir(), 'gpugrad-fuzz-'));
const stats = new Map<string, { n: number; refused: number; maxMs: number; maxMB: number }>();
afterAll(() => console.log(`hostile fuzz (cases, refused, slowest ms, largest peak-RSS growth MB):\n${[...stats].map(([k, s]) => `  ${k}: ${s.n}, ${s.refused}, ${s.maxMs.toFixed(1)}, ${s.maxMB.toFixed(1)}`).join('\n')}`));

/** Runs one crafted case under the guard; accepted results are disposed. */
async function check(kind: string, fn: () => unknown): Promise<void> {
  const g = await guarded(fn);
  const s = stats.get(kind) ?? { n: 0, refused: 0, maxMs: 0, maxMB: 0 };
  s.n++;
  s.maxMs = Math.max(s.maxMs, g.ms);
  s.maxMB = Math.max(s.maxMB, g.peakMB);
  stats.set(kind, s);
  if (g.error !== undefined) {
    if (!(g.error instanceof GpugradError)) throw g.error;
    s.refused++;
  }
  const v = g.value as { state?: Map<string, Tensor> } | Map<string, Tensor> | undefined;
  for (const t of (v instanceof Map ? v : v?.state)?.values() ?? []) t.dispose();
  expect(g.ms, `${kind}: ${g.ms.toFixed(0)} ms`).toBeLessThan(REFUSE_MS);
  expect(g.peakMB, `${kind}: ${g.peakMB.toFixed(0)} MB`).toBeLessThan(REFUSE_MB);
}

// ---- .pth ----

const hostileInt = fc.oneof(fc.integer({ min: -3, max: 6 }), fc.constantFrom(2 ** 31 - 1, 2 ** 32, 6e8, 1.2e9, 2 ** 40, 2 ** 53 - 1, -(2 ** 31)));
const view = fc.record({
  numel: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constantFrom(2 ** 31, 2 ** 40, 2 ** 53 - 1)),
  offset: hostileInt,
  shape: fc.array(hostileInt, { maxLength: 4 }),
  strideSeed: fc.array(hostileInt, { minLength: 4, maxLength: 4 }),
  bytes: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 300 })),
});

/** One pickle opcode with hostile arguments: declared sizes far beyond the bytes that follow. */
const opcode = fc.oneof(
  fc.constantFrom(pk.mark, pk.tuple, pk.emptyTuple, pk.emptyDict, pk.emptyList, pk.setitems, pk.reduce, pk.binpersid, pk.false, pk.stop, Uint8Array.of(0x65), Uint8Array.of(0x61), Uint8Array.of(0x73), Uint8Array.of(0x62), Uint8Array.of(0x85), Uint8Array.of(0x86), Uint8Array.of(0x87), Uint8Array.of(0x94), Uint8Array.of(0x4e), Uint8Array.of(0x6c), Uint8Array.of(0x64)),
  fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 40 })).map(([n, b]) => concat(Uint8Array.of(0x8a, n), b)), // LONG1
  fc.tuple(fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 2 ** 32 - 1 })), fc.uint8Array({ maxLength: 300 })).map(([n, b]) => concat(Uint8Array.of(0x8b), le(n), b)), // LONG4
  fc.tuple(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.uint8Array({ maxLength: 40 }), fc.constantFrom(0x58, 0x54, 0x42)).map(([n, b, op]) => concat(Uint8Array.of(op), le(n), b)), // BINUNICODE, BINSTRING, BINBYTES
  fc.tuple(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(0x8d, 0x8e)).map(([n, op]) => {
    const b = new Uint8Array(9);
    b[0] = op;
    new DataView(b.buffer).setBigUint64(1, n, true);
    return b;
  }), // BINUNICODE8, BINBYTES8
  fc.string({ maxLength: 12 }).map((s) => pk.str(s)),
  fc.integer().map((v) => pk.int(v)),
  fc.tuple(fc.constantFrom(0x68, 0x71), fc.integer({ min: 0, max: 255 })).map(([op, i]) => Uint8Array.of(op, i)), // BINGET, BINPUT
  fc.tuple(fc.constantFrom('torch', 'collections', 'torch._utils', 'os', 'builtins'), fc.constantFrom('FloatStorage', 'OrderedDict', '_rebuild_tensor_v2', 'system', 'eval', 'getattr')).map(([m, n]) => pk.global(m, n)),
  fc.uint8Array({ minLength: 1, maxLength: 4 }),
);
function le(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

describe('crafted .pth files', () => {
  it('tensor views with hostile sizes, strides, offsets and storage sizes', async () => {
    await fc.assert(
      fc.asyncProperty(view, async (v) => {
        const stride = v.shape.map((_, i) => v.strideSeed[i]);
        const present = v.bytes < 0 ? Math.min(4 * Math.max(0, v.numel), 4096) : v.bytes;
        await check('pth views', () => readTorchStateDict(craftPth(stateDictPickle([{ name: 'w', key: '0', numel: v.numel, offset: v.offset, shape: v.shape, stride }]), { '0': present })));
      }),
      { numRuns: 300 },
    );
  });

  it('opcode streams with hostile integer and string sizes, in the zip and the legacy format', async () => {
    const legacy = Uint8Array.of(0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19);
    await fc.assert(
      fc.asyncProperty(fc.array(opcode, { maxLength: 40 }), fc.boolean(), async (ops, zip) => {
        const pickle = concat(pk.proto, ...ops, pk.stop);
        await check('pth opcodes', () => readTorchStateDict(zip ? craftPth(pickle, { '0': 64 }) : concat(legacy, pk.stop, pickle, pickle)));
      }),
      { numRuns: 500 },
    );
  });
});

// ---- images ----

describe('crafted images', () => {
  it('PNG headers of any size, with junk, short, oversized or missing image data', async () => {
    const data = fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 1 << 20 }).map((n) => deflateSync(new Uint8Array(n))));
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 2 ** 32 - 1 })), fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 2 ** 32 - 1 })), data, fc.boolean(), fc.constantFrom(0, 2, 3, 4, 6, 9), fc.constantFrom(1, 8, 16, 0), async (w, h, idat, interlace, color, depth) => {
        const png = pngHeader(w, h, idat);
        png[24] = depth;
        png[25] = color;
        png[28] = interlace ? 1 : 0;
        await check('PNG', () => decodeImage(png, 'fuzz.png'));
      }),
      { numRuns: 200 },
    );
  });

  it('JPEG start-of-frame markers of any size, followed by junk (decoded within a small pixel limit)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }), fc.constantFrom(0xc0, 0xc1, 0xc2, 0xc3), fc.uint8Array({ maxLength: 300 }), async (w, h, sof, junk) => {
        const jpg = jpegHeader(w, h, sof);
        const bytes = concat(jpg.subarray(0, jpg.length - 2), junk);
        // The default limit (2^25 pixels) bounds the decoder's buffers at ~0.5 GB: within it, jpeg-js allocates its
        // coefficient planes from the frame header, so the fuzz decodes under a 2^20-pixel limit.
        await check('JPEG', () => decodeImage(bytes, 'fuzz.jpg', { maxPixels: w * h > 2 ** 25 ? undefined : 2 ** 20 }));
      }),
      { numRuns: 150 },
    );
  });
});

// ---- IDX ----

describe('crafted IDX files', () => {
  it('headers with hostile ranks and dims, plain or gzipped, with short, long or inflating data', async () => {
    const dims = fc.array(fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 2 ** 32 - 1 })), { maxLength: 5 });
    await fc.assert(
      fc.asyncProperty(dims, fc.integer({ min: 0, max: 8 << 20 }), fc.constantFrom('plain', 'gzip', 'gzip-cut'), fc.integer({ min: 0, max: 255 }), async (d, zeros, form, type) => {
        const raw = idxHeader(d, zeros <= 1 << 16 || form === 'plain' ? new Uint8Array(Math.min(zeros, 1 << 16)) : new Uint8Array(0));
        raw[2] = type === 8 || type > 200 ? 8 : type;
        let bytes: Uint8Array = raw;
        if (form !== 'plain') {
          bytes = zeros > 1 << 16 ? concat(gzipSync(raw), gzipSync(new Uint8Array(zeros))) : gzipSync(raw);
          if (form === 'gzip-cut') bytes = bytes.subarray(0, Math.max(2, bytes.length - 7));
        }
        await check('IDX', () => readIdx(bytes, 'fuzz-idx'));
      }),
      { numRuns: 150 },
    );
  });
});

// ---- gpugrad.config ----

const base = digitNetConfig(1, [1, 1, 1, 1], 2);
const hostileValue = fc.oneof(
  fc.constantFrom(undefined, null, 'abc', '', true, -1, 0, 1.5, 1e9, 2 ** 53, Number.MAX_VALUE, [], {}, [1, 2, 3, 4], [0, 0, 0, 0], [3000, 3000, 3000, 3000], [1e9, 1e9, 1e9, 1e9]),
  fc.integer(),
  fc.double(),
  fc.array(fc.oneof(fc.integer({ min: -5, max: 5000 }), fc.double(), fc.string({ maxLength: 3 })), { maxLength: 6 }),
  fc.string({ maxLength: 8 }),
);

describe('crafted gpugrad.config metadata', () => {
  it('any field replaced by a hostile value is refused or within the limits, before a model is built', async () => {
    const keys = Object.keys(base);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(...keys, 'extra'), hostileValue), { maxLength: 4 }), async (edits) => {
        const raw: Record<string, unknown> = { ...base };
        for (const [k, v] of edits) raw[k] = v;
        await check('config', () => {
          const c = validateNetConfig(JSON.parse(JSON.stringify(raw)) as unknown, 'fuzz');
          expect(countNetParameters(c)).toBeLessThanOrEqual(NET_LIMITS.parameters);
          expect(c.layers.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(NET_LIMITS.blocks);
          return c;
        });
      }),
      { numRuns: 300 },
    );
  });

  it('whole-config values of any JSON type through readWeights', async () => {
    const model = buildNet(base);
    const tensors = model.stateDict();
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 2 }), async (config) => {
        const p = join(dir, 'config.safetensors');
        writeFileSync(p, writeSafetensors(tensors, { metadata: { 'gpugrad.config': JSON.stringify(config) } }));
        await check('config file', () => readWeights(p));
      }),
      { numRuns: 60 },
    );
    model.dispose();
  });
});

// ---- the CLI ----

describe('the CLI on crafted files', () => {
  it('a sample of crafted weights and images: exit 1, one line', async () => {
    const png = join(dir, 'ok.png');
    writeFileSync(png, encodePng(new Float32Array(784).fill(0.5), 28, 28));
    const samples = fc.sample(fc.tuple(view, fc.array(opcode, { maxLength: 30 }), fc.integer({ min: 6000, max: 65535 }), hostileValue), { numRuns: 2, seed: 15 });
    const cases: string[][] = [];
    samples.forEach(([v, ops, side, value], i) => {
      const pth = join(dir, `v${i}.pth`);
      writeFileSync(pth, craftPth(stateDictPickle([{ name: 'conv1.weight', key: '0', numel: v.numel, offset: v.offset, shape: v.shape.length ? v.shape : [-1], stride: v.shape.length ? v.shape.map((_, d) => v.strideSeed[d]) : [1] }]), { '0': 16 }));
      const ops_ = join(dir, `o${i}.pth`);
      writeFileSync(ops_, craftPth(concat(pk.proto, ...ops, pk.long4(1 << 16), pk.stop)));
      const img = join(dir, `big${i}.png`);
      writeFileSync(img, pngHeader(side, side, deflateSync(new Uint8Array(32))));
      const cfg = join(dir, `c${i}.safetensors`);
      const m = buildNet(base);
      writeFileSync(cfg, writeSafetensors(m.stateDict(), { metadata: { 'gpugrad.config': JSON.stringify({ ...base, widths: value ?? 'none' }) } }));
      m.dispose();
      cases.push(['predict', '--weights', pth, png], ['predict', '--weights', ops_, png], ['predict', '--weights', cfg, img], ['predict', '--weights', cfg, png]);
    });
    for (let i = 0; i < cases.length; i += 2) {
      const rs = await Promise.all(cases.slice(i, i + 2).map((args) => runCli(args, 60_000)));
      for (const r of rs) {
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
        expect(r.stderr).not.toMatch(/internal error/);
        expect(hasStack(r.stderr)).toBe(false);
      }
    }
  }, 300_000);
});
