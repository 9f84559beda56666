// Optimizers with parameter groups (per-group options), RMSprop, Adagrad and every learning-rate scheduler against
// 20-step torch.optim trajectories (scripts/fixtures_optim_sched.py), straight through and with both state dicts
// round-tripped into fresh objects at step 10; plus addParamGroup, option checks and scheduler properties.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { GpugradError, tensor, tidy, type Tensor } from '../src/index.js';
import {
  Adagrad,
  Adam,
  AdamW,
  CosineAnnealingLR,
  ExponentialLR,
  LambdaLR,
  LinearLR,
  MultiStepLR,
  OneCycleLR,
  ReduceLROnPlateau,
  RMSprop,
  SequentialLR,
  SGD,
  StepLR,
  type LRScheduler,
  type Optimizer,
} from '../src/optim/index.js';
import { readyBackends, testBackends, useBackend } from './helpers/backends.js';

type Opts = Record<string, unknown>;
interface SchedSpec extends Opts {
  kind: string;
}
interface Run {
  name: string;
  optimizer: string;
  defaults: Opts;
  groups: ({ params: number[] } & Opts)[];
  scheduler: SchedSpec;
  steps: { lrs: number[]; loss: number; w: number[]; b: number[] }[];
}
const ready = await readyBackends();
const fx = JSON.parse(readFileSync(new URL('./fixtures/optim/trajectories.json', import.meta.url), 'utf8')) as { X: number[]; Y: number[]; W0: number[]; B0: number[]; runs: Run[] };

// The same functions as the script's LAMBDAS.
const LAMBDAS: Record<string, (e: number) => number> = { inverse: (e) => 1 / (1 + 0.3 * e), geometric: (e) => 0.9 ** e };

function makeOptimizer(run: Run, ps: Tensor[]): Optimizer {
  const groups = run.groups.map(({ params, ...o }) => ({ params: params.map((i) => ps[i]), ...o }));
  const ctor = { SGD, Adam, AdamW, RMSprop, Adagrad }[run.optimizer] as unknown as new (p: unknown, o: Opts) => Optimizer;
  return new ctor(groups, run.defaults);
}

type Scheduler = LRScheduler | ReduceLROnPlateau;
function makeScheduler(opt: Optimizer, s: SchedSpec): Scheduler {
  const { kind, ...o } = s;
  switch (kind) {
    case 'MultiStepLR':
      return new MultiStepLR(opt, o.milestones as number[], o.gamma as number);
    case 'ExponentialLR':
      return new ExponentialLR(opt, o.gamma as number);
    case 'LambdaLR':
      return new LambdaLR(opt, (o.lambdas as string[]).map((n) => LAMBDAS[n]));
    case 'LinearLR':
      return new LinearLR(opt, o);
    case 'StepLR':
      return new StepLR(opt, o.stepSize as number, o.gamma as number);
    case 'CosineAnnealingLR':
      return new CosineAnnealingLR(opt, o.tMax as number, (o.etaMin as number | undefined) ?? 0);
    case 'OneCycleLR': {
      const { maxLr, ...rest } = o;
      return new OneCycleLR(opt, maxLr as number | number[], rest);
    }
    case 'SequentialLR':
      return new SequentialLR(opt, (o.schedulers as SchedSpec[]).map((c) => makeScheduler(opt, c) as LRScheduler), o.milestones as number[]);
    case 'ReduceLROnPlateau':
      return new ReduceLROnPlateau(opt, o);
  }
  throw new Error(`unknown scheduler ${kind}`);
}

function close(what: string, got: ArrayLike<number>, want: number[], tol: number): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol * (1 + Math.abs(want[i])))) throw new Error(`${what} element ${i}: got ${got[i]}, torch.optim gives ${want[i]}`);
  }
}

