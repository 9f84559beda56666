// Fuzzes the public API with random op sequences, valid and invalid: on every backend each call must either
// agree with the reference backend (shape and values) or throw a GpugradError with a message.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { F, GpugradError, setBackend, tensor, tidy, type Backend, type Tensor } from '../src/index.js';
import * as G from '../src/index.js';
import { readyBackends, testBackends, type TestBackend } from './helpers/backends.js';

const ready = await readyBackends();

const CASES = Number(process.env.GPUGRAD_FUZZ_RUNS ?? 1000);

type Dims = number[];
const dimsArb = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 4 });

/** One step of a program: an op name plus raw random choices that the op interprets. */
interface Step {
  op: string;
  a: number;
  b: number;
  dims: Dims;
  ints: number[];
  flag: boolean;
}

const OPS = [
  'add', 'sub', 'mul', 'div', 'neg', 'exp', 'log', 'sqrt', 'abs', 'relu', 'pow',
  'sum', 'mean', 'max', 'reshape', 'permute', 'transpose', 'flatten', 'concat', 'slice', 'matmul',
  'conv2d', 'maxPool2d', 'avgPool2d', 'adaptiveAvgPool2d', 'batchNorm2d', 'linear', 'logSoftmax',
  'crossEntropy', 'mseLoss', 'expand', 'fresh',
  // issue #18's ops
  'argmax', 'clamp', 'where', 'maximum', 'var', 'stack', 'indexSelect', 'topk', 'sort', 'sigmoid', 'tanh', 'gelu',
  'softplus', 'pad', 'interpolate', 'convTranspose2d', 'layerNorm', 'groupNorm', 'crossEntropyOptions', 'l1Loss',
] as const;

const stepArb: fc.Arbitrary<Step> = fc.record({
  op: fc.constantFrom(...OPS),
  a: fc.nat(),
  b: fc.nat(),
  dims: dimsArb,
  ints: fc.array(fc.integer({ min: -2, max: 5 }), { minLength: 6, maxLength: 6 }),
  flag: fc.boolean(),
});

const programArb = fc.record({
  starts: fc.array(dimsArb, { minLength: 1, maxLength: 3 }),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 6 }),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
});

function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = Math.round(((s / 4294967296) * 4 - 2) * 64) / 64; // ties appear, as in real data
  }
  return out;
}

