// Module ergonomics and the new modules: a custom module written the PyTorch way (fields, two inputs, a tuple out)
// against the same module in PyTorch (keys, parameter count, outputs, gradients, 5 SGD steps) and through a
// state-dict round trip; BatchNorm1d against PyTorch; field registration rules; ModuleList/ModuleDict;
// Module.apply/requiresGrad_; clipGradNorm_/clipGradValue_ against a host computation; on every test backend.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GpugradError, memory, nn, noGrad, ones, optim, setBackend, tensor, tidy, zeros, type Tensor } from '../src/index.js';
import { testBackends, useBackend } from './helpers/backends.js';
import { hashStateDict, hashTensor } from './helpers/hashinit.js';

const fx = JSON.parse(readFileSync(new URL('./fixtures/modules/modules.json', import.meta.url), 'utf8')) as {
  seed: number;
  streams: { a: number; b: number; up: number; target: number };
  twoTower: {
    keys: [string, number[]][];
    numParameters: number;
    y0: number[];
    y1: number[];
    aGrad: number[];
    bGrad: number[];
    grads: Record<string, number[]>;
    runningMean: number[];
    runningVar: number[];
    sgdLosses: number[];
  };
  batchNorm1d: { shape: number[]; y: number[]; xGrad: number[]; weightGrad: number[]; biasGrad: number[]; runningMean: number[]; runningVar: number[]; yEval: number[] }[];
};

/** The PyTorch module of scripts/fixtures_modules.py, written the same way: fields, no registerModule. */
class TwoTower extends nn.Module {
  scale = nn.Parameter(ones([3]));
  count = nn.Buffer(zeros([]));
  left = new nn.Linear(4, 3);
  right = new nn.Sequential(new nn.Linear(5, 6), new nn.ReLU(), new nn.Linear(6, 3));
  heads = new nn.ModuleList([new nn.Linear(3, 2), new nn.Linear(3, 2, { bias: false })]);
  norm = new nn.BatchNorm1d(3);

  forward(a: Tensor, b: Tensor): [Tensor, Tensor] {
    const h = this.norm.call(this.left.call(a).mul(this.scale).add(this.right.call(b)));
    return [this.heads.at(0).call(h), this.heads.at(1).call(h).relu()];
  }
}

function close(what: string, got: ArrayLike<number>, want: readonly number[], tol = 1e-4): void {
  expect(got.length, `${what} length`).toBe(want.length);
  // Relative to max(1, max |ref|): some gradients are exactly 0 in exact arithmetic (a bias before a batch norm).
  let scale = 1;
  for (const w of want) scale = Math.max(scale, Math.abs(w));
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol * scale)) throw new Error(`${what}[${i}]: got ${got[i]}, PyTorch gives ${want[i]} (max |ref| ${scale})`);
  }
}

function hashLoad(m: nn.Module): void {
  const sd = hashStateDict(fx.seed, [...m.stateDict()].map(([k, t]) => [k, t.shape] as const));
  m.loadStateDict(sd);
  for (const t of sd.values()) t.dispose();
}