for (const tb of testBackends) {
  describe(`parameter groups, RMSprop, Adagrad and schedulers vs torch.optim (20 steps) on ${tb.label}`, () => {
    for (const run of fx.runs) {
      for (const roundTrip of [false, true]) {
        it.skipIf(!ready.has(tb))(`${run.name}${roundTrip ? ': state dicts round-tripped at step 10' : ''}`, async () => {
          await useBackend(tb);
          const x = tensor(fx.X, [8, 4]);
          const y = tensor(fx.Y, [8, 3]);
          const w = tensor(fx.W0, [4, 3], { requiresGrad: true });
          const b = tensor(fx.B0, [3], { requiresGrad: true });
          let opt = makeOptimizer(run, [w, b]);
          let sched = makeScheduler(opt, run.scheduler);
          try {
            for (let k = 0; k < run.steps.length; k++) {
              const want = run.steps[k];
              if (roundTrip && k === 10) {
                // A fresh optimizer and scheduler, as a resumed script builds them, then both state dicts.
                const osd = opt.stateDict();
                const ssd = JSON.parse(JSON.stringify(sched.stateDict())) as ReturnType<Scheduler['stateDict']>;
                opt.dispose();
                opt = makeOptimizer(run, [w, b]);
                sched = makeScheduler(opt, run.scheduler);
                opt.loadStateDict(osd);
                (sched as LRScheduler).loadStateDict(ssd);
                for (const s of osd.state.values()) for (const t of s.tensors.values()) t.dispose();
              }
              close(`step ${k + 1} lrs`, opt.paramGroups.map((g) => g.lr), want.lrs, 1e-12);
              const loss = tidy(() => {
                opt.zeroGrad();
                const d = x.matmul(w).add(b).sub(y);
                const l = d.mul(d).mean();
                l.backward();
                opt.step();
                return l;
              });
              const lv = await loss.item();
              loss.dispose();
              if (sched instanceof ReduceLROnPlateau) sched.step(lv);
              else sched.step();
              close(`step ${k + 1} loss`, [lv], [want.loss], 1e-4);
              close(`step ${k + 1} w`, await w.data(), want.w, 1e-4);
              close(`step ${k + 1} b`, await b.data(), want.b, 1e-4);
            }
          } finally {
            opt.dispose();
            for (const t of [x, y, w, b]) t.dispose();
          }
        });
      }
    }
  });
}

describe('parameter groups', () => {
  it('per-group options override the defaults; addParamGroup adds a group with its own lr; params numbers across groups', () => {
    const a = tensor([1, 2], [2], { requiresGrad: true });
    const b = tensor([3], [1], { requiresGrad: true });
    const c = tensor([4], [1], { requiresGrad: true });
    const opt = new SGD([{ params: [a] }, { params: [b], lr: 0.5, momentum: 0.9 }], { lr: 0.1 });
    expect(opt.paramGroups.map((g) => [g.lr, g.hyper.momentum])).toEqual([[0.1, 0], [0.5, 0.9]]);
    opt.addParamGroup({ params: [c], weightDecay: 0.01 });
    expect(opt.paramGroups[2]).toMatchObject({ lr: 0.1, initialLr: 0.1, hyper: { momentum: 0, weightDecay: 0.01 } });
    expect(opt.params).toEqual([a, b, c]);
    expect(() => opt.addParamGroup({ params: [a] })).toThrow(/appears twice \(parameters may be in only one group\)/);
    const sd = opt.stateDict();
    expect(sd.groups!.map((g) => g.params)).toEqual([[0], [1], [2]]);
    // Setting lr on the optimizer sets every group's (the single-group habit keeps working).
    opt.lr = 0.3;
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.3, 0.3, 0.3]);
    for (const t of [a, b, c]) t.dispose();
  });

  it('unknown option names are refused everywhere, never ignored', () => {
    const p = tensor([1], [1], { requiresGrad: true });
    expect(() => new SGD([p], { lr: 0.1, momentun: 0.9 } as never)).toThrow(/SGD: unknown option 'momentun'/);
    expect(() => new Adam([{ params: [p], beta: 0.9 }] as never)).toThrow(/Adam: unknown option 'beta'/);
    expect(() => new RMSprop([p], { lr: 0.1, rho: 0.9 } as never)).toThrow(GpugradError);
    expect(() => new Adagrad([p], { amsgrad: true } as never)).toThrow(/unknown option 'amsgrad'/);
    const opt = new SGD([p], { lr: 0.1 });
    expect(() => new LinearLR(opt, { total: 3 } as never)).toThrow(/LinearLR: unknown option 'total'/);
    expect(() => new OneCycleLR(opt, 0.1, { steps: 10 } as never)).toThrow(/unknown option 'steps'/);
    expect(() => new ReduceLROnPlateau(opt, { patiance: 3 } as never)).toThrow(/unknown option 'patiance'/);
    expect(() => new OneCycleLR(new Adagrad([p]), 0.1, { totalSteps: 5 })).toThrow(/cycleMomentum needs an optimizer with momentum or betas/);
    expect(() => new SGD([{ params: [p] }])).toThrow(/lr is required/);
    p.dispose();
  });

  it('a state dict with another group layout is refused and nothing changes', () => {
    const a = tensor([1, 2], [2], { requiresGrad: true });
    const b = tensor([3], [1], { requiresGrad: true });
    const two = new SGD([{ params: [a] }, { params: [b] }], { lr: 0.1 });
    const one = new SGD([a, b], { lr: 0.7 });
    expect(() => one.loadStateDict(two.stateDict())).toThrow(/2 parameter groups, the optimizer 1/);
    expect(one.lr).toBe(0.7);
    for (const t of [a, b]) t.dispose();
  });

  it('a legacy state dict (no groups) applies its hyper-parameters to every group', () => {
    const a = tensor([1, 2], [2], { requiresGrad: true });
    const opt = new SGD([a], { lr: 0.1, momentum: 0.9 });
    opt.loadStateDict({ kind: 'SGD', hyper: { lr: 0.02, initialLr: 0.1, momentum: 0.5, dampening: 0, weightDecay: 0, nesterov: false }, state: new Map() });
    expect([opt.lr, opt.paramGroups[0].hyper.momentum]).toEqual([0.02, 0.5]);
    a.dispose();
  });
});

