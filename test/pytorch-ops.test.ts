// gpugrad against PyTorch: the fixtures that scripts/fixtures_ops.py wrote from torch 1.13 (conv2d,
// batch norm, pools, cross entropy, and unfold/linear/softmaxes/MSE; forward, gradients, running statistics),
// on every test backend.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import { F, memory, mul, sum, tensor, tidyAsync, type Tensor } from '../src/index.js';
import { availableBackends, testBackends, useBackend } from './helpers/backends.js';
import { expectAllClose } from './helpers/fd.js';
import type { Arr } from './helpers/oracle.js';

interface Fx {
  shape: number[];
  data: number[];
}
interface FixtureCase {
  name: string;
  op: 'conv2d' | 'batchNorm2d' | 'maxPool2d' | 'avgPool2d' | 'adaptiveAvgPool2d' | 'crossEntropy' | 'unfold' | 'linear' | 'logSoftmax' | 'softmax' | 'mseLoss';
  params: Record<string, unknown>;
  inputs: Record<string, Fx | null>;
  output: Fx;
  R?: Fx;
  grads?: Record<string, Fx>;
  extra?: Record<string, Fx>;
}

const dir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'ops');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
const cases: [string, FixtureCase][] = files.flatMap((f) => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { cases: FixtureCase[] }).cases.map((c): [string, FixtureCase] => [`${c.op}: ${c.name}`, c]));
const backends = await availableBackends(testBackends);

const want = (f: Fx): Arr => ({ shape: f.shape, data: Float64Array.from(f.data, Math.fround) });
type Pair = [number, number];

/** The gpugrad call for a fixture case, on tensors named as in the fixture (null inputs stay null). */
function run(c: FixtureCase, t: Record<string, Tensor | null>): Tensor {
  const p = c.params;
  const x = t.x as Tensor;
  switch (c.op) {
    case 'conv2d':
      return F.conv2d(x, t.weight as Tensor, t.bias, { stride: p.stride as Pair, padding: p.padding as Pair, dilation: p.dilation as Pair, groups: p.groups as number });
    case 'batchNorm2d':
      return F.batchNorm2d(x, t.runningMean, t.runningVar, t.weight, t.bias, { training: p.training as boolean, momentum: p.momentum as number, eps: p.eps as number });
    case 'maxPool2d':
      return F.maxPool2d(x, { kernelSize: p.kernelSize as Pair, stride: p.stride as Pair, padding: p.padding as Pair, dilation: p.dilation as Pair, ceilMode: p.ceilMode as boolean });
    case 'avgPool2d':
      return F.avgPool2d(x, { kernelSize: p.kernelSize as Pair, stride: p.stride as Pair, padding: p.padding as Pair, ceilMode: p.ceilMode as boolean, countIncludePad: p.countIncludePad as boolean });
    case 'adaptiveAvgPool2d':
      return F.adaptiveAvgPool2d(x, p.outputSize as Pair);
    case 'crossEntropy':
      return F.crossEntropy(t.logits as Tensor, p.labels as number[]);
    case 'unfold':
      return F.unfold(x, p.kernelSize as Pair, { stride: p.stride as Pair, padding: p.padding as Pair, dilation: p.dilation as Pair });
    case 'linear':
      return F.linear(x, t.weight as Tensor, t.bias);
    case 'logSoftmax':
      return F.logSoftmax(x, p.dim as number);
    case 'softmax':
      return F.softmax(x, p.dim as number);
    case 'mseLoss':
      return F.mseLoss(x, t.target as Tensor);
  }
}

/** Reduction length of one output value, for the float32 backends' tolerance. */
function reduction(c: FixtureCase): number {
  const s = (k: string): number[] => c.inputs[k]?.shape ?? [1];
  switch (c.op) {
    case 'conv2d': {
      const w = s('weight');
      return w[1] * w[2] * w[3];
    }
    case 'batchNorm2d': {
      const x = s('x');
      return x[0] * x[2] * x[3];
    }
    case 'crossEntropy':
      return s('logits')[0] * s('logits')[1];
    case 'unfold':
      return 1;
    case 'linear':
      return s('weight')[1];
    case 'logSoftmax':
    case 'softmax':
      return s('x')[c.params.dim === 1 ? 1 : s('x').length - 1];
    case 'mseLoss':
      return s('x').reduce((a, b) => a * b, 1);
    default:
      return s('x')[2] * s('x')[3];
  }
}

it('the fixtures are present and cover every op of the issue', () => {
  const ops = new Set(cases.map(([, c]) => c.op));
  for (const op of ['conv2d', 'batchNorm2d', 'maxPool2d', 'avgPool2d', 'adaptiveAvgPool2d', 'crossEntropy', 'unfold', 'linear', 'logSoftmax', 'softmax', 'mseLoss']) expect(ops).toContain(op);
  expect(cases.length).toBeGreaterThanOrEqual(25);
});

describe.each(backends)('PyTorch fixtures on $label', (tb) => {
  beforeEach(async () => {
    await useBackend(tb);
  });

  it.each(cases)('%s', async (_label, c) => {
    const before = memory().tensors;
    await tidyAsync(async () => {
      const grads = new Set(Object.keys(c.grads ?? {}));
      const t: Record<string, Tensor | null> = {};
      for (const [k, v] of Object.entries(c.inputs)) t[k] = v === null ? null : tensor(Float32Array.from(v.data), v.shape, { requiresGrad: grads.has(k) });
      const y = run(c, t);
      const k = reduction(c);
      // PyTorch reports the loss as a 0-D tensor; so does gpugrad.
      expectAllClose(`${c.op} '${c.name}' output on ${tb.label}`, await y.data(), y.shape, want(c.output), tb.tolerance(k));
      for (const [name, fx] of Object.entries(c.extra ?? {})) {
        const s = t[name] as Tensor;
        expectAllClose(`${c.op} '${c.name}' ${name} after the call on ${tb.label}`, await s.data(), s.shape, want(fx), tb.tolerance(k));
      }
      if (!c.R || !c.grads) return;
      sum(mul(y, tensor(Float32Array.from(c.R.data), c.R.shape))).backward();
      for (const [name, fx] of Object.entries(c.grads)) {
        const g = (t[name] as Tensor).grad;
        expect(g, `gradient of ${name}`).not.toBeNull();
        expectAllClose(`${c.op} '${c.name}' gradient of ${name} on ${tb.label}`, await (g as Tensor).data(), (g as Tensor).shape, want(fx), tb.tolerance(Math.max(k, c.output.data.length)));
      }
    });
    expect(memory().tensors).toBe(before);
  });
});