for (const tb of testBackends) {
  describe(`modules vs PyTorch [${tb.label}]`, async () => {
    const test = (await tb.available()) ? it : it.skip;

    test('a PyTorch-style custom module: keys, parameter count, outputs, gradients, running stats', async () => {
      await useBackend(tb);
      const m = new TwoTower();
      const ref = fx.twoTower;
      expect([...m.stateDict()].map(([k, t]) => [k, [...t.shape]])).toEqual(ref.keys);
      expect(m.numParameters()).toBe(ref.numParameters);
      expect(m.parameters().length).toBe(ref.keys.length - 4); // count and BN's three buffers are not parameters
      hashLoad(m);
      const a = hashTensor(fx.seed, fx.streams.a, [6, 4]).requiresGrad_(true);
      const b = hashTensor(fx.seed, fx.streams.b, [6, 5]).requiresGrad_(true);
      const [y0, y1] = m.call(a, b);
      const up0 = hashTensor(fx.seed, fx.streams.up, [6, 2]);
      const up1 = hashTensor(fx.seed, fx.streams.up + 1, [6, 2]);
      tidy(() => y0.mul(up0).sum().add(y1.mul(up1).sum()).backward());
      close('y0', await y0.data(), ref.y0);
      close('y1', await y1.data(), ref.y1);
      close('a.grad', await a.grad!.data(), ref.aGrad);
      close('b.grad', await b.grad!.data(), ref.bGrad);
      for (const [k, p] of m.namedParameters()) close(`grad ${k}`, await p.grad!.data(), ref.grads[k]);
      close('running_mean', await m.norm.runningMean!.data(), ref.runningMean);
      close('running_var', await m.norm.runningVar!.data(), ref.runningVar);
      for (const t of [a, b, y0, y1, up0, up1]) t.dispose();
      m.dispose();
    });

    test('the custom module trains (5 SGD steps, PyTorch losses) and round-trips its state dict', async () => {
      await useBackend(tb);
      const m = new TwoTower();
      hashLoad(m);
      const a = hashTensor(fx.seed, fx.streams.a, [6, 4]);
      const b = hashTensor(fx.seed, fx.streams.b, [6, 5]);
      const t0 = hashTensor(fx.seed, fx.streams.target, [6, 2]);
      const t1 = hashTensor(fx.seed, fx.streams.target + 1, [6, 2]);
      const opt = new optim.SGD(m.parameters(), { lr: 0.1, momentum: 0.9 });
      const losses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const loss = tidy(() => {
          opt.zeroGrad();
          const [y0, y1] = m.call(a, b);
          const l = y0.sub(t0).pow(2).mean().add(y1.sub(t1).pow(2).mean());
          l.backward();
          opt.step();
          return l;
        });
        losses.push(await loss.item());
        loss.dispose();
      }
      close('SGD losses', losses, fx.twoTower.sgdLosses);
      // A fresh instance loads the trained state and computes the same outputs, in eval and in train mode.
      const copy = new TwoTower();
      copy.loadStateDict(m.stateDict());
      for (const mode of [false, true]) {
        m.train(mode);
        copy.train(mode);
        const [p0, p1] = noGrad(() => m.call(a, b));
        const [q0, q1] = noGrad(() => copy.call(a, b));
        expect(Array.from(await q0.data())).toEqual(Array.from(await p0.data()));
        expect(Array.from(await q1.data())).toEqual(Array.from(await p1.data()));
        for (const t of [p0, p1, q0, q1]) t.dispose();
      }
      opt.dispose();
      for (const t of [a, b, t0, t1]) t.dispose();
      m.dispose();
      copy.dispose();
    });

    test('BatchNorm1d on [N, C] and [N, C, L]: training outputs, gradients, running stats; eval', async () => {
      await useBackend(tb);
      for (const [k, ref] of fx.batchNorm1d.entries()) {
        const bn = new nn.BatchNorm1d(ref.shape[1]);
        hashLoad(bn);
        const x = hashTensor(fx.seed, k === 0 ? 4_000_000 : 4_100_000, ref.shape, 2).requiresGrad_(true);
        const y = bn.call(x);
        expect(y.shape).toEqual(ref.shape);
        const up = hashTensor(fx.seed, fx.streams.up, ref.shape);
        tidy(() => y.mul(up).sum().backward());
        close('y', await y.data(), ref.y);
        close('x.grad', await x.grad!.data(), ref.xGrad);
        close('weight.grad', await bn.weight!.grad!.data(), ref.weightGrad);
        close('bias.grad', await bn.bias!.grad!.data(), ref.biasGrad);
        close('running_mean', await bn.runningMean!.data(), ref.runningMean);
        close('running_var', await bn.runningVar!.data(), ref.runningVar);
        bn.eval();
        const ye = noGrad(() => bn.call(x));
        close('eval y', await ye.data(), ref.yEval);
        for (const t of [x, y, up, ye]) t.dispose();
        bn.dispose();
      }
    });

    test('clipGradNorm_ (p = 1, 2, 3, ∞) and clipGradValue_ follow the host formulas', async () => {
      await useBackend(tb);
      const vec = fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 1, maxLength: 12 });
      await fc.assert(
        fc.asyncProperty(fc.array(vec, { minLength: 1, maxLength: 3 }), fc.double({ min: 0.01, max: 5, noNaN: true }), fc.constantFrom(1, 2, 3, Infinity), async (gs, maxNorm, p) => {
          const params = gs.map((g) => {
            const t = tensor(g.map(() => 0), [g.length], { requiresGrad: true });
            t.grad = tensor(g, [g.length]);
            return t;
          });
          const flatG = gs.flat().map((v) => Math.fround(v));
          const total = p === Infinity ? Math.max(...flatG.map(Math.abs)) : Math.pow(flatG.reduce((s, v) => s + Math.abs(v) ** p, 0), 1 / p);
          const coef = Math.min(1, maxNorm / (total + 1e-6));
          const norm = nn.utils.clipGradNorm_(params, maxNorm, { normType: p });
          expect(Math.abs((await norm.item()) - total)).toBeLessThanOrEqual(1e-5 * (1 + total));
          const got = (await Promise.all(params.map((t) => t.grad!.data()))).flatMap((d) => Array.from(d));
          got.forEach((v, i) => expect(Math.abs(v - flatG[i] * coef)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(flatG[i]))));
          const c = maxNorm / 4;
          nn.utils.clipGradValue_(params, c);
          const clipped = (await Promise.all(params.map((t) => t.grad!.data()))).flatMap((d) => Array.from(d));
          clipped.forEach((v, i) => expect(Math.abs(v - Math.max(-c, Math.min(c, got[i])))).toBeLessThanOrEqual(1e-6 * (1 + c)));
          norm.dispose();
          for (const t of params) t.dispose();
        }),
        { numRuns: 20 },
      );
    });
  });
}

