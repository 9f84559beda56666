// gpugrad against PyTorch for the ops and F functions of issue #18: the fixtures that scripts/fixtures_ops_api.py
// wrote from torch 1.13 (values of every output, gradients of the inputs), on every test backend.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import * as G from '../src/index.js';
import { F, memory, mul, sum, tensor, tidyAsync, type Tensor } from '../src/index.js';
import { availableBackends, testBackends, useBackend } from './helpers/backends.js';
import { expectAllClose } from './helpers/fd.js';
import type { Arr } from './helpers/oracle.js';

interface Fx {
  shape: number[];
  /** NaN and ±Infinity arrive as the strings 'NaN', 'Infinity', '-Infinity' (JSON has no such numbers). */
  data: (number | string)[];
}
interface FixtureCase {
  name: string;
  op: string;
  params: Record<string, unknown>;
  inputs: Record<string, Fx>;
  outputs: Fx[];
  k: number;
  R?: (Fx | null)[];
  grads?: Record<string, Fx>;
}

const dir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'ops-api');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
const cases: [string, FixtureCase][] = files.flatMap((f) => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { cases: FixtureCase[] }).cases.map((c): [string, FixtureCase] => [`${c.op}: ${c.name}`, c]));
const backends = await availableBackends(testBackends);

const num = (v: number | string): number => (typeof v === 'number' ? v : Number(v));
const values = (f: Fx): Float32Array => Float32Array.from(f.data, num);
const want = (f: Fx): Arr => ({ shape: f.shape, data: Float64Array.from(f.data, (v) => Math.fround(num(v))) });
type Out = Tensor | Tensor[];
type Runner = (t: Record<string, Tensor>, p: Record<string, unknown>) => Out;
const n = (v: unknown): number => v as number;
const opt = <T>(v: unknown): T | undefined => (v === null ? undefined : (v as T));
const red = (p: Record<string, unknown>): { reduction?: F.Reduction } => (p.reduction ? { reduction: p.reduction as F.Reduction } : {});

