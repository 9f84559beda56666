// nn modules: registration and naming, train/eval, all-or-nothing loadStateDict with every problem in one
// error, BatchNorm buffers (PyTorch's running-stat semantics), initialisation statistics, layers vs F,
// ResNet options for small experiments, and summary().
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  F,
  GpugradError,
  manualSeed,
  memory,
  nn,
  noGrad,
  randn,
  resnet18,
  resnet50,
  summary,
  tensor,
  tidy,
  zeros,
  Generator,
  type Tensor,
} from '../src/index.js';
import { errorOf } from './helpers/errors.js';

class Net extends nn.Module {
  readonly conv = this.registerModule('conv', new nn.Conv2d(3, 4, 3, { padding: 1 }));
  readonly bn = this.registerModule('bn', new nn.BatchNorm2d(4));
  readonly head = this.registerModule('head', new nn.Sequential(new nn.Flatten(), new nn.Linear(4 * 5 * 5, 2)));
  forward(x: Tensor): Tensor {
    return this.head.forward(this.bn.forward(this.conv.forward(x)).relu());
  }
}

async function values(m: nn.Module): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const [k, t] of m.stateDict()) out.set(k, Array.from(await t.data()));
  return out;
}

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}
function variance(a: ArrayLike<number>): number {
  const m = mean(a);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - m) ** 2;
  return s / a.length;
}