describe('module ergonomics', () => {
  it('fields register in declaration order; values registered under another name are not registered twice', () => {
    const bn = new nn.BatchNorm2d(2);
    expect([...bn.stateDict().keys()]).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    const m = new TwoTower();
    expect(m.namedChildren().map(([k]) => k)).toEqual(['left', 'right', 'heads', 'norm']);
    expect(m.namedBuffers().map(([k]) => k)).toEqual(['count', 'norm.running_mean', 'norm.running_var', 'norm.num_batches_tracked']);
    m.dispose();
  });

  it('assigning a new module to a field replaces the child in place (fine-tuning a head); a requiresGrad leaf field is a parameter', () => {
    class Net extends nn.Module {
      body = new nn.Linear(3, 4);
      fc = new nn.Linear(4, 10);
      temperature = tensor([1], [1], { requiresGrad: true });
      cache: Tensor | null = null; // plain tensors are not state
      forward(x: Tensor): Tensor {
        return this.fc.call(this.body.call(x)).div(this.temperature);
      }
    }
    const m = new Net();
    m.cache = tensor([1, 2], [2]);
    expect(m.namedParameters().map(([k]) => k)).toEqual(['temperature', 'body.weight', 'body.bias', 'fc.weight', 'fc.bias']);
    const old = m.fc;
    m.fc = new nn.Linear(4, 2);
    expect([...m.stateDict()].map(([k, t]) => `${k}:${t.shape.join('x')}`)).toEqual(['temperature:1', 'body.weight:4x3', 'body.bias:4', 'fc.weight:2x4', 'fc.bias:2']);
    expect(m.toString()).toContain('(fc): Linear(4 → 2)');
    const y = m.call(tensor([1, 2, 3], [1, 3]));
    expect(y.shape).toEqual([1, 2]);
    y.dispose();
    old.dispose();
    m.cache.dispose();
    m.dispose();
  });

  it('typed call() and Sequential.at<T>(); apply, requiresGrad_, zeroGrad, numParameters', () => {
    const seq = new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU(), new nn.Linear(3, 1));
    const last = seq.at<nn.Linear>(-1);
    expect(last.outFeatures).toBe(1);
    const names: string[] = [];
    expect(seq.apply((m) => names.push(m.constructor.name))).toBe(seq);
    expect(names).toEqual(['Linear', 'ReLU', 'Linear', 'Sequential']);
    seq.requiresGrad_(false);
    expect(seq.parameters().every((p) => !p.requiresGrad)).toBe(true);
    seq.requiresGrad_(true);
    const y = seq.call(tensor([1, 2], [1, 2]));
    tidy(() => y.sum().backward());
    expect(seq.parameters().every((p) => p.grad !== null)).toBe(true);
    seq.zeroGrad();
    expect(seq.parameters().every((p) => p.grad === null)).toBe(true);
    expect(seq.numParameters()).toBe(2 * 3 + 3 + 3 + 1);
    y.dispose();
    seq.dispose();
  });

  it('parameters made in a tidy scope survive it (nn.Parameter keeps them)', () => {
    const before = memory().tensors;
    const m = tidy(() => new TwoTower());
    expect(m.parameters().every((p) => !p.isDisposed)).toBe(true);
    expect(m.buffers().every((p) => !p.isDisposed)).toBe(true);
    m.dispose();
    expect(memory().tensors).toBe(before);
  });

  it('ModuleList and ModuleDict name their modules like torch; insert renumbers; pop removes', () => {
    const list = new nn.ModuleList<nn.Module>([new nn.Linear(1, 1), new nn.Linear(1, 2)]);
    list.insert(0, new nn.Linear(1, 3));
    list.append(new nn.ReLU());
    expect(list.length).toBe(4);
    expect([...list.stateDict()].map(([k, t]) => `${k}:${t.shape.join('x')}`)).toEqual(['0.weight:3x1', '0.bias:3', '1.weight:1x1', '1.bias:1', '2.weight:2x1', '2.bias:2']);
    expect(() => list.at(4)).toThrow(/index 4 is out of range for 4 modules/);
    expect(() => (list as unknown as { forward(): void }).forward()).toThrow(GpugradError);
    const dict = new nn.ModuleDict({ enc: new nn.Linear(2, 2), dec: new nn.Linear(2, 1) });
    dict.set('enc', new nn.Linear(2, 5));
    expect(dict.keys()).toEqual(['enc', 'dec']);
    expect(dict.get('enc').numParameters()).toBe(15);
    const dec = dict.pop('dec');
    expect([...dict.stateDict().keys()]).toEqual(['enc.weight', 'enc.bias']);
    expect(() => dict.get('dec')).toThrow(/no module under 'dec' \(keys: enc\)/);
    expect(() => dict.set('a.b', dec)).toThrow(/without '\.'/);
    list.dispose();
    dict.dispose();
    dec.dispose();
  });

  it('refuses bad arguments with a GpugradError naming the rule', async () => {
    const leaf = tensor([1], [1], { requiresGrad: true });
    expect(() => nn.Parameter(leaf.mul(2))).toThrow(/must be a leaf/);
    leaf.dispose();
    const bn = new nn.BatchNorm1d(3);
    expect(() => bn.call(tensor([1, 2, 3], [1, 3]))).toThrow(/training needs more than one value per feature/);
    expect(() => bn.call(zeros([2, 4]))).toThrow(/has 4 features, expected 3/);
    expect(() => bn.call(zeros([2, 3, 1, 1]))).toThrow(/2-D \[N, C\] or 3-D \[N, C, L\]/);
    expect(() => nn.utils.clipGradNorm_([], 1, { norm: 2 } as never)).toThrow(/unknown option 'norm'/);
    expect(() => nn.utils.clipGradValue_([], -1)).toThrow(/clipValue must be a finite non-negative number/);
    // errorIfNonfinite reads the norm back: on the reference backend (the suites above leave another current).
    await setBackend('reference');
    const p = tensor([1, 2], [2], { requiresGrad: true });
    p.grad = tensor([Number.NaN, 1], [2]);
    expect(() => nn.utils.clipGradNorm_([p], 1, { errorIfNonfinite: true })).toThrow(/total norm of order 2 of the gradients is NaN/);
    p.dispose();
    bn.dispose();
  });
});