/** The gpugrad call of each fixture op (free function or method, as the case names it). */
const runners: Record<string, Runner> = {
  argmax: (t, p) => (p.dim === null ? G.argmax(t.x) : G.argmax(t.x, n(p.dim), p.keepdim as boolean)),
  argmin: (t, p) => (p.dim === null ? t.x.argmin() : t.x.argmin(n(p.dim), p.keepdim as boolean)),
  min: (t, p) => (p.dim === null ? G.min(t.x) : t.x.min(n(p.dim), p.keepdim as boolean)),
  amax: (t, p) => t.x.amax(p.dim as number[], p.keepdim as boolean),
  amin: (t, p) => G.amin(t.x, p.dim as number[], p.keepdim as boolean),
  var: (t, p) => (p.dim === null ? G.var(t.x, { correction: n(p.correction), keepdim: p.keepdim as boolean }) : t.x.var(p.dim as number, { correction: n(p.correction), keepdim: p.keepdim as boolean })),
  std: (t, p) => (p.dim === null ? t.x.std({ correction: n(p.correction), keepdim: p.keepdim as boolean }) : G.std(t.x, p.dim as number, { correction: n(p.correction), keepdim: p.keepdim as boolean })),
  clamp: (t, p) => (p.max === null ? t.x.clamp(n(p.min)) : G.clamp(t.x, p.min as number | null, n(p.max))),
  clampT: (t) => G.clamp(t.x, t.lo, t.hi),
  where: (t) => G.where(t.cond, t.a, t.b),
  lt: (t) => G.lt(t.a, t.b),
  le: (t) => t.a.le(t.b),
  ge: (t) => G.ge(t.a, t.b),
  ne: (t) => t.a.ne(t.b),
  ltScalar: (t, p) => t.a.lt(n(p.b)),
  leScalar: (t, p) => G.le(t.a, n(p.b)),
  geScalar: (t, p) => t.a.ge(n(p.b)),
  neScalar: (t, p) => G.ne(t.a, n(p.b)),
  maximum: (t) => G.maximum(t.a, t.b),
  minimum: (t) => t.a.minimum(t.b),
  stack: (t, p) => G.stack([t.a, t.b, t.c], n(p.dim)),
  cat: (t, p) => G.cat([t.a, t.b], n(p.dim)),
  split: (t, p) => t.x.split(p.sizes as number | number[], n(p.dim)),
  chunk: (t, p) => G.chunk(t.x, n(p.chunks), n(p.dim)),
  gather: (t, p) => t.x.gather(n(p.dim), t.index),
  indexSelect: (t, p) => G.indexSelect(t.x, n(p.dim), tensor(p.index as number[])),
  t: (t) => t.x.t(),
  T: (t) => t.x.T,
  transpose: (t, p) => t.x.transpose(n(p.d0), n(p.d1)),
  squeeze: (t, p) => t.x.squeeze(n(p.dim)),
  unsqueeze: (t, p) => t.x.unsqueeze(n(p.dim)),
  softmaxM: (t, p) => t.x.softmax(n(p.dim)),
  sigmoidM: (t) => t.x.sigmoid(),
  tanhM: (t) => t.x.tanh(),
  clone: (t) => t.x.clone(),
  sort: (t, p) => [...G.sort(t.x, n(p.dim), { descending: p.descending as boolean })],
  argsort: (t, p) => t.x.argsort(n(p.dim), { descending: p.descending as boolean }),
  topk: (t, p) => [...t.x.topk(n(p.k), n(p.dim), { largest: p.largest as boolean })],
  oneHot: (_t, p) => {
    const labels = tensor(p.labels as number[], p.shape as number[]);
    // Inferring the class count reads the labels: refused on a backend that cannot read synchronously.
    if (n(p.numClasses) === -1 && !labels.backend.readSync) {
      expect(() => G.oneHot(labels)).toThrow(/numClasses must be given/);
      return G.oneHot(labels, Math.max(...(p.labels as number[])) + 1);
    }
    return G.oneHot(labels, n(p.numClasses));
  },
  add_: (t, p) => t.x.add_(t.y, { alpha: n(p.alpha) }),
  sub_: (t) => t.x.sub_(t.y),
  mul_: (t) => t.x.mul_(t.y),
  div_: (t) => t.x.div_(t.y),
  clamp_: (t, p) => t.x.clamp_(n(p.min), n(p.max)),
  copy_: (t) => t.x.copy_(t.y),
  fill_: (t, p) => t.x.fill_(n(p.value)),
  zero_: (t) => t.x.zero_(),
  eye: (_t, p) => G.eye(n(p.n), opt<number>(p.m)),
  arange: (_t, p) => G.arange(n(p.start), n(p.end), n(p.step)),
  linspace: (_t, p) => G.linspace(n(p.start), n(p.end), n(p.steps)),
  'F.softmax': (t, p) => F.softmax(t.x, n(p.dim)),
  'F.sigmoid': (t) => F.sigmoid(t.x),
  'F.tanh': (t) => F.tanh(t.x),
  'F.gelu': (t, p) => F.gelu(t.x, { approximate: p.approximate as 'none' | 'tanh' }),
  'F.silu': (t) => F.silu(t.x),
  'F.leakyRelu': (t, p) => F.leakyRelu(t.x, n(p.slope)),
  'F.relu6': (t) => F.relu6(t.x),
  'F.hardtanh': (t, p) => F.hardtanh(t.x, n(p.min), n(p.max)),
  'F.softplus': (t, p) => F.softplus(t.x, { beta: n(p.beta), threshold: n(p.threshold) }),
  'F.elu': (t, p) => F.elu(t.x, n(p.alpha)),
  'F.dropout': (t, p) => F.dropout(t.x, n(p.p), p.training as boolean),
  'F.pad': (t, p) => F.pad(t.x, p.pads as number[], p.mode === 'constant' ? { mode: 'constant', value: n(p.value) } : { mode: p.mode as 'reflect' }),
  'F.interpolate': (t, p) =>
    F.interpolate(t.x, {
      mode: p.mode as 'nearest',
      ...(p.size !== null ? { size: p.size as number[] } : { scaleFactor: n(p.scaleFactor) }),
      ...(p.alignCorners !== null ? { alignCorners: p.alignCorners as boolean } : {}),
    }),
  'F.convTranspose2d': (t, p) =>
    F.convTranspose2d(t.x, t.weight, t.bias ?? null, {
      stride: p.stride as [number, number],
      padding: p.padding as [number, number],
      outputPadding: p.outputPadding as [number, number],
      groups: n(p.groups),
      dilation: p.dilation as [number, number],
    }),
  'F.layerNorm': (t, p) => F.layerNorm(t.x, p.shape as number[], t.weight ?? null, t.bias ?? null, n(p.eps)),
  'F.groupNorm': (t, p) => F.groupNorm(t.x, n(p.groups), t.weight ?? null, t.bias ?? null, n(p.eps)),
  'F.normalize': (t, p) => F.normalize(t.x, { p: n(p.p), dim: n(p.dim) }),
  'F.mseLoss': (t, p) => F.mseLoss(t.x, t.target, red(p)),
  'F.l1Loss': (t, p) => F.l1Loss(t.x, t.target, red(p)),
  'F.smoothL1Loss': (t, p) => F.smoothL1Loss(t.x, t.target, { ...red(p), beta: n(p.beta) }),
  'F.binaryCrossEntropy': (t, p) => F.binaryCrossEntropy(t.x, t.target, red(p)),
  'F.binaryCrossEntropyW': (t, p) => F.binaryCrossEntropy(t.x, t.target, { ...red(p), weight: t.weight }),
  'F.bceWithLogits': (t, p) => F.binaryCrossEntropyWithLogits(t.x, t.target, red(p)),
  'F.bceWithLogitsW': (t, p) => F.binaryCrossEntropyWithLogits(t.x, t.target, { ...red(p), weight: t.weight, posWeight: t.posWeight }),
  'F.nllLoss': (t, p) => F.nllLoss(t.x, t.target, { ...red(p), ignoreIndex: n(p.ignoreIndex) }),
  'F.nllLossW': (t, p) => F.nllLoss(t.x, t.target, { ...red(p), ignoreIndex: n(p.ignoreIndex), weight: t.weight }),
  'F.crossEntropy': (t, p) =>
    F.crossEntropy(t.x, t.target, {
      ...red(p),
      ...(p.weight ? { weight: t.weight } : {}),
      ...(p.labelSmoothing !== null ? { labelSmoothing: n(p.labelSmoothing) } : {}),
      ...(p.ignoreIndex !== null ? { ignoreIndex: n(p.ignoreIndex) } : {}),
    }),
};

