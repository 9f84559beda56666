// Behaviour of the issue #18 ops that fixtures and oracles cannot pin down: refused options and arguments, seeded
// randomness (dropout, randint), PyTorch's calling conventions (destructuring topk/sort, .T, dim(), numel()),
// infinities through where/clamp/BCE, and the issue's own example (crossEntropy's labelSmoothing).
import { describe, expect, it } from 'vitest';
import * as G from '../src/index.js';
import { F, manualSeed, tensor } from '../src/index.js';
import { errorOf } from './helpers/errors.js';
import { availableBackends, testBackends, useBackend } from './helpers/backends.js';


const backends = await availableBackends(testBackends);

const arr = async (t: G.Tensor): Promise<number[]> => Array.from(await t.data());

describe('issue #18 ops: behaviour beyond the fixtures', () => {
  it('unknown option names are refused, naming the op and the known options', () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    const w = G.ones([2, 2, 1, 1]);
    const cases: [() => unknown, string, string][] = [
      [() => F.crossEntropy(x, [0, 1], { labelSmoothng: 0.1 } as never), 'crossEntropy', 'labelSmoothng'],
      [() => F.nllLoss(x, [0, 1], { ignore_index: 1 } as never), 'nllLoss', 'ignore_index'],
      [() => F.mseLoss(x, x, { reduce: 'sum' } as never), 'mseLoss', 'reduce'],
      [() => F.l1Loss(x, x, { size_average: true } as never), 'l1Loss', 'size_average'],
      [() => F.smoothL1Loss(x, x, { delta: 1 } as never), 'smoothL1Loss', 'delta'],
      [() => F.binaryCrossEntropy(G.mul(x, 0.1), x, { posWeight: x } as never), 'binaryCrossEntropy', 'posWeight'],
      [() => F.binaryCrossEntropyWithLogits(x, x, { pos_weight: x } as never), 'binaryCrossEntropyWithLogits', 'pos_weight'],
      [() => F.gelu(x, { approx: 'tanh' } as never), 'gelu', 'approx'],
      [() => F.softplus(x, { beta: 1, thresh: 2 } as never), 'softplus', 'thresh'],
      [() => F.pad(x, [1, 1], { fill: 0 } as never), 'pad', 'fill'],
      [() => F.interpolate(G.reshape(x, [1, 1, 2, 3]), { size: 4, align_corners: true } as never), 'interpolate', 'align_corners'],
      [() => F.convTranspose2d(G.ones([1, 2, 2, 2]), w, null, { output_padding: 1 } as never), 'convTranspose2d', 'output_padding'],
      [() => F.conv2d(G.ones([1, 2, 2, 2]), w, null, { pad: 1 } as never), 'conv2d', 'pad'],
      [() => F.maxPool2d(G.ones([1, 2, 2, 2]), { kernelSize: 2, ceil_mode: true } as never), 'maxPool2d', 'ceil_mode'],
      [() => F.avgPool2d(G.ones([1, 2, 2, 2]), { kernelSize: 2, divisorOverride: 2 } as never), 'avgPool2d', 'divisorOverride'],
      [() => F.batchNorm2d(G.ones([2, 2, 1, 1]), null, null, null, null, { training: true, momentum: 0.1, affine: true } as never), 'batchNorm2d', 'affine'],
      [() => F.unfold(G.ones([1, 2, 2, 2]), 1, { strides: 1 } as never), 'unfold', 'strides'],
      [() => F.normalize(x, { axis: 0 } as never), 'normalize', 'axis'],
      [() => F.dropout(x, 0.5, true, { seed: 1 } as never), 'dropout', 'seed'],
      [() => G.var(x, { unbiased: false } as never), 'var', 'unbiased'],
      [() => G.std(x, 0, { keepDim: true } as never), 'std', 'keepDim'],
      [() => G.sort(x, 1, { reverse: true } as never), 'sort', 'reverse'],
      [() => G.topk(x, 1, 1, { smallest: true } as never), 'topk', 'smallest'],
      [() => G.randint(3, [2], { seed: 1 } as never), 'randint', 'seed'],
      [() => G.eye(2, 2, { dtype: 'float32' } as never), 'eye', 'dtype'],
      [() => G.linspace(0, 1, 3, { endpoint: false } as never), 'linspace', 'endpoint'],
    ];
    for (const [fn, op, name] of cases) {
      const e = errorOf(fn);
      expect(e.op, name).toBe(op);
      expect(e.message).toMatch(new RegExp(`unknown option '${name}'`));
      expect(e.message).toMatch(/known( options)?: /);
    }
  });

  it("crossEntropy's labelSmoothing is applied (the issue found it silently ignored)", async () => {
    const x = tensor([[0.5, -1, 2], [1, 0, -0.5]]);
    const plain = await F.crossEntropy(x, [0, 1]).item();
    const smooth = await F.crossEntropy(x, [0, 1], { labelSmoothing: 0.1 }).item();
    // torch.nn.functional.cross_entropy on the same values in float64: 1.6028400 plain, 1.5945067 smoothed.
    expect(plain).toBeCloseTo(1.60284, 5);
    expect(smooth).toBeCloseTo(1.5945067, 5);
  });

  it('argument errors name the op, the shapes and the rule', () => {
    const x = G.ones([2, 3]);
    expect(errorOf(() => G.gather(x, 1, G.ones([2]))).message).toMatch(/gather: index \[2\] must have the rank of x \[2,3\]/);
    expect(errorOf(() => G.gather(x, 1, tensor([[0, 3]]))).message).toMatch(/index\[1\] is 3, not an index into dimension 1 of size 3/);
    expect(errorOf(() => G.indexSelect(x, 0, [0, 2])).message).toMatch(/indexSelect: index\[1\] is 2/);
    expect(errorOf(() => G.stack([x, G.ones([3, 2])])).message).toMatch(/stack: tensors\[1\] has shape \[3,2\] but tensors\[0\] has \[2,3\]/);
    expect(errorOf(() => G.split(x, [1, 1], 1)).message).toMatch(/sum.*to 3/);
    expect(errorOf(() => G.topk(x, 4)).message).toMatch(/topk: k must be an integer in \[0, 3\]/);
    expect(errorOf(() => G.t(G.ones([1, 2, 3]))).message).toMatch(/t: expects a tensor of at most 2 dimensions/);
    expect(errorOf(() => G.clamp(x)).message).toMatch(/clamp: at least one of min and max/);
    expect(errorOf(() => F.pad(x, [3, 0], { mode: 'reflect' })).message).toMatch(/reflect padding \(3, 0\) must be smaller than the size 3/);
    expect(errorOf(() => F.interpolate(G.ones([1, 1, 2, 2]), { size: 3, scaleFactor: 2 })).message).toMatch(/exactly one of size and scaleFactor/);
    expect(errorOf(() => F.interpolate(G.ones([1, 1, 2, 2]), { size: 3, mode: 'nearest', alignCorners: false })).message).toMatch(/alignCorners can only be set/);
    expect(errorOf(() => F.convTranspose2d(G.ones([1, 2, 3, 3]), G.ones([2, 1, 3, 3]), null, { stride: 2, outputPadding: 2 })).message).toMatch(/outputPadding \(2, 2\) must be smaller than stride or dilation/);
    expect(errorOf(() => F.groupNorm(G.ones([1, 6, 2]), 4)).message).toMatch(/groupNorm: numGroups 4 must be a positive integer dividing the 6 channels/);
    expect(errorOf(() => F.layerNorm(x, [2])).message).toMatch(/normalizedShape \[2\] must be the trailing dims of the input \[2,3\]/);
    expect(errorOf(() => F.crossEntropy(x, [0, 3])).message).toMatch(/label 1 is 3, outside the 3 classes/);
    expect(errorOf(() => F.crossEntropy(x, x, { ignoreIndex: 0 })).message).toMatch(/ignoreIndex cannot be used with probability targets/);
    expect(errorOf(() => F.crossEntropy(x, [0, 1], { reduction: 'avg' as never })).message).toMatch(/reduction must be 'mean', 'sum' or 'none'/);
    expect(errorOf(() => F.crossEntropy(x, [0, 1], { weight: G.ones([2]) })).message).toMatch(/weight must have shape \[3\]/);
    expect(errorOf(() => F.dropout(x, 1.5)).message).toMatch(/dropout: p must be a probability in \[0, 1\], got 1.5/);
    expect(errorOf(() => G.randint(3, 3, [2])).message).toMatch(/randint: expected integers low < high/);
  });

  it('dropout is seeded, scales the kept values by 1/(1 − p) and routes the gradient through the same mask', async () => {
    const x = G.ones([4000], { requiresGrad: true });
    manualSeed(7);
    const a = F.dropout(x, 0.25);
    manualSeed(7);
    const b = F.dropout(x, 0.25);
    const va = await arr(a);
    expect(va).toEqual(await arr(b));
    const zeros = va.filter((v) => v === 0).length;
    expect(zeros / va.length).toBeGreaterThan(0.22);
    expect(zeros / va.length).toBeLessThan(0.28);
    expect(new Set(va.filter((v) => v !== 0)).size).toBe(1);
    expect(va.find((v) => v !== 0)).toBeCloseTo(1 / 0.75, 6);
    G.sum(a).backward();
    expect(await arr(x.grad!)).toEqual(va);
    expect(await arr(F.dropout(x, 0.9, false))).toEqual(await arr(x));
    expect((await arr(F.dropout(x, 1))).every((v) => v === 0)).toBe(true);
    const g = new G.Generator(3);
    const g2 = new G.Generator(3);
    expect(await arr(F.dropout(x, 0.5, true, { generator: g }))).toEqual(await arr(F.dropout(x, 0.5, true, { generator: g2 })));
  });

  it('randint draws seeded integers in [low, high) in both call forms', async () => {
    manualSeed(11);
    const a = await arr(G.randint(5, [1000]));
    manualSeed(11);
    expect(await arr(G.randint(0, 5, [1000]))).toEqual(a);
    expect(a.every((v) => Number.isInteger(v) && v >= 0 && v < 5)).toBe(true);
    expect(new Set(a).size).toBe(5);
    const b = await arr(G.randint(-3, 2, [2, 50]));
    expect(b.every((v) => v >= -3 && v < 2)).toBe(true);
    expect(G.randint(-3, 2, [2, 50]).shape).toEqual([2, 50]);
  });

  it('PyTorch conventions: destructuring topk/sort, .T, t(), dim(), numel(), cat, squeeze/unsqueeze methods', async () => {
    const x = tensor([[3, 1, 2], [0, 5, 4]]);
    const [values, indices] = x.topk(2);
    const r = x.topk(2);
    expect(await values.toArray()).toEqual([[3, 2], [5, 4]]);
    expect(await indices.toArray()).toEqual([[0, 2], [1, 2]]);
    expect(await r.values.toArray()).toEqual(await values.toArray());
    const { values: sv, indices: si } = x.sort(0, { descending: true });
    expect(await sv.toArray()).toEqual([[3, 5, 4], [0, 1, 2]]);
    expect(await si.toArray()).toEqual([[0, 1, 1], [1, 0, 0]]);
    expect(x.T.shape).toEqual([3, 2]);
    expect(G.ones([2, 3, 4]).T.shape).toEqual([4, 3, 2]);
    expect(x.t().shape).toEqual([3, 2]);
    expect(G.ones([3]).t().shape).toEqual([3]);
    expect(x.dim()).toBe(2);
    expect(x.numel()).toBe(6);
    expect(G.cat).toBe(G.concat);
    expect(x.unsqueeze(1).shape).toEqual([2, 1, 3]);
    expect(x.unsqueeze(1).squeeze().shape).toEqual([2, 3]);
    expect(G.ones([2, 1, 1]).squeeze(1).shape).toEqual([2, 1]);
  });

  it('sort and topk keep tied values in their order (stable), on short rows and on long ones', async () => {
    const short = tensor([1, 5, 5, 3, 5]);
    expect(await G.argsort(short, -1, { descending: true }).toArray()).toEqual([1, 2, 4, 3, 0]);
    expect(await short.topk(3)[1].toArray()).toEqual([1, 2, 4]);
    const long = tensor([...Array.from({ length: 70 }, (_, i) => -i), 5, 5, 2, 5]);
    expect(await long.topk(3)[1].toArray()).toEqual([70, 71, 73]);
    expect(await long.topk(2, 0, { largest: false })[1].toArray()).toEqual([69, 68]);
  });

  it('clone has its own storage and passes gradients', async () => {
    const x = tensor([1, 2, 3], undefined, { requiresGrad: true });
    const c = x.clone();
    expect(c).not.toBe(x);
    G.sum(G.mul(c, 2)).backward();
    expect(await arr(x.grad!)).toEqual([2, 2, 2]);
    x.dispose();
    expect(await arr(c)).toEqual([1, 2, 3]);
  });

  it('infinities: where with ±∞ branches, clamp with infinite bounds, BCE at p = 0 and 1', async () => {
    const x = tensor([1, -2, 3]);
    const m = G.gt(x, 0);
    expect(await arr(G.where(m, x, -Infinity))).toEqual([1, -Infinity, 3]);
    expect(await arr(G.where(m, Infinity, x))).toEqual([Infinity, -2, Infinity]);
    // The branch not taken may hold NaN or ±∞ (a masked-product where would turn them into NaN).
    const wild = tensor([Number.NaN, Infinity, -Infinity]);
    expect(await arr(G.where(tensor([0, 0, 0]), wild, x))).toEqual([1, -2, 3]);
    expect(await arr(G.clamp(tensor([-Infinity, Infinity, Number.NaN]), -1, 1))).toEqual([-1, 1, Number.NaN]);
    expect(await arr(F.hardtanh(tensor([-Infinity, Infinity])))).toEqual([-1, 1]);
    expect(await arr(F.relu6(tensor([Infinity, -Infinity])))).toEqual([6, 0]);
    expect(await arr(F.softplus(tensor([Infinity, -Infinity])))).toEqual([Infinity, 0]);
    expect(await arr(F.elu(tensor([Infinity, -Infinity])))).toEqual([Infinity, -1]);
    expect(await arr(G.clamp(x, -Infinity, 2))).toEqual([1, -2, 2]);
    expect(await arr(G.clamp(x, 0, Infinity))).toEqual([1, 0, 3]);
    const loss = F.binaryCrossEntropy(tensor([0, 1, 0, 1]), tensor([0, 1, 1, 0]), { reduction: 'none' });
    expect((await arr(loss)).map((v) => v + 0)).toEqual([0, 0, 100, 100]);
    expect(await arr(F.sigmoid(tensor([-200, 200])))).toEqual([0, 1]);
    const big = tensor([-200, 200], undefined, { requiresGrad: true });
    G.sum(G.add(F.sigmoid(big), F.tanh(big))).backward();
    expect(await arr(big.grad!)).toEqual([0, 0]);
  });

  it('argmax/argmin without a dim index the flattened tensor; keepdim keeps all dims as 1', async () => {
    const x = tensor([[1, 9, 9], [9, 0, 0]]);
    expect(G.argmax(x).shape).toEqual([]);
    expect(await G.argmax(x).item()).toBe(1);
    expect(await G.argmin(x).item()).toBe(4);
    expect(G.argmax(x, undefined, true).shape).toEqual([1, 1]);
    expect(await G.argmax(x, 0).toArray()).toEqual([1, 0, 0]);
    expect(await G.argmax(tensor(4)).item()).toBe(0);
  });

  it('oneHot from arrays and tensors; indices are float32 values', async () => {
    expect(await G.oneHot([1, 0, 2]).toArray()).toEqual([[0, 1, 0], [1, 0, 0], [0, 0, 1]]);
    expect(F.oneHot(tensor([[1], [3]]), 4).shape).toEqual([2, 1, 4]);
    expect(errorOf(() => G.oneHot([0, 4], 3)).message).toMatch(/labels\[1\] is 4/);
  });
});

