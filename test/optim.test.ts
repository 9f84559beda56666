// Optimizers against torch.optim (committed fixture from scripts/fixtures_optim.py), schedules, state dicts
// and argument checks.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { GpugradError, memory, tensor, tidy, type Tensor } from '../src/index.js';
import { Adam, AdamW, CosineAnnealingLR, SGD, StepLR, type Optimizer } from '../src/optim/index.js';
import { readyBackends, testBackends, useBackend } from './helpers/backends.js';

const ready = await readyBackends();

interface Step {
  loss: number;
  w: number[];
  b: number[];
}
interface Run {
  name: string;
  optimizer: 'SGD' | 'Adam' | 'AdamW';
  options: Record<string, number | boolean | number[]>;
  steps: Step[];
}
interface Fixture {
  X: number[];
  Y: number[];
  W0: number[];
  B0: number[];
  runs: Run[];
  schedules: { step: { stepSize: number; gamma: number; lrs: number[] }; cosine: { tMax: number; etaMin: number; lrs: number[] } };
}
const fx = JSON.parse(readFileSync(new URL('./fixtures/optim/optim.json', import.meta.url), 'utf8')) as Fixture;

function make(run: Run, params: Tensor[]): Optimizer {
  const o = run.options;
  if (run.optimizer === 'SGD') {
    return new SGD(params, { lr: o.lr as number, momentum: o.momentum as number | undefined, dampening: o.dampening as number | undefined, weightDecay: o.weight_decay as number | undefined, nesterov: o.nesterov as boolean | undefined });
  }
  const opts = { lr: o.lr as number, betas: o.betas as [number, number], eps: o.eps as number, weightDecay: o.weight_decay as number };
  return run.optimizer === 'Adam' ? new Adam(params, opts) : new AdamW(params, opts);
}

function lossOf(w: Tensor, b: Tensor, x: Tensor, y: Tensor): Tensor {
  const d = x.matmul(w).add(b).sub(y);
  return d.mul(d).mean();
}

function close(got: ArrayLike<number>, want: number[], tol: number): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (Math.abs(got[i] - want[i]) > tol * (1 + Math.abs(want[i]))) {
      throw new Error(`element ${i}: got ${got[i]}, torch.optim gives ${want[i]}`);
    }
  }
}

for (const tb of testBackends) {
  describe(`optimizers vs torch.optim on ${tb.label}`, () => {
    for (const run of fx.runs) {
      it.skipIf(!ready.has(tb))(`${run.name}: 10 steps match`, async () => {
        await useBackend(tb);
        const x = tensor(fx.X, [8, 4]);
        const y = tensor(fx.Y, [8, 3]);
        const w = tensor(fx.W0, [4, 3], { requiresGrad: true });
        const b = tensor(fx.B0, [3], { requiresGrad: true });
        const opt = make(run, [w, b]);
        for (const want of run.steps) {
          const loss = tidy(() => {
            opt.zeroGrad();
            const l = lossOf(w, b, x, y);
            l.backward();
            opt.step();
            return l;
          });
          close([await loss.item()], [want.loss], 1e-4);
          loss.dispose();
          close(await w.data(), want.w, 1e-4);
          close(await b.data(), want.b, 1e-4);
        }
        opt.dispose();
        for (const t of [x, y, w, b]) t.dispose();
      });
    }

    it.skipIf(!ready.has(tb))('stateDict/loadStateDict: a restored optimizer continues the same trajectory', async () => {
      await useBackend(tb);
      for (const run of fx.runs.filter((r) => r.name !== 'sgd')) {
        const x = tensor(fx.X, [8, 4]);
        const y = tensor(fx.Y, [8, 3]);
        const w = tensor(fx.W0, [4, 3], { requiresGrad: true });
        const b = tensor(fx.B0, [3], { requiresGrad: true });
        const stepOnce = (o: Optimizer): void =>
          tidy(() => {
            o.zeroGrad();
            lossOf(w, b, x, y).backward();
            o.step();
          });
        const opt = make(run, [w, b]);
        for (let i = 0; i < 5; i++) stepOnce(opt);
        const sd = opt.stateDict();
        opt.dispose();
        const fresh = make(run, [w, b]);
        fresh.loadStateDict(sd);
        for (const s of sd.state.values()) for (const t of s.tensors.values()) t.dispose();
        for (let i = 5; i < 10; i++) stepOnce(fresh);
        close(await w.data(), run.steps[9].w, 1e-4);
        fresh.dispose();
        for (const t of [x, y, w, b]) t.dispose();
      }
    });

    it.skipIf(!ready.has(tb))('stateDict copies and dispose leave nothing behind', async () => {
      await useBackend(tb);
      const p = tensor([1, 2, 3], [3], { requiresGrad: true });
      const before = memory().tensors;
      const o = new Adam([p], { lr: 0.1 });
      tidy(() => p.mul(p).sum().backward());
      o.step();
      const sd = o.stateDict();
      const o2 = new Adam([p], { lr: 0.1 });
      o2.loadStateDict(sd);
      for (const s of sd.state.values()) for (const t of s.tensors.values()) t.dispose();
      o.zeroGrad();
      o.dispose();
      o2.dispose();
      expect(memory().tensors).toBe(before);
      p.dispose();
    });

    it.skipIf(!ready.has(tb))('steps do not grow memory', async () => {
      await useBackend(tb);
      const w = tensor(fx.W0, [4, 3], { requiresGrad: true });
      const x = tensor(fx.X, [8, 4]);
      const opt = new Adam([w], { lr: 0.01 });
      const one = (): void =>
        tidy(() => {
          opt.zeroGrad();
          x.matmul(w).pow(2).mean().backward();
          opt.step();
        });
      one();
      const before = memory();
      for (let i = 0; i < 5; i++) one();
      const after = memory();
      expect(after.tensors).toBe(before.tensors);
      expect(after.bytes).toBe(before.bytes);
      opt.dispose();
      w.dispose();
      x.dispose();
    });
  });
}

