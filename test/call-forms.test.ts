// PyTorch's positional call forms in F (F.maxPool2d(x, 3, 2, 1), F.conv2d(x, w, b, stride, padding, …)) give the
// same values as the options-object forms; wrong types, misplaced options and unknown option names are refused
// with a GpugradError that shows the accepted forms (a typo in an option name is never ignored).
import { describe, expect, it } from 'vitest';
import { F, nn, randn, manualSeed, tensor, type Tensor } from '../src/index.js';
import { errorOf } from './helpers/errors.js';

async function same(a: Tensor, b: Tensor): Promise<void> {
  expect(a.shape).toEqual(b.shape);
  expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
}

describe('positional call forms', () => {
  manualSeed(11);
  const x = randn([2, 4, 9, 9]);

  it('maxPool2d(x, kernelSize, stride, padding, dilation, ceilMode)', async () => {
    await same(F.maxPool2d(x, 3, 2, 1), F.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }));
    await same(F.maxPool2d(x, 3), F.maxPool2d(x, { kernelSize: 3 }));
    // stride null is PyTorch's None: the kernel size.
    await same(F.maxPool2d(x, [2, 3], null, [1, 0], 2, true), F.maxPool2d(x, { kernelSize: [2, 3], padding: [1, 0], dilation: 2, ceilMode: true }));
  });

  it('avgPool2d(x, kernelSize, stride, padding, ceilMode, countIncludePad)', async () => {
    await same(F.avgPool2d(x, 3, 2, 1), F.avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }));
    await same(F.avgPool2d(x, 3, 2, 1, true, false), F.avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false }));
  });

  it('conv2d(x, weight, bias, stride, padding, dilation, groups)', async () => {
    const w = randn([6, 2, 3, 3]);
    const b = randn([6]);
    await same(F.conv2d(x, w, b, 2, 1, 1, 2), F.conv2d(x, w, b, { stride: 2, padding: 1, groups: 2 }));
    const w4 = randn([5, 4, 3, 3]);
    await same(F.conv2d(x, w4, undefined, 1, [2, 1], 2), F.conv2d(x, w4, null, { padding: [2, 1], dilation: 2 }));
  });

  it("conv2d's padding 'valid' and 'same' (PyTorch's strings)", async () => {
    const w = randn([3, 4, 3, 5]);
    await same(F.conv2d(x, w, null, 1, 'valid'), F.conv2d(x, w, null, { padding: 0 }));
    const y = F.conv2d(x, w, null, { padding: 'same', dilation: [2, 1] });
    expect(y.shape).toEqual([2, 3, 9, 9]);
    await same(y, F.conv2d(x, w, null, 1, [2, 2], [2, 1]));
    expect(errorOf(() => F.conv2d(x, w, null, 2, 'same')).message).toMatch(/^conv2d: padding 'same' needs stride 1/);
    expect(errorOf(() => F.conv2d(x, randn([3, 4, 2, 2]), null, 1, 'same')).message).toMatch(/needs uneven padding/);
    expect(errorOf(() => F.conv2d(x, w, null, 1, 'full' as never)).message).toMatch(/padding must be an integer >= 0 or a pair of them, got the string "full"; accepted forms: .*'valid' or 'same'/);
  });

  it('unfold(x, kernelSize, dilation, padding, stride) in PyTorch\'s order', async () => {
    await same(F.unfold(x, 3, 2, 1, 2), F.unfold(x, 3, { dilation: 2, padding: 1, stride: 2 }));
  });

  it('batchNorm2d(x, runningMean, runningVar, weight, bias, training, momentum, eps)', async () => {
    const mk = (): Tensor[] => [tensor([0.1, 0.2, 0.3, 0.4]), tensor([1, 2, 3, 4])];
    const [m1, v1] = mk();
    const [m2, v2] = mk();
    const w = randn([4]);
    const b = randn([4]);
    await same(F.batchNorm2d(x, m1, v1, w, b, true, 0.3, 1e-3), F.batchNorm2d(x, m2, v2, w, b, { training: true, momentum: 0.3, eps: 1e-3 }));
    await same(m1, m2); // the running statistics moved with the same momentum
    await same(F.batchNorm2d(x, m1, v1, null, null, false, 0.1, 1e-2), F.batchNorm2d(x, m2, v2, null, null, { eps: 1e-2 }));
  });
});