describe.each(backends)('issue #18 index ops on $label', (tb) => {
  it('index ops copy entries: NaN and ±∞ elsewhere in x do not leak into the selected values', async () => {
    await useBackend(tb);
    const x = tensor([[1, Number.NaN, -Infinity], [Infinity, 2, 3]]);
    expect(await arr(G.indexSelect(x, 1, [0]))).toEqual([1, Infinity]);
    expect(await arr(G.gather(x, 1, tensor([[0], [2]])))).toEqual([1, 3]);
    expect(await arr(F.pad(G.slice(x, 1, 1, 2), [0, 1], { mode: 'replicate' }))).toEqual([Number.NaN, -Infinity, -Infinity, 2, 3, 3]);
    expect(await arr(F.interpolate(G.reshape(x, [1, 1, 2, 3]), { size: [2, 6] }))).toEqual([1, 1, Number.NaN, Number.NaN, -Infinity, -Infinity, Infinity, Infinity, 2, 2, 3, 3]);
    const y = tensor([[3, -Infinity, 1, 2], [Infinity, 0, 5, -1]]);
    expect(await y.sort(1).values.toArray()).toEqual([[-Infinity, 1, 2, 3], [-1, 0, 5, Infinity]]);
    expect(await y.topk(1)[0].toArray()).toEqual([[3], [Infinity]]);
  });
});