describe('Module', () => {
  it('names children, parameters and buffers like PyTorch, in state-dict order', () => {
    const m = new Net();
    expect(m.namedParameters().map(([k]) => k)).toEqual(['conv.weight', 'conv.bias', 'bn.weight', 'bn.bias', 'head.1.weight', 'head.1.bias']);
    expect(m.namedBuffers().map(([k]) => k)).toEqual(['bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked']);
    expect([...m.stateDict().keys()]).toEqual([
      'conv.weight', 'conv.bias', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked', 'head.1.weight', 'head.1.bias',
    ]);
    expect(m.namedModules().map(([k, v]) => `${k}:${v.constructor.name}`)).toEqual([':Net', 'conv:Conv2d', 'bn:BatchNorm2d', 'head:Sequential', 'head.0:Flatten', 'head.1:Linear']);
    expect(m.parameters().every((p) => p.requiresGrad)).toBe(true);
    expect(m.buffers().some((b) => b.requiresGrad)).toBe(false);
    expect(m.bn.numBatchesTracked!.shape).toEqual([]);
    expect(m.numParameters()).toBe(4 * 3 * 9 + 4 + 8 + 100 * 2 + 2);
    m.dispose();
  });

  it('toString prints the tree with hyper-parameters, as print(model) does', () => {
    const m = new Net();
    expect(m.toString()).toBe(
      ['Net(', '  (conv): Conv2d(3, 4, kernel=3×3, padding=1,1)', '  (bn): BatchNorm2d(4, eps=0.00001, momentum=0.1)', '  (head): Sequential(', '    (0): Flatten()', '    (1): Linear(100 → 2)', '  )', ')'].join('\n'),
    );
    m.dispose();
  });

  it('train()/eval() set the flag on every descendant and return the module', () => {
    const m = new Net();
    expect(m.eval()).toBe(m);
    expect(m.modules().every((x) => !x.training)).toBe(true);
    m.train();
    expect(m.modules().every((x) => x.training)).toBe(true);
    m.dispose();
  });

  it('rejects bad registrations', () => {
    class Bad extends nn.Module {
      constructor(name: string) {
        super();
        this.registerModule('a', new nn.ReLU());
        this.registerModule(name, new nn.ReLU());
      }
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    expect(() => new Bad('a')).toThrow(/already registered/);
    expect(() => new Bad('x.y')).toThrow(/contain no '\.'/);
  });

  it('parameters survive tidy scopes and dispose() frees everything', () => {
    const before = memory().tensors;
    const m = tidy(() => new Net());
    expect(m.parameters().every((p) => !p.isDisposed)).toBe(true);
    m.dispose();
    expect(memory().tensors).toBe(before);
  });

  it('forward through the model back-propagates into every parameter; zeroGrad clears them', () => {
    const m = new Net();
    const y = m.call(randn([2, 3, 5, 5]));
    F.crossEntropy(y, [0, 1]).backward();
    expect(m.parameters().every((p) => p.grad !== null && p.grad.shape.join() === p.shape.join())).toBe(true);
    m.zeroGrad();
    expect(m.parameters().every((p) => p.grad === null)).toBe(true);
    m.dispose();
  });
});

describe('loadStateDict', () => {
  it('copies values (no aliasing with the source), keeps tensor identity', async () => {
    const a = new Net();
    const b = new Net();
    const w = b.conv.weight;
    b.loadStateDict(a.stateDict());
    expect(b.conv.weight).toBe(w);
    expect(await values(b)).toEqual(await values(a));
    noGrad(() => a.conv.weight.assign(zeros(a.conv.weight.shape)));
    expect(Array.from(await b.conv.weight.data()).some((v) => v !== 0)).toBe(true);
    a.dispose();
    b.dispose();
  });

  it('strict: one error lists every missing key, unexpected key and shape mismatch, and nothing changes', async () => {
    const m = new Net();
    const before = await values(m);
    const sd = new Map(m.stateDict());
    sd.delete('bn.running_var');
    sd.delete('head.1.bias');
    sd.set('extra.weight', tensor([1]));
    sd.set('conv.bias', tensor([1, 2, 3]));
    sd.set('head.1.weight', zeros([3, 100]));
    sd.set('bn.weight', zeros([4]));
    const msg = errorOf(() => m.loadStateDict(sd)).message;
    expect(msg).toMatch(/missing keys \(2\): bn\.running_var, head\.1\.bias/);
    expect(msg).toMatch(/unexpected keys \(1\): extra\.weight/);
    expect(msg).toMatch(/shape mismatch for 'conv\.bias': checkpoint \[3\], model \[4\]/);
    expect(msg).toMatch(/shape mismatch for 'head\.1\.weight': checkpoint \[3,100\], model \[2,100\]/);
    expect(await values(m)).toEqual(before);
    m.dispose();
  });

  it("a checkpoint saved from a wrapper ('module.' keys) is refused with the prefix named and the fix, which then loads", async () => {
    const m = new Net();
    const src = new Net();
    const wrapped = new Map([...src.stateDict()].map(([k, t]) => [`module.${k}`, t]));
    expect(errorOf(() => m.loadStateDict(wrapped)).message).toMatch(/every checkpoint key has the extra prefix 'module\.'; strip it first: new Map\(\[\.\.\.state\]\.map\(\(\[k, t\]\) => \[k\.slice\(7\), t\]\)\)/);
    // The suggested line, as written, loads it.
    m.loadStateDict(new Map([...wrapped].map(([k, t]) => [k.slice(7), t])));
    // Unrelated unexpected keys get no such hint.
    const sd = new Map(m.stateDict());
    sd.delete('bn.running_var');
    sd.set('module.extra', tensor([1]));
    expect(() => m.loadStateDict(sd)).toThrow(/missing keys \(1\)(?![\s\S]*extra prefix)/);
    m.dispose();
    src.dispose();
  });

  it('non-strict: loads the matching keys and reports the rest; shape mismatches still refuse', async () => {
    const a = new Net();
    const b = new Net();
    const sd = new Map(a.stateDict());
    sd.delete('head.1.bias');
    sd.set('other', tensor([0]));
    const r = b.loadStateDict(sd, { strict: false });
    expect(r).toEqual({ missingKeys: ['head.1.bias'], unexpectedKeys: ['other'] });
    expect(Array.from(await b.conv.weight.data())).toEqual(Array.from(await a.conv.weight.data()));
    sd.set('conv.weight', zeros([1]));
    expect(() => b.loadStateDict(sd, { strict: false })).toThrow(/shape mismatch for 'conv\.weight'/);
    a.dispose();
    b.dispose();
  });

  it('property: any subset of deletions, additions and reshapes either loads fully or leaves the model unchanged', async () => {
    const src = new Net();
    const dst = new Net();
    dst.loadStateDict(src.stateDict());
    const keys = [...src.stateDict().keys()];
    const snapshot = await values(dst);
    await fc.assert(
      fc.asyncProperty(fc.subarray(keys), fc.subarray(keys), fc.boolean(), async (drop, reshape, extra) => {
        const sd = new Map(src.stateDict());
        for (const k of drop) sd.delete(k);
        const made: Tensor[] = [];
        for (const k of reshape) if (sd.has(k)) sd.set(k, made[made.push(zeros([sd.get(k)!.size + 1])) - 1]);
        if (extra) sd.set('zzz', made[made.push(zeros([1])) - 1]);
        const ok = drop.length === 0 && reshape.length === 0 && !extra;
        if (ok) dst.loadStateDict(sd);
        else expect(() => dst.loadStateDict(sd)).toThrow(GpugradError);
        expect(await values(dst)).toEqual(snapshot);
        for (const t of made) t.dispose();
      }),
      { numRuns: 40 },
    );
    src.dispose();
    dst.dispose();
  });
});

describe('BatchNorm2d', () => {
  it('training updates running stats with momentum and the unbiased variance, and counts batches', async () => {
    const bn = new nn.BatchNorm2d(2);
    const x = tensor(Array.from({ length: 2 * 2 * 3 }, (_, i) => (i * 7) % 5), [2, 2, 3, 1]);
    bn.forward(x);
    bn.forward(x);
    const d = await x.data();
    const ch = (c: number): number[] => [0, 1].flatMap((n) => [0, 1, 2].map((i) => d[(n * 2 + c) * 3 + i]));
    for (const c of [0, 1]) {
      const v = ch(c);
      const m = mean(v);
      const unbiased = (variance(v) * v.length) / (v.length - 1);
      // two updates from (0, 1): r = 0.9·(0.9·r0 + 0.1·s) + 0.1·s
      expect((await bn.runningMean!.data())[c]).toBeCloseTo(0.19 * m, 5);
      expect((await bn.runningVar!.data())[c]).toBeCloseTo(0.81 + 0.19 * unbiased, 5);
    }
    expect(await bn.numBatchesTracked!.item()).toBe(2);
    bn.eval();
    const before = Array.from(await bn.runningMean!.data());
    bn.forward(x);
    expect(Array.from(await bn.runningMean!.data())).toEqual(before);
    expect(await bn.numBatchesTracked!.item()).toBe(2);
  });

  it('momentum null is a cumulative average; a rejected input changes nothing', async () => {
    const bn = new nn.BatchNorm2d(1, { momentum: null });
    bn.forward(tensor([1, 3], [2, 1, 1, 1]));
    bn.forward(tensor([5, 7], [2, 1, 1, 1]));
    expect((await bn.runningMean!.data())[0]).toBeCloseTo(4, 6);
    expect(() => bn.forward(tensor([1], [1, 1, 1, 1]))).toThrow(/more than 1 value per channel/);
    expect(() => bn.forward(zeros([2, 3, 1, 1]))).toThrow(/has 3 channels, expected 1/);
    expect(await bn.numBatchesTracked!.item()).toBe(2);
  });

  it('eval output equals the batch-norm formula with the running statistics', async () => {
    const bn = new nn.BatchNorm2d(3);
    noGrad(() => {
      bn.runningMean!.assign(tensor([1, -1, 0.5]));
      bn.runningVar!.assign(tensor([4, 0.25, 1]));
      bn.weight!.assign(tensor([2, 1, -1]));
      bn.bias!.assign(tensor([0, 1, 0.5]));
    });
    bn.eval();
    const x = randn([2, 3, 2, 2]);
    const y = await bn.forward(x).data();
    const xd = await x.data();
    const p = { m: [1, -1, 0.5], v: [4, 0.25, 1], w: [2, 1, -1], b: [0, 1, 0.5] };
    for (let i = 0; i < xd.length; i++) {
      const c = Math.floor(i / 4) % 3;
      expect(y[i]).toBeCloseTo(((xd[i] - p.m[c]) / Math.sqrt(p.v[c] + 1e-5)) * p.w[c] + p.b[c], 5);
    }
  });
});

describe('initialisation (torch.nn.init formulas, seeded)', () => {
  it('Conv2d/Linear default: kaiming_uniform(a=√5) → U(±1/√fan_in), bias U(±1/√fan_in)', async () => {
    const conv = new nn.Conv2d(16, 64, 3, { generator: new Generator(1) });
    const w = await conv.weight.data();
    const bound = 1 / Math.sqrt(16 * 9);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.98 * bound);
    expect(variance(w)).toBeCloseTo((bound * bound) / 3, 4);
    const b = await conv.bias!.data();
    expect(Math.max(...b.map(Math.abs))).toBeLessThanOrEqual(bound);
    const lin = new nn.Linear(50, 20);
    expect(Math.max(...(await lin.weight.data()).map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(50));
  });

  it('ResNet: convs He-normal with fan_out (std √(2/fan_out)), BN weight 1 / bias 0, zeroInitResidual', async () => {
    manualSeed(3);
    const m = resnet18({ widths: [16, 32, 64, 128], numClasses: 10 });
    const w = await m.layer3.at(0).stateDict().get('conv1.weight')!.data();
    const fanOut = 64 * 9;
    expect(Math.sqrt(variance(w))).toBeCloseTo(Math.sqrt(2 / fanOut), 2);
    expect(Math.abs(mean(w))).toBeLessThan(0.005);
    expect(Array.from(await m.bn1.weight!.data()).every((v) => v === 1)).toBe(true);
    expect(Array.from(await m.bn1.bias!.data()).every((v) => v === 0)).toBe(true);
    m.dispose();
    const z = resnet18({ widths: [8, 8, 8, 8], zeroInitResidual: true });
    const last = z.stateDict();
    expect(Array.from(await last.get('layer1.0.bn2.weight')!.data()).every((v) => v === 0)).toBe(true);
    expect(Array.from(await last.get('layer1.0.bn1.weight')!.data()).every((v) => v === 1)).toBe(true);
    z.dispose();
  });

  it('skipInit builds without drawing (weights stay 0), for ResNet too; resetParameters draws later', async () => {
    const lin = nn.skipInit(() => new nn.Linear(4, 3));
    expect(Array.from(await lin.weight.data()).every((v) => v === 0)).toBe(true);
    lin.resetParameters();
    expect(Array.from(await lin.weight.data()).some((v) => v !== 0)).toBe(true);
    const r = nn.skipInit(() => resnet18({ widths: [4, 4, 4, 4], layers: [1, 1, 1, 1] }));
    expect(Array.from(await r.conv1.weight.data()).every((v) => v === 0)).toBe(true);
    expect(nn.initSkipped()).toBe(false);
    const d = resnet18({ widths: [4, 4, 4, 4], layers: [1, 1, 1, 1] });
    expect(Array.from(await d.layer1.at(0).stateDict().get('conv2.weight')!.data()).some((v) => v !== 0)).toBe(true);
    r.dispose();
    d.dispose();
  });

  it('the same seed gives the same weights; another seed different ones', async () => {
    const build = async (s: number): Promise<number[]> => {
      manualSeed(s);
      const m = resnet18({ widths: [4, 4, 4, 4], layers: [1, 1, 1, 1], numClasses: 3 });
      const d = Array.from(await m.conv1.weight.data()).concat(Array.from(await m.fc.weight.data()));
      m.dispose();
      return d;
    };
    expect(await build(5)).toEqual(await build(5));
    expect(await build(5)).not.toEqual(await build(6));
  });
});

describe('layers agree with F and check their input', () => {
  it('Conv2d, pools, Flatten and Linear', async () => {
    const x = randn([2, 3, 7, 7]);
    const conv = new nn.Conv2d(3, 5, [3, 2], { stride: 2, padding: 1 });
    const same = async (a: Tensor, b: Tensor): Promise<void> => expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    await same(conv.forward(x), F.conv2d(x, conv.weight, conv.bias, { stride: 2, padding: 1 }));
    await same(new nn.MaxPool2d(3, { stride: 2, padding: 1 }).forward(x), F.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }));
    await same(new nn.AvgPool2d(2).forward(x), F.avgPool2d(x, { kernelSize: 2 }));
    await same(new nn.AdaptiveAvgPool2d(1).forward(x), x.mean([2, 3], true));
    expect(new nn.Flatten().forward(x).shape).toEqual([2, 147]);
    expect(new nn.Identity().forward(x)).toBe(x);
    expect(() => conv.forward(randn([2, 4, 7, 7]))).toThrow(/input has 4 channels but weight expects 3/);
    expect(() => new nn.Conv2d(3, 4, 3, { groups: 2 })).toThrow(/divisible by groups 2/);
    expect(() => new nn.Linear(0, 3)).toThrow(GpugradError);
    const seq = new nn.Sequential(new nn.Flatten(), new nn.Linear(147, 4), new nn.ReLU());
    expect(seq.length).toBe(3);
    expect(seq.at(-1)).toBeInstanceOf(nn.ReLU);
    expect(() => seq.at(3)).toThrow(/out of range/);
    expect(seq.forward(x).shape).toEqual([2, 4]);
  });
});