it('the fixtures are present and every fixture op has a runner', () => {
  expect(cases.length).toBeGreaterThanOrEqual(150);
  for (const [label, c] of cases) expect(runners[c.op], label).toBeDefined();
});

describe.each(backends)('PyTorch fixtures (issue #18 ops) on $label', (tb) => {
  beforeEach(async () => {
    await useBackend(tb);
  });

  it.each(cases)('%s', async (_label, c) => {
    const before = memory().tensors;
    await tidyAsync(async () => {
      const grads = new Set(Object.keys(c.grads ?? {}));
      const t: Record<string, Tensor> = {};
      for (const [k, v] of Object.entries(c.inputs)) t[k] = tensor(values(v), v.shape, { requiresGrad: grads.has(k) });
      const out = runners[c.op](t, c.params);
      const ys = Array.isArray(out) ? out : [out];
      expect(ys.length, 'number of outputs').toBe(c.outputs.length);
      const tol = tb.tolerance(c.k);
      for (let i = 0; i < ys.length; i++) expectAllClose(`${c.op} '${c.name}' output ${i} on ${tb.label}`, await ys[i].data(), ys[i].shape, want(c.outputs[i]), tol);
      if (!c.R || !c.grads) return;
      let total: Tensor | null = null;
      c.R.forEach((r, i) => {
        if (!r) return;
        const term = sum(mul(ys[i], tensor(values(r), r.shape)));
        total = total ? G.add(total, term) : term;
      });
      (total as unknown as Tensor).backward();
      const gtol = tb.tolerance(Math.max(c.k, ...c.outputs.map((o) => o.data.length)));
      for (const [name, fx] of Object.entries(c.grads)) {
        const g = t[name].grad;
        const got = g ? await g.data() : new Float32Array(fx.data.length);
        expectAllClose(`${c.op} '${c.name}' gradient of ${name} on ${tb.label}${g ? '' : ' (none computed)'}`, got, g ? g.shape : fx.shape, want(fx), gtol);
      }
    });
    expect(memory().tensors).toBe(before);
  });
});
