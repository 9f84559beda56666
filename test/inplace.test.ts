// In-place ops (add_, mul_, zero_, fill_, copy_, clamp_, sub_, div_) on every test backend: the values change in
// the tensor's own storage (views see them), and a change to a value the graph saved makes backward() refuse, as
// PyTorch's version counter does; tensors that require grad are refused while gradients are recorded.
import { beforeEach, describe, expect, it } from 'vitest';
import * as G from '../src/index.js';
import { noGrad, tensor, type Tensor } from '../src/index.js';
import { availableBackends, testBackends, useBackend } from './helpers/backends.js';

import { errorOf } from './helpers/errors.js';

const backends = await availableBackends(testBackends);
const arr = async (t: Tensor): Promise<number[]> => Array.from(await t.data());

describe.each(backends)('in-place ops on $label', (tb) => {
  beforeEach(async () => {
    await useBackend(tb);
  });

  it('change the values in place, return the tensor itself, and views see the change', async () => {
    const x = tensor([1, -2, 3, -4], [2, 2]);
    const view = x.reshape([4]);
    expect(x.add_(1)).toBe(x);
    expect(await arr(view)).toEqual([2, -1, 4, -3]);
    x.add_(tensor([10, 20]), { alpha: 0.5 });
    expect(await arr(x)).toEqual([7, 9, 9, 7]);
    x.sub_(1).mul_(tensor([[1], [-1]])).div_(2);
    expect(await arr(x)).toEqual([3, 4, -4, -3]);
    x.clamp_(-3.5, 3.5);
    expect(await arr(view)).toEqual([3, 3.5, -3.5, -3]);
    x.copy_(tensor([5, 6]));
    expect(await arr(x)).toEqual([5, 6, 5, 6]);
    x.fill_(2.5);
    expect(await arr(view)).toEqual([2.5, 2.5, 2.5, 2.5]);
    x.zero_();
    expect(await arr(view)).toEqual([0, 0, 0, 0]);
    expect(errorOf(() => x.add_(G.ones([3, 2, 2]))).message).toMatch(/add_: the result has shape \[3,2,2\] but the tensor changed in place has \[2,2\]/);
    expect(errorOf(() => x.add_(1, { alhpa: 2 } as never)).message).toMatch(/unknown option 'alhpa'/);
  });

  it.each([
    ['add_', (w: Tensor) => w.add_(1)],
    ['mul_', (w: Tensor) => w.mul_(2)],
    ['zero_', (w: Tensor) => w.zero_()],
    ['fill_', (w: Tensor) => w.fill_(3)],
    ['copy_', (w: Tensor) => w.copy_(G.onesLike(w))],
    ['clamp_', (w: Tensor) => w.clamp_(0, 0.5)],
  ] as const)('%s on a value the graph saved makes backward() refuse', async (_name, change) => {
    const x = tensor([1, 2, 3], [3], { requiresGrad: true });
    const w = tensor([0.25, -1, 2]);
    const y = G.sum(G.mul(x, w)); // mul saves w for x's gradient
    change(w);
    const e = errorOf(() => y.backward());
    expect(e.op).toBe('backward');
    expect(e.message).toMatch(/modified in place since the forward pass/);
  });

  it('a change to an output whose rule reads it (exp, sigmoid, relu, sqrt) makes backward() refuse too', async () => {
    for (const f of [G.exp, G.sigmoid, G.relu, G.sqrt]) {
      const x = tensor([1, 2], [2], { requiresGrad: true });
      const y = f(x);
      const z = G.sum(y);
      noGrad(() => y.mul_(0));
      expect(errorOf(() => z.backward()).message).toMatch(/the output \[2\] of op '\w+' is needed for its gradient but was modified in place/);
    }
  });

  it('a change to a value the graph does not read leaves backward alone (as PyTorch: add keeps no operand)', async () => {
    const x = tensor([1, 2, 3], [3], { requiresGrad: true });
    const w = tensor([0.25, -1, 2]);
    const y = G.sum(G.add(x, w));
    w.mul_(3);
    y.backward();
    expect(await arr(x.grad!)).toEqual([1, 1, 1]);
  });

  it('tensors that require grad change only inside noGrad (an optimizer-style update), and the version still guards', async () => {
    const p = tensor([1, 2], [2], { requiresGrad: true });
    expect(errorOf(() => p.add_(1)).message).toMatch(/add_: a leaf tensor that requires grad .* inside noGrad/);
    const h = G.mul(p, 2);
    expect(errorOf(() => h.mul_(2)).message).toMatch(/mul_: tensor #\d+ \[2\] is the output of a recorded op/);
    expect(errorOf(() => tensor([0, 0]).add_(p)).message).toMatch(/an argument requires grad/);
    const y = G.sum(G.mul(p, p));
    noGrad(() => p.sub_(tensor([0.5, 0.5])));
    expect(await arr(p)).toEqual([0.5, 1.5]);
    expect(errorOf(() => y.backward()).message).toMatch(/modified in place/);
    // A fresh graph after the update differentiates the new values.
    G.sum(G.mul(p, p)).backward();
    expect(await arr(p.grad!)).toEqual([1, 3]);
  });
});