describe('learning-rate schedules match torch.optim.lr_scheduler', () => {
  const collect = (make: (o: Optimizer) => StepLR | CosineAnnealingLR): number[] => {
    const p = tensor([0], [1], { requiresGrad: true });
    const opt = new SGD([p], { lr: 0.1 });
    const s = make(opt);
    const out: number[] = [];
    for (let i = 0; i < 10; i++) {
      out.push(opt.lr);
      opt.step();
      s.step();
    }
    p.dispose();
    return out;
  };
  it('StepLR', () => {
    const { stepSize, gamma, lrs } = fx.schedules.step;
    close(collect((o) => new StepLR(o, stepSize, gamma)), lrs, 1e-12);
  });
  it('CosineAnnealingLR', () => {
    const { tMax, etaMin, lrs } = fx.schedules.cosine;
    close(collect((o) => new CosineAnnealingLR(o, tMax, etaMin)), lrs, 1e-12);
  });
  it('cosine stays within [etaMin, base] and setEpoch agrees with stepping', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.double({ min: 0, max: 0.05, noNaN: true }), fc.integer({ min: 0, max: 120 }), (tMax, etaMin, e) => {
        const p = tensor([0], [1], { requiresGrad: true });
        const opt = new SGD([p], { lr: 0.1 });
        const s = new CosineAnnealingLR(opt, tMax, etaMin);
        for (let i = 0; i < e; i++) s.step();
        const stepped = opt.lr;
        s.setEpoch(e);
        p.dispose();
        return Math.abs(stepped - opt.lr) < 1e-15 && stepped >= etaMin - 1e-12 && stepped <= 0.1 + 1e-12;
      }),
      { numRuns: 50 },
    );
  });
});

describe('optimizer argument checks', () => {
  it('refuses bad hyper-parameters and parameters with a GpugradError naming the rule', () => {
    const p = tensor([1, 2], [2], { requiresGrad: true });
    expect(() => new SGD([p], { lr: -1 })).toThrow(/SGD: lr must be in/);
    expect(() => new SGD([p], { lr: Number.NaN })).toThrow(/lr must be a finite number/);
    expect(() => new SGD([p], { lr: 0.1, nesterov: true })).toThrow(/nesterov needs momentum > 0/);
    expect(() => new SGD([], { lr: 0.1 })).toThrow(GpugradError);
    expect(() => new SGD([p, p], { lr: 0.1 })).toThrow(/appears twice/);
    expect(() => new Adam([p], { betas: [1, 0.9] })).toThrow(/Adam: betas\[0\] must be in \[0, 1\)/);
    const q = p.mul(2);
    expect(() => new AdamW([q])).toThrow(/not a leaf/);
    expect(() => new StepLR(new SGD([p], { lr: 1 }), 0)).toThrow(/stepSize must be a positive integer/);
    const a = new Adam([p]);
    const s = new SGD([p], { lr: 0.1, momentum: 0.9 });
    expect(() => a.loadStateDict(s.stateDict())).toThrow(/from SGD, not Adam/);
    q.dispose();
    p.dispose();
  });

  it('a state dict with wrong shapes is refused and nothing changes', () => {
    const p = tensor([1, 2], [2], { requiresGrad: true });
    const other = tensor([1, 2, 3], [3], { requiresGrad: true });
    const a = new Adam([other], { lr: 0.1 });
    tidy(() => {
      other.pow(2).sum().backward();
      a.step();
    });
    const sd = a.stateDict();
    const b = new Adam([p], { lr: 0.5 });
    expect(() => b.loadStateDict(sd)).toThrow(/'expAvg' has shape \[3\], parameter has \[2\]/);
    expect(b.lr).toBe(0.5);
    for (const s of sd.state.values()) for (const t of s.tensors.values()) t.dispose();
    a.dispose();
    p.dispose();
    other.dispose();
  });
});