/** Applies one step to a pool of tensors on one backend; returns the new tensor. */
function apply(step: Step, pool: Tensor[], seed: number): Tensor {
  const x = pool[step.a % pool.length];
  const y = pool[step.b % pool.length];
  const [i0, i1, i2, i3, i4] = step.ints;
  switch (step.op) {
    case 'add': return G.add(x, y);
    case 'sub': return G.sub(x, y);
    case 'mul': return G.mul(x, step.flag ? y : i0);
    case 'div': return G.div(x, y);
    case 'neg': return G.neg(x);
    case 'exp': return G.exp(x);
    case 'log': return G.log(x);
    case 'sqrt': return G.sqrt(x);
    case 'abs': return G.abs(x);
    case 'relu': return G.relu(x);
    case 'pow': return G.pow(x, step.flag ? i0 : i0 / 2);
    case 'sum': return G.sum(x, step.flag ? undefined : i0, i1 > 0);
    case 'mean': return G.mean(x, step.flag ? undefined : [i0, i1], i2 > 0);
    case 'max': return G.max(x, step.flag ? undefined : i0, i1 > 0);
    case 'reshape': return G.reshape(x, step.flag ? [-1] : step.dims);
    case 'permute': return G.permute(x, step.ints.slice(0, x.rank).map((v) => ((v % Math.max(x.rank, 1)) + Math.max(x.rank, 1)) % Math.max(x.rank, 1)));
    case 'transpose': return G.transpose(x, i0, i1);
    case 'flatten': return G.flatten(x, i0, i1);
    case 'concat': return G.concat([x, y], i0);
    case 'slice': return G.slice(x, i0, i1, i2);
    case 'matmul': return G.matmul(x, y);
    case 'expand': return G.expand(x, step.dims);
    case 'conv2d': return F.conv2d(x, y, null, { stride: Math.max(1, i0), padding: Math.max(0, i1 % 2), dilation: Math.max(1, i2 % 3), groups: Math.max(1, i3 % 3) });
    case 'maxPool2d': return F.maxPool2d(x, { kernelSize: Math.max(1, i0 % 4), stride: Math.max(1, i1), padding: Math.max(0, i2 % 2), ceilMode: step.flag });
    case 'avgPool2d': return F.avgPool2d(x, { kernelSize: Math.max(1, i0 % 4), stride: Math.max(1, i1), padding: Math.max(0, i2 % 2), countIncludePad: step.flag });
    case 'adaptiveAvgPool2d': return F.adaptiveAvgPool2d(x, [Math.max(1, i0), Math.max(1, i1)]);
    case 'batchNorm2d': {
      const c = x.rank === 4 ? x.shape[1] : 1;
      const rm = tensor(values(c, seed), [c]);
      const rv = tensor(values(c, seed + 1).map((v) => Math.abs(v) + 0.5), [c]);
      return F.batchNorm2d(x, rm, rv, null, null, { training: step.flag });
    }
    case 'linear': return F.linear(x, y, null);
    case 'logSoftmax': return F.logSoftmax(x, i0);
    case 'crossEntropy': return F.crossEntropy(x, step.ints.slice(0, Math.max(0, x.shape[0] ?? 0)).map((v) => (i4 > 3 ? v + 0.5 : Math.abs(v) % 3)));
    case 'mseLoss': return F.mseLoss(x, y);
    case 'fresh': return tensor(values(step.dims.reduce((p, d) => p * d, 1), seed), step.dims);
    case 'argmax': return G.argmax(x, step.flag ? undefined : i0, i1 > 0);
    case 'clamp': return G.clamp(x, step.flag ? i0 / 2 : null, i1 / 2);
    case 'where': return G.where(G.gt(x, 0), x, step.flag ? y : i0);
    case 'maximum': return G.maximum(x, y);
    case 'var': return G.var(x, step.flag ? undefined : i0, { correction: Math.abs(i1) % 2, keepdim: i2 > 0 });
    case 'stack': return G.stack([x, y], i0);
    case 'indexSelect': return G.indexSelect(x, i0, [i1, i2, i3].map((v) => Math.abs(v)));
    case 'topk': return G.topk(x, Math.abs(i0), i1, { largest: step.flag })[i2 > 0 ? 1 : 0];
    case 'sort': return G.sort(x, i0, { descending: step.flag })[i1 > 0 ? 1 : 0];
    case 'sigmoid': return G.sigmoid(x);
    case 'tanh': return G.tanh(x);
    case 'gelu': return F.gelu(x, { approximate: step.flag ? 'tanh' : 'none' });
    case 'softplus': return F.softplus(x, { beta: Math.max(1, i0) });
    case 'pad': return F.pad(x, [i0, i1], { mode: (['constant', 'reflect', 'replicate'] as const)[Math.abs(i2) % 3] });
    case 'interpolate': return F.interpolate(x, { size: Math.max(1, i0), mode: step.flag ? 'bilinear' : 'nearest' });
    case 'convTranspose2d': return F.convTranspose2d(x, y, null, { stride: Math.max(1, i0), padding: Math.max(0, i1 % 2), outputPadding: Math.max(0, i2 % 2), groups: Math.max(1, i3 % 3) });
    case 'layerNorm': return F.layerNorm(x, x.shape.slice(Math.max(0, x.rank - 1 - (Math.abs(i0) % 2))));
    case 'groupNorm': return F.groupNorm(x, Math.max(1, i0));
    case 'crossEntropyOptions':
      return F.crossEntropy(x, step.ints.slice(0, Math.max(0, x.shape[0] ?? 0)).map((v) => Math.abs(v) % 3), { labelSmoothing: Math.abs(i4) / 10, ignoreIndex: i3, reduction: (['mean', 'sum', 'none'] as const)[Math.abs(i2) % 3] });
    case 'l1Loss': return F.l1Loss(x, y, { reduction: step.flag ? 'sum' : 'mean' });
    default: throw new Error(`unknown fuzz op ${step.op}`);
  }
}

