// The modules over F (LayerNorm, GroupNorm, ConvTranspose2d, Upsample, the activation and loss modules, Dropout)
// against PyTorch modules on hash-initialised weights (scripts/fixtures_modules.py): state-dict keys, outputs,
// input and parameter gradients, on every test backend; Dropout's training-mode statistics; refused options.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Generator, nn, noGrad, ones, tensor, tidy, type Tensor } from '../src/index.js';
import { testBackends, useBackend } from './helpers/backends.js';
import { hashStateDict, hashTensor } from './helpers/hashinit.js';

interface Spec {
  kind: string;
  args?: unknown[];
  options?: Record<string, unknown>;
  eval?: boolean;
}
interface Case {
  name: string;
  module: Spec;
  inputShape: number[];
  inputScale?: number;
  inputStream: number;
  target?: { labels?: number[] | number[][]; stream?: number };
  keys: [string, number[]][];
  outShape: number[];
  y: number[];
  xGrad: number[];
  grads?: Record<string, number[]>;
}
const fx = JSON.parse(readFileSync(new URL('./fixtures/modules/modules.json', import.meta.url), 'utf8')) as { seed: number; streams: { up: number }; modules: Case[]; losses: Case[] };

type Ctor = new (...args: unknown[]) => nn.Module;
function build(spec: Spec): nn.Module {
  const ctor = (nn as unknown as Record<string, Ctor>)[spec.kind];
  // Loss options name a class count where the module takes a weight tensor: ones([C]), hash-initialised below.
  const options = spec.options ? Object.fromEntries(Object.entries(spec.options).map(([k, v]) => [k, k === 'weight' || k === 'posWeight' ? ones([v as number]) : v])) : undefined;
  return new ctor(...(spec.args ?? []), ...(options ? [options] : []));
}

function close(what: string, got: ArrayLike<number>, want: readonly number[], tol: number): void {
  expect(got.length, `${what} length`).toBe(want.length);
  let scale = 1;
  for (const w of want) scale = Math.max(scale, Math.abs(w));
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol * scale)) throw new Error(`${what}[${i}]: got ${got[i]}, PyTorch gives ${want[i]}`);
  }
}

for (const tb of testBackends) {
  describe(`modules over F vs PyTorch [${tb.label}]`, async () => {
    const test = (await tb.available()) ? it : it.skip;
    for (const c of [...fx.modules, ...fx.losses]) {
      test(`${c.name}: ${c.module.kind} keys, output, input and parameter gradients`, async () => {
        await useBackend(tb);
        const m = build(c.module);
        // data() is float32 on every backend: the reference backend's float64 results are rounded once.
        const tol = tb.label === 'reference' ? 2e-6 : 2e-5;
        try {
          expect([...m.stateDict()].map(([k, t]) => [k, [...t.shape]])).toEqual(c.keys);
          const sd = hashStateDict(fx.seed, c.keys);
          m.loadStateDict(sd);
          for (const t of sd.values()) t.dispose();
          if (c.module.eval) m.eval();
          const x = hashTensor(fx.seed, c.inputStream, c.inputShape, c.inputScale ?? 2).requiresGrad_(true);
          const target: Tensor | number[] | null = c.target ? (c.target.labels ? tensor(c.target.labels.flat(), [c.target.labels.length, ...(Array.isArray(c.target.labels[0]) ? [(c.target.labels[0] as number[]).length] : [])]) : noGrad(() => hashTensor(fx.seed, c.target!.stream!, c.inputShape).add(1).div(2))) : null;
          const y = target ? m.call(x, target) : m.call(x);
          expect(y.shape).toEqual(c.outShape);
          tidy(() => {
            const up = y.rank ? hashTensor(fx.seed, fx.streams.up, y.shape) : null;
            (up ? y.mul(up).sum() : y).backward();
          });
          close('output', await y.data(), c.y, tol);
          close('input gradient', await x.grad!.data(), c.xGrad, tol);
          for (const [k, p] of m.namedParameters()) close(`grad ${k}`, await p.grad!.data(), c.grads![k], tol);
          for (const t of [x, y, ...(target instanceof Object && 'dispose' in target ? [target as Tensor] : [])]) t.dispose();
        } finally {
          m.dispose();
        }
      });
    }

    test('Dropout: zeroes about p of the elements and scales the rest by 1/(1−p) in training; the identity in eval', async () => {
      await useBackend(tb);
      await fc.assert(
        fc.asyncProperty(fc.double({ min: 0.05, max: 0.95, noNaN: true }), fc.integer({ min: 0, max: 1000 }), async (p, seed) => {
          const d = new nn.Dropout(p, { generator: new Generator(seed) });
          const x = ones([4000]);
          const y = d.call(x);
          const v = await y.data();
          let zeros = 0;
          for (const e of v) {
            if (e === 0) zeros++;
            else expect(Math.abs(e - 1 / (1 - p))).toBeLessThanOrEqual(1e-5 / (1 - p));
          }
          // 4000 Bernoulli(p) draws: 5 standard deviations.
          expect(Math.abs(zeros / 4000 - p)).toBeLessThanOrEqual(5 * Math.sqrt((p * (1 - p)) / 4000));
          d.eval();
          const z = d.call(x);
          expect(Array.from(await z.data())).toEqual(Array.from(await x.data()));
          for (const t of [x, y, z]) t.dispose();
        }),
        { numRuns: 10 },
      );
    });
  });
}

describe('modules over F: construction', () => {
  it("default initialisations are PyTorch's: norms start at weight 1, bias 0; ConvTranspose2d U(±1/√fan_in) with fan_in = out/groups·k·k", async () => {
    const ln = new nn.LayerNorm([2, 3]);
    expect(Array.from(await ln.weight!.data())).toEqual([1, 1, 1, 1, 1, 1]);
    expect(Array.from(await ln.bias!.data())).toEqual([0, 0, 0, 0, 0, 0]);
    const ct = new nn.ConvTranspose2d(8, 6, 3, { groups: 2, generator: new Generator(1) });
    const bound = 1 / Math.sqrt((6 / 2) * 9);
    const w = await ct.weight.data();
    expect(Math.max(...Array.from(w).map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...Array.from(w).map(Math.abs))).toBeGreaterThan(0.9 * bound);
    expect(Math.max(...Array.from(await ct.bias!.data()).map(Math.abs))).toBeLessThanOrEqual(bound);
    for (const m of [ln, ct]) m.dispose();
  });

  it('unknown options are refused, naming the module and the option', () => {
    expect(() => new nn.LayerNorm(3, { affine: false } as never)).toThrow(/LayerNorm: unknown option 'affine'/);
    expect(() => new nn.GroupNorm(2, 4, { elementwiseAffine: false } as never)).toThrow(/GroupNorm: unknown option 'elementwiseAffine'/);
    expect(() => new nn.CrossEntropyLoss({ label_smoothing: 0.1 } as never)).toThrow(/CrossEntropyLoss: unknown option 'label_smoothing'/);
    expect(() => new nn.ConvTranspose2d(2, 2, 3, { output_padding: 1 } as never)).toThrow(/unknown option 'output_padding'/);
    expect(() => new nn.Upsample({ scale: 2 } as never)).toThrow(/Upsample: unknown option 'scale'/);
    expect(() => new nn.GroupNorm(4, 6)).toThrow(/numChannels 6 must be divisible by numGroups 4/);
    expect(() => new nn.Dropout(1.5)).toThrow(/p must be a probability/);
  });
});