// torch.optim's rules written out on the host in float64: the oracle for random hyper-parameters.
function hostSgd(p: number[], g: number[], buf: number[] | null, h: { lr: number; momentum: number; dampening: number; wd: number; nesterov: boolean; first: boolean }): void {
  for (let i = 0; i < p.length; i++) {
    let d = g[i] + h.wd * p[i];
    if (buf && h.momentum !== 0) {
      buf[i] = h.first ? d : h.momentum * buf[i] + (1 - h.dampening) * d;
      d = h.nesterov ? d + h.momentum * buf[i] : buf[i];
    }
    p[i] -= h.lr * d;
  }
}
function hostAdam(p: number[], g: number[], m: number[], v: number[], h: { lr: number; b1: number; b2: number; eps: number; wd: number; decoupled: boolean; step: number }): void {
  for (let i = 0; i < p.length; i++) {
    let d = g[i];
    if (h.decoupled) p[i] *= 1 - h.lr * h.wd;
    else d += h.wd * p[i];
    m[i] = h.b1 * m[i] + (1 - h.b1) * d;
    v[i] = h.b2 * v[i] + (1 - h.b2) * d * d;
    p[i] -= (h.lr / (1 - h.b1 ** h.step)) * (m[i] / (Math.sqrt(v[i]) / Math.sqrt(1 - h.b2 ** h.step) + h.eps));
  }
}

for (const tb of testBackends) {
  describe(`fused optimizer kernels on ${tb.label} follow torch.optim for random hyper-parameters`, () => {
    const vec = fc.array(fc.double({ min: -2, max: 2, noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 40 });
    const grads = (n: number): fc.Arbitrary<number[][]> => fc.array(fc.array(fc.double({ min: -2, max: 2, noNaN: true, noDefaultInfinity: true }), { minLength: n, maxLength: n }), { minLength: 1, maxLength: 3 });
    const check = async (got: Float32Array, want: number[]): Promise<void> => {
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-5 + 1e-4 * Math.abs(want[i]));
    };

    it.skipIf(!ready.has(tb))('SGD (momentum, dampening, nesterov, weight decay)', async () => {
      await useBackend(tb);
      await fc.assert(
        fc.asyncProperty(vec.chain((p0) => fc.tuple(fc.constant(p0), grads(p0.length))), fc.double({ min: 1e-3, max: 0.5, noNaN: true }), fc.constantFrom(0, 0.5, 0.9), fc.constantFrom(0, 0.3), fc.constantFrom(0, 1e-2), fc.boolean(), async ([p0, gs], lr, momentum, damp, wd, nest) => {
          const nesterov = nest && momentum > 0;
          const dampening = nesterov ? 0 : damp;
          const p = tensor(p0, [p0.length], { requiresGrad: true });
          const o = new SGD([p], { lr, momentum, dampening, weightDecay: wd, nesterov });
          const host = [...p0];
          const buf = momentum ? new Array<number>(p0.length).fill(0) : null;
          gs.forEach((g, k) => {
            p.grad?.dispose();
            p.grad = tensor(g, [g.length]);
            o.step();
            hostSgd(host, g, buf, { lr, momentum, dampening, wd, nesterov, first: k === 0 });
          });
          await check(await p.data(), host);
          o.dispose();
          p.dispose();
        }),
        { numRuns: 25 },
      );
    });

    it.skipIf(!ready.has(tb))('Adam and AdamW', async () => {
      await useBackend(tb);
      await fc.assert(
        fc.asyncProperty(vec.chain((p0) => fc.tuple(fc.constant(p0), grads(p0.length))), fc.double({ min: 1e-4, max: 0.1, noNaN: true }), fc.constantFrom(0.8, 0.9), fc.constantFrom(0.99, 0.999), fc.constantFrom(1e-8, 1e-3), fc.constantFrom(0, 0.05), fc.boolean(), async ([p0, gs], lr, b1, b2, eps, wd, decoupled) => {
          const p = tensor(p0, [p0.length], { requiresGrad: true });
          const opts = { lr, betas: [b1, b2] as const, eps, weightDecay: wd };
          const o = decoupled ? new AdamW([p], opts) : new Adam([p], opts);
          const host = [...p0];
          const m = new Array<number>(p0.length).fill(0);
          const v = new Array<number>(p0.length).fill(0);
          gs.forEach((g, k) => {
            p.grad?.dispose();
            p.grad = tensor(g, [g.length]);
            o.step();
            hostAdam(host, g, m, v, { lr, b1, b2, eps, wd, decoupled, step: k + 1 });
          });
          await check(await p.data(), host);
          o.dispose();
          p.dispose();
        }),
        { numRuns: 25 },
      );
    });
  });
}