describe('refused call forms show the accepted ones', () => {
  const x = randn([1, 2, 6, 6]);
  const w = randn([3, 2, 3, 3]);

  it('unknown option names, with a camelCase hint for snake_case', () => {
    const e = errorOf(() => F.maxPool2d(x, { kernelSize: 2, ceil_mode: true } as never));
    expect(e.message).toMatch(/^maxPool2d: unknown option 'ceil_mode' in the options \(did you mean 'ceilMode'\?\)/);
    expect(e.message).toMatch(/accepted forms: maxPool2d\(input, kernelSize, stride\?, padding\?, dilation\?, ceilMode\?\)/);
    expect(errorOf(() => F.conv2d(x, w, null, { strides: 2 } as never)).message).toMatch(/^conv2d: unknown option 'strides'.*known options: stride, padding, dilation, groups/);
    expect(errorOf(() => F.avgPool2d(x, { kernelSize: 2, count_include_pad: false } as never)).message).toMatch(/did you mean 'countIncludePad'/);
    expect(errorOf(() => F.unfold(x, 2, { strid: 1 } as never)).message).toMatch(/^unfold: unknown option 'strid'/);
    expect(errorOf(() => F.batchNorm2d(x, null, null, null, null, { training: true, momentun: 0.2 } as never)).message).toMatch(/^batchNorm2d: unknown option 'momentun'/);
    const ep = { scale: randn([3]), shift: randn([3]), reLU: true };
    expect(errorOf(() => F.conv2dAffine(x, w, ep as never)).message).toMatch(/^conv2dAffine: unknown option 'reLU' in the epilogue/);
    expect(errorOf(() => F.conv2dAffine(x, w, { scale: randn([3]), shift: randn([3]) }, { pad: 1 } as never)).message).toMatch(/^conv2dAffine: unknown option 'pad'/);
    // Module constructors refuse them too, when the module is made (their own checks, src/nn/layers.ts).
    expect(errorOf(() => new nn.MaxPool2d(2, { strides: 2 } as never)).message).toMatch(/^MaxPool2d: unknown option 'strides'/);
  });

  it('wrong types and misplaced or extra arguments', () => {
    const forms = /accepted forms: maxPool2d\(input, kernelSize/;
    expect(errorOf(() => F.maxPool2d(x, '3' as never)).message).toMatch(forms);
    expect(errorOf(() => F.maxPool2d(x, [2, 2, 2] as never)).message).toMatch(/kernelSize must be an integer >= 1 or a pair of them, got \[2,2,2\]/);
    expect(errorOf(() => F.maxPool2d(x, 2, { stride: 1 } as never)).message).toMatch(/an options object must come right after the tensor arguments/);
    expect(errorOf(() => (F.maxPool2d as (...a: unknown[]) => Tensor)(x, { kernelSize: 2 }, 1)).message).toMatch(/an options object must be the last argument/);
    expect(errorOf(() => (F.maxPool2d as (...a: unknown[]) => Tensor)(x, 2, 2, 0, 1, false, true)).message).toMatch(/takes at most 5 values .*got 6/);
    expect(errorOf(() => F.maxPool2d(x, 2, 2, 0, 1, 'yes' as never)).message).toMatch(/ceilMode must be a boolean, got the string "yes"/);
    expect(errorOf(() => F.maxPool2d(x, { stride: 2 } as never)).message).toMatch(/kernelSize is required; accepted forms/);
    expect(errorOf(() => F.conv2d(x, w, { stride: 2 } as never)).message).toMatch(/^conv2d: bias must be a Tensor or null, got an object; accepted forms: conv2d\(input, weight, bias\?, stride\?/);
    expect(errorOf(() => F.conv2d(x, w, null, 1, 1, 1, 1.5)).message).toMatch(/groups must be a positive integer, got 1.5; accepted forms/);
    expect(errorOf(() => (F.avgPool2d as (...a: unknown[]) => Tensor)(x, 2, 2, 0, false, true, 3)).message).toMatch(/^avgPool2d: takes at most 5 values/);
    expect(errorOf(() => F.batchNorm2d(x, null, null, null, null, 'train' as never)).message).toMatch(/training must be a boolean, got the string "train"/);
  });
});
