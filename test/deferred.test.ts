// Eval-time folding recognised at the call (functional/deferred.ts): a model written as torchvision writes it —
// relu(bn(conv(x)) + identity) — runs each conv → batch norm (→ add) (→ ReLU) as one GEMM with an epilogue where
// the backend has one, agrees with the unfolded model on every test backend (the composed path included), leaks
// nothing, never hands a deferred tensor to the caller, and reading an intermediate gives exactly its own value.
import { afterEach, describe, expect, it } from 'vitest';
import { BasicBlock, manualSeed, memory, nn, noGrad, randn, tidy, type Tensor } from '../src/index.js';
import { availableBackends, testBackends, useBackend } from './helpers/backends.js';
import { maxRelErr, perturbBatchNorm, spyFused } from './helpers/folding.js';


const backends = await availableBackends(testBackends);

/** A module returning the conv output itself and the folded expression built on it. */
class Both extends nn.Module {
  readonly conv = new nn.Conv2d(3, 4, 3, { padding: 1, bias: true });
  readonly bn = new nn.BatchNorm2d(4);
  forward(x: Tensor): [Tensor, Tensor] {
    const c = this.conv.forward(x);
    return [c, this.bn.forward(c).relu()];
  }
}

/** Two folded branches summed (the second becomes the first's residual), read inside the forward by a pool. */
class Branches extends nn.Module {
  readonly conv1 = new nn.Conv2d(3, 4, 3, { padding: 1, bias: false });
  readonly bn1 = new nn.BatchNorm2d(4);
  readonly conv2 = new nn.Conv2d(3, 4, 1, { bias: true });
  readonly bn2 = new nn.BatchNorm2d(4);
  readonly pool = new nn.MaxPool2d(2);
  forward(x: Tensor): Tensor {
    const a = this.bn1.forward(this.conv1.forward(x));
    const b = this.bn2.forward(this.conv2.forward(x));
    return this.pool.forward(a.add(b).relu());
  }
}

/** Writes the conv's input in place before the conv output is read. */
class WritesInput extends nn.Module {
  readonly conv = new nn.Conv2d(3, 4, 3, { padding: 1 });
  readonly bn = new nn.BatchNorm2d(4);
  forward(x: Tensor): Tensor {
    const y = this.bn.forward(this.conv.forward(x));
    x.mul_(2);
    return y;
  }
}

describe.each(backends)('folding recognised at the call on $label', (tb) => {
  afterEach(() => {
    nn.setBatchNormFolding(true);
  });

  it('torchvision-style BasicBlocks (a projection shortcut, then identity): one fused GEMM per conv, the unfolded values', async () => {
    await useBackend(tb);
    manualSeed(5);
    const before = memory();
    const down = new nn.Sequential(new nn.Conv2d(4, 8, 1, { stride: 2, bias: false }), new nn.BatchNorm2d(8));
    // The second block's first conv reads the first block's output mid-forward, before its shortcut was computed.
    const block = new nn.Sequential(new BasicBlock(4, 8, 2, down), new BasicBlock(8, 8));
    tidy(() => perturbBatchNorm(block));
    block.eval();
    const x = randn([2, 4, 6, 6]);
    const spy = spyFused();
    try {
      nn.setBatchNormFolding(false);
      const plain = noGrad(() => block.forward(x));
      nn.setBatchNormFolding(true);
      const folded = noGrad(() => block.forward(x));
      // Per block: conv1+bn1+relu, (downsample conv+bn,) conv2+bn2+add+relu.
      expect(spy.count()).toBe(5); // (fused, or composed by withDefaults())
      // Computed before the outermost call returned: weights written afterwards (an optimizer step) do not reach it.
      tidy(() => noGrad(() => {
        for (const p of block.parameters()) p.mul_(0);
      }));
      expect(await maxRelErr(folded, plain)).toBeLessThan(1e-5);
      for (const t of [folded, plain, x]) t.dispose();
      block.dispose(); // with its cached folds
      expect(memory().tensors).toBe(before.tensors);
      expect(memory().buffers).toBe(before.buffers);
    } finally {
      spy.restore();
    }
  });

  it('a residual that is itself still deferred when the sum is read (composed or fused) is computed first', async () => {
    await useBackend(tb);
    manualSeed(7);
    const m = new Branches();
    perturbBatchNorm(m);
    m.eval();
    const x = randn([2, 3, 4, 4]);
    const y = noGrad(() => m.forward(x));
    nn.setBatchNormFolding(false);
    const y2 = noGrad(() => m.forward(x));
    expect(await maxRelErr(y, y2)).toBeLessThan(1e-5);
  });

  it('reading the conv output as well as the folded expression gives each its own value', async () => {
    await useBackend(tb);
    manualSeed(6);
    const m = new Both();
    perturbBatchNorm(m);
    m.eval();
    const x = randn([1, 3, 5, 5]);
    const [c, y] = noGrad(() => m.forward(x));
    nn.setBatchNormFolding(false);
    const [c2, y2] = noGrad(() => m.forward(x));
    expect(await maxRelErr(c, c2)).toBeLessThan(1e-6);
    expect(await maxRelErr(y, y2)).toBeLessThan(1e-5);
    // The conv output is not the normalised one (a lost intermediate would equal y's pre-ReLU values).
    expect(await maxRelErr(c, y2)).toBeGreaterThan(1e-2);
  });

  it('refuses a held input written in place before the output is read, naming the rule', async () => {
    await useBackend(tb);
    const m = new WritesInput();
    m.eval();
    const x = randn([1, 3, 4, 4]);
    expect(() => noGrad(() => m.forward(x))).toThrow(/conv2d: an input \[1, ?3, ?4, ?4\] of a deferred eval-mode convolution was written in place before its output was read/);
    // Folding off: the same module runs eagerly and the write is harmless.
    nn.setBatchNormFolding(false);
    noGrad(() => tidy(() => m.forward(x)));
  });

  it('training mode and gradients never defer: the conv output is an ordinary tensor', async () => {
    await useBackend(tb);
    const conv = new nn.Conv2d(2, 3, 3);
    const seq = new nn.Sequential(conv, new nn.BatchNorm2d(3), new nn.ReLU());
    seq.eval();
    const x = randn([1, 2, 4, 4]);
    const spy = spyFused();
    try {
      // Eval with gradients: the modules run one by one.
      tidy(() => seq.forward(x).sum().backward());
      expect(spy.count()).toBe(0);
      expect(conv.weight.grad).not.toBeNull();
    } finally {
      spy.restore();
    }
  });
});