describe('scheduler properties', () => {
  const sgd = (): { opt: SGD; p: Tensor } => {
    const p = tensor([0], [1], { requiresGrad: true });
    return { opt: new SGD([p], { lr: 0.1, momentum: 0.9 }), p };
  };

  it('every closed-form scheduler: setEpoch(e) gives the rate that e steps give, and a state dict resumes it', () => {
    const makers: ((o: SGD) => LRScheduler)[] = [
      (o) => new StepLR(o, 3, 0.5),
      (o) => new MultiStepLR(o, [2, 5, 5], 0.3),
      (o) => new ExponentialLR(o, 0.8),
      (o) => new LambdaLR(o, (e) => 1 / (1 + e)),
      (o) => new LinearLR(o, { startFactor: 0.2, totalIters: 7 }),
      (o) => new CosineAnnealingLR(o, 9, 0.01),
      (o) => new OneCycleLR(o, 0.5, { totalSteps: 130 }),
      (o) => new SequentialLR(o, [new LinearLR(o, { startFactor: 0.5, totalIters: 3 }), new ExponentialLR(o, 0.9)], [3]),
    ];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: makers.length - 1 }), fc.integer({ min: 0, max: 120 }), (k, e) => {
        const a = sgd();
        const s = makers[k](a.opt);
        for (let i = 0; i < e; i++) s.step();
        const stepped = a.opt.lr;
        const b = sgd();
        const t = makers[k](b.opt);
        t.setEpoch(e);
        const c = sgd();
        const u = makers[k](c.opt);
        u.loadStateDict(JSON.parse(JSON.stringify(s.stateDict())));
        u.setEpoch(u.lastEpoch);
        for (const x of [a.p, b.p, c.p]) x.dispose();
        return Math.abs(stepped - b.opt.lr) <= 1e-12 * Math.abs(stepped) + 1e-15 && Math.abs(stepped - c.opt.lr) <= 1e-12 * Math.abs(stepped) + 1e-15 && u.lastEpoch === e;
      }),
      { numRuns: 100 },
    );
  });

  it('OneCycleLR peaks at maxLr after pctStart of the steps and cycles the momentum the other way', () => {
    const { opt, p } = sgd();
    const s = new OneCycleLR(opt, 1, { totalSteps: 100, pctStart: 0.3 });
    const lrs: number[] = [];
    const ms: number[] = [];
    for (let i = 0; i < 100; i++) {
      lrs.push(opt.lr);
      ms.push(opt.paramGroups[0].hyper.momentum as number);
      s.step();
    }
    expect(lrs[0]).toBeCloseTo(1 / 25, 12);
    expect(Math.max(...lrs)).toBeCloseTo(1, 12);
    expect(lrs.indexOf(Math.max(...lrs))).toBe(29);
    expect(ms[29]).toBeCloseTo(0.85, 12);
    expect(ms[0]).toBeCloseTo(0.95, 12);
    expect(() => {
      s.step();
      s.step();
    }).toThrow(/more than totalSteps 100/);
    p.dispose();
  });

  it('ReduceLROnPlateau never goes below minLr and waits out cooldown', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 10, noNaN: true }), { minLength: 1, maxLength: 60 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), (metrics, patience, cooldown) => {
        const { opt, p } = sgd();
        const s = new ReduceLROnPlateau(opt, { patience, cooldown, factor: 0.5, minLr: 0.01 });
        let last = opt.lr;
        let sinceCut = Infinity;
        let ok = true;
        for (const m of metrics) {
          s.step(m);
          sinceCut++;
          if (opt.lr < last) {
            // A cut needs more than `patience` bad epochs, counted only after the cooldown.
            if (sinceCut <= cooldown + patience) ok = false;
            sinceCut = 0;
          }
          if (opt.lr < 0.01 - 1e-15) ok = false;
          last = opt.lr;
        }
        p.dispose();
        return ok;
      }),
      { numRuns: 100 },
    );
  });
});