describe('ResNet options for small experiments', () => {
  it('28×28 single-channel inputs with a 3×3/1 stem and no max pool; features and logits', () => {
    const m = resnet18({ inChannels: 1, stemKernel: 3, stemStride: 1, maxPool: false, widths: [8, 16, 32, 64], layers: [1, 1, 1, 1], numClasses: 10 });
    expect(m.conv1.weight.shape).toEqual([8, 1, 3, 3]);
    expect(m.maxpool).toBeInstanceOf(nn.Identity);
    const x = randn([2, 1, 28, 28]);
    expect(m.features(x).shape).toEqual([2, 64]);
    expect(m.forward(x).shape).toEqual([2, 10]);
    expect(() => m.forward(randn([2, 3, 28, 28]))).toThrow(/input must be \[N, 1, H, W\]/);
    expect(() => resnet18({ layers: [1, 1, 1] })).toThrow(/4 stages/);
    m.dispose();
  });

  it('numClasses changes only fc', () => {
    const s = resnet50({ numClasses: 10, widths: [8, 16, 32, 64], layers: [1, 1, 1, 1] });
    expect(s.fc.weight.shape).toEqual([10, 64 * 4]);
    s.dispose();
  });
});

describe('summary', () => {
  it('ResNet-50 at 3×224×224: 25,557,032 parameters and 4,089,184,256 MACs, shapes per stage', () => {
    const m = nn.skipInit(() => resnet50());
    const s = summary(m.train(), [1, 3, 224, 224]);
    expect(s.totalParams).toBe(25_557_032);
    expect(s.totalMacs).toBe(4_089_184_256);
    expect(s.outputShape).toEqual([1, 1000]);
    const row = (n: string) => s.rows.find((r) => r.name === n)!;
    expect(row('layer1').outputShape).toEqual([1, 256, 56, 56]);
    expect(row('layer4').outputShape).toEqual([1, 2048, 7, 7]);
    expect(row('conv1').macs).toBe(64 * 112 * 112 * 3 * 49);
    expect(row('fc').params).toBe(2_049_000);
    expect(s.table).toMatch(/Total params: 25,557,032/);
    expect(s.table).toMatch(/4\.09 GMAC/);
    // Training flags are restored and the real forward is back.
    expect(m.modules().every((x) => x.training)).toBe(true);
    expect(Object.hasOwn(m.conv1, 'forward')).toBe(false);
    m.dispose();
  });

  it('reports a shape error from inside the model as a GpugradError', () => {
    const m = resnet18({ widths: [4, 4, 4, 4], layers: [1, 1, 1, 1] });
    expect(() => summary(m, [1, 1, 32, 32])).toThrow(GpugradError);
    expect(() => summary(m, [1, 3, 0, 32])).toThrow(/positive integers/);
    m.dispose();
  });
});
