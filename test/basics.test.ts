// Smoke checks of the tensor core: creation, broadcasting, autograd accumulation, tidy and memory.
import { describe, expect, it } from 'vitest';
import { F, memory, noGrad, ones, tensor, tidy, zeros, GpugradError } from '../src/index.js';

describe('tensor core', () => {
  it('creates tensors and reads them back', async () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.size).toBe(6);
    expect(Array.from(await t.data())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    t.dispose();
  });

  it('broadcasts and differentiates, accumulating into .grad', () => {
    const a = tensor([1, 2, 3], [3], { requiresGrad: true });
    const b = tensor([[2], [3]], undefined, { requiresGrad: true });
    const y = a.mul(b).sum();
    y.backward();
    expect(Array.from(a.grad!.dataSync())).toEqual([5, 5, 5]);
    expect(Array.from(b.grad!.dataSync())).toEqual([6, 6]);
    a.mul(2).sum().backward();
    expect(Array.from(a.grad!.dataSync())).toEqual([7, 7, 7]);
  });

  it('tidy frees everything but the result, and memory() counts it', () => {
    const before = memory().tensors;
    const kept = tidy(() => {
      const x = ones([4, 4]);
      return x.add(zeros([4])).mul(3).sum();
    });
    expect(memory().tensors).toBe(before + 1);
    expect(kept.itemSync()).toBe(48);
    kept.dispose();
    expect(memory().tensors).toBe(before);
  });

  it('noGrad records nothing', () => {
    const a = tensor([1, 2], [2], { requiresGrad: true });
    const y = noGrad(() => a.mul(2));
    expect(y.requiresGrad).toBe(false);
  });

  it('names the op, the shapes and the rule in errors', () => {
    const x = zeros([1, 256, 8, 8]);
    const w = zeros([64, 128, 1, 1]);
    expect(() => F.conv2d(x, w)).toThrow(GpugradError);
    expect(() => F.conv2d(x, w)).toThrow('conv2d: input has 256 channels but weight expects 128 (weight [64,128,1,1], groups 1)');
    expect(() => tensor([1, 2, 3]).add(tensor([1, 2]))).toThrow(/add: shapes \[3\] and \[2\] cannot be broadcast/);
  });
});