// On a backend without synchronous reads (threaded gpu.js) `data` is the pending read, started at the call.
type Outcome = { ok: true; shape: readonly number[]; data: Float32Array | Promise<Float32Array> } | { ok: false; error: unknown };

function run(tb: TestBackend, starts: Dims[], steps: Step[], seed: number): Outcome[] {
  return tidy(() => {
    // Started in the test body, so selecting it again is synchronous.
    void setBackend(tb.name, tb.options ?? {});
    const pool = starts.map((d, i) => tensor(values(d.reduce((p, v) => p * v, 1), seed + i), d));
    const outs: Outcome[] = [];
    for (const step of steps) {
      try {
        const t = apply(step, pool, seed);
        pool.push(t);
        let data: Float32Array | Promise<Float32Array>;
        if (t.backend.readSync) data = t.dataSync();
        else {
          data = t.data();
          data.catch(() => undefined); // awaited by the check; a failed property stops before later steps
        }
        outs.push({ ok: true, shape: t.shape, data });
      } catch (error) {
        outs.push({ ok: false, error });
      }
    }
    return outs;
  });
}

function close(a: number, b: number, atol: number, rtol: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b || Math.abs(a) > 1e30 || Math.abs(b) > 1e30;
  return Math.abs(a - b) <= atol + rtol * Math.abs(b);
}

async function start(tb: TestBackend): Promise<Backend> {
  return setBackend(tb.name, tb.options ?? {});
}

describe.each(testBackends)('fuzz on $label', (tb) => {
  let tried = 0;
  let errors = 0;
  let compared = 0;
  afterAll(() => {
    console.log(`fuzz ${tb.label}: ${tried} cases, ${compared} results compared, ${errors} calls refused with a GpugradError`);
  });

  it.skipIf(!ready.has(tb))(`every call agrees with the reference or throws a GpugradError (${CASES} cases)`, async () => {
    const ref = await start(testBackends[0]);
    const target = await start(tb);
    const { atol, rtol } = tb.tolerance(64);
    await fc.assert(
      fc.asyncProperty(programArb, async ({ starts, steps, seed }) => {
        tried++;
        const want = run(testBackends[0], starts, steps, seed);
        const got = target === ref ? want : run(tb, starts, steps, seed);
        for (const [i, s] of steps.entries()) {
          const w = want[i];
          const g = got[i];
          for (const o of [w, g]) {
            if (!o.ok) {
              errors++;
              if (!(o.error instanceof GpugradError)) throw new Error(`step ${i} (${s.op}) threw a non-gpugrad error: ${String(o.error)}`);
              expect((o.error as GpugradError).message.length).toBeGreaterThan(s.op.length + 5);
            }
          }
          expect(g.ok, `step ${i} (${s.op}): one backend threw and the other did not`).toBe(w.ok);
          if (w.ok && g.ok) {
            compared++;
            expect(g.shape).toEqual(w.shape);
            const [gd, wd] = [await g.data, await w.data];
            for (let j = 0; j < wd.length; j++) {
              if (!close(gd[j], wd[j], atol, rtol)) throw new Error(`step ${i} (${s.op}) element ${j}: ${gd[j]} vs reference ${wd[j]}`);
            }
          }
        }
      }),
      { numRuns: CASES, seed: 42 },
    );
    // The comparison itself must have run, not only the refusals.
    expect(compared).toBeGreaterThan(0);
    await setBackend('reference');
  });
});
