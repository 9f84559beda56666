// Eval-mode batch-norm folding (nn.convBn, Sequential's conv → bn → relu) on every test backend: the folded
// network agrees with the unfolded one, the fused GEMM epilogue runs only where nothing needs a gradient,
// folding can be turned off, and training is untouched.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { currentBackend, F, ownFastPaths, manualSeed, memory, nn, noGrad, optim, randn, resnet50, tidy, type Tensor } from '../src/index.js';
import { availableBackends, testBackends, useBackend } from './helpers/backends.js';
import { maxRelErr, perturbBatchNorm, spyFused } from './helpers/folding.js';


const backends = await availableBackends(testBackends);

describe.each(backends)('batch-norm folding on $label', (tb) => {
  beforeEach(async () => {
    await useBackend(tb);
    manualSeed(3);
  });
  afterEach(() => {
    nn.setBatchNormFolding(true);
  });

  it('ResNet-50 eval logits agree folded and unfolded; the fused GEMM runs only when folding is on', async () => {
    const model = resnet50({ numClasses: 10 });
    perturbBatchNorm(model);
    model.eval();
    const x = randn([2, 3, 32, 32]);
    const spy = spyFused();
    try {
      const folded = noGrad(() => tidy(() => model.forward(x)));
      const fusedCalls = spy.count();
      expect(nn.setBatchNormFolding(false)).toBe(true);
      const plain = noGrad(() => tidy(() => model.forward(x)));
      expect(spy.count()).toBe(fusedCalls); // off: no fused call
      expect(fusedCalls).toBe(53); // every conv of ResNet-50 with its BN (fused, or composed by withDefaults())
      expect(await maxRelErr(folded, plain)).toBeLessThan(1e-5);
    } finally {
      spy.restore();
    }
  });

  it('with gradients (eval mode, parameters that require grad) nothing folds and the gradients match', async () => {
    const block = new nn.Sequential(new nn.Conv2d(3, 4, 3, { padding: 1, bias: true }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.Conv2d(4, 2, 1), new nn.BatchNorm2d(2));
    perturbBatchNorm(block);
    block.eval();
    const x = randn([2, 3, 5, 5], { requiresGrad: true });
    const spy = spyFused();
    const grads = async (fold: boolean): Promise<Float32Array[]> => {
      nn.setBatchNormFolding(fold);
      for (const p of block.parameters()) p.grad = null;
      x.grad = null;
      tidy(() => block.forward(x).mul(block.forward(x)).sum().backward());
      return Promise.all([x, ...block.parameters()].map((t) => (t.grad as Tensor).data()));
    };
    try {
      const a = await grads(true);
      const b = await grads(false);
      expect(spy.count()).toBe(0);
      a.forEach((g, i) => expect(Array.from(g)).toEqual(Array.from(b[i])));
      // Without gradients the same Sequential folds (conv → bn → relu, then conv → bn) and agrees.
      nn.setBatchNormFolding(true);
      const y1 = noGrad(() => block.forward(x));
      expect(spy.count()).toBe(2);
      nn.setBatchNormFolding(false);
      const y2 = noGrad(() => block.forward(x));
      expect(await maxRelErr(y1, y2)).toBeLessThan(1e-5);
    } finally {
      spy.restore();
    }
  });

  it('caches each fold until its inputs change: optimizer steps, loadStateDict and assign invalidate it; dispose frees it', async () => {
    const before = memory().tensors;
    const seq = new nn.Sequential(new nn.Conv2d(3, 4, 3, { padding: 1, bias: true }), new nn.BatchNorm2d(4), new nn.ReLU());
    tidy(() => perturbBatchNorm(seq));
    seq.eval();
    const x = randn([1, 3, 6, 6]);
    const be = currentBackend();
    // Counts the backend's elementwise calls: a cached fold adds none.
    const orig = { binary: be.binary, unary: be.unary };
    let ew = 0;
    be.binary = (...a) => (ew++, orig.binary.apply(be, a));
    be.unary = (...a) => (ew++, orig.unary.apply(be, a));
    const made: Tensor[] = [];
    const unfolded = (): Tensor => {
      nn.setBatchNormFolding(false);
      const y = noGrad(() => tidy(() => seq.forward(x)));
      nn.setBatchNormFolding(true);
      made.push(y);
      return y;
    };
    try {
      const fwd = (): Tensor => noGrad(() => tidy(() => seq.forward(x)));
      fwd().dispose();
      const firstCalls = ew;
      expect(firstCalls).toBeGreaterThan(0); // the fold's scale and shift
      ew = 0;
      const y1 = fwd();
      // Reused: no elementwise call left where the GEMM applies scale, shift and ReLU (composed elsewhere).
      if (ownFastPaths(be).has('matmulEpilogue')) expect(ew).toBe(0);
      else expect(ew).toBeLessThan(firstCalls);
      const reuse = ew;
      // An optimizer step writes in place (same storage): the next forward refolds and sees the new weights.
      // (Gradients taken in eval mode, so the running statistics keep their storage: only the step changes.)
      const opt = new optim.SGD(seq.parameters(), { lr: 0.5 });
      tidy(() => seq.forward(x).sum().backward());
      opt.step();
      ew = 0;
      const y2 = fwd();
      expect(ew).toBeGreaterThan(reuse);
      expect(await maxRelErr(y2, unfolded())).toBeLessThan(1e-5);
      expect(await maxRelErr(y2, y1)).toBeGreaterThan(1e-3);
      // loadStateDict and assign (running statistics) also invalidate.
      const copy = new Map([...seq.namedParameters(), ...seq.namedBuffers()].map(([k, t]) => [k, tidy(() => noGrad(() => t.mul(1)))] as [string, Tensor]));
      tidy(() => noGrad(() => (seq.at(1) as nn.BatchNorm2d).runningVar?.assign(randn([4]).abs().add(2))));
      const y3 = fwd();
      expect(await maxRelErr(y3, unfolded())).toBeLessThan(1e-5);
      seq.loadStateDict(copy);
      const y4 = fwd();
      expect(await maxRelErr(y4, y2)).toBeLessThan(1e-6);
      for (const t of [y1, y2, y3, y4, x, ...copy.values(), ...made]) t.dispose();
      opt.zeroGrad();
      seq.dispose();
      expect(memory().tensors).toBe(before); // the cached fold went with its module
    } finally {
      be.binary = orig.binary;
      be.unary = orig.unary;
    }
  });

  it('training mode never folds: batch statistics are used and the running statistics update', async () => {
    const seq = new nn.Sequential(new nn.Conv2d(2, 3, 3), new nn.BatchNorm2d(3), new nn.ReLU());
    const bn = seq.at(1) as nn.BatchNorm2d;
    const spy = spyFused();
    try {
      noGrad(() => seq.forward(randn([2, 2, 4, 4])));
      expect(spy.count()).toBe(0);
      expect(Array.from(await (bn.numBatchesTracked as Tensor).data())).toEqual([1]);
      expect(Array.from(await (bn.runningMean as Tensor).data()).some((v) => v !== 0)).toBe(true);
    } finally {
      spy.restore();
    }
  });

  it('conv2dAffine refuses scale, shift and residual of the wrong shape, naming the op and the shapes', () => {
    const x = randn([1, 2, 4, 4]);
    const w = randn([3, 2, 3, 3]);
    const ones = (n: number): Tensor => randn([n]);
    expect(() => F.conv2dAffine(x, w, { scale: ones(2), shift: ones(3) })).toThrow(/conv2dAffine.*scale must be a Tensor of shape \[3\].*got \[2\]/);
    expect(() => F.conv2dAffine(x, w, { scale: ones(3), shift: ones(3), residual: randn([1, 3, 4, 4]) })).toThrow(/conv2dAffine.*residual must have the output's shape \[1, ?3, ?2, ?2\], got \[1, ?3, ?4, ?4\]/);
  });
});
