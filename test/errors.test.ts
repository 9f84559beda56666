// Bad calls throw a GpugradError that names the op, the argument, the shapes and the rule that was broken.
import { beforeEach, describe, expect, it } from 'vitest';
import { F, GpugradError, concat, matmul, ones, permute, reshape, slice, sum, tensor, zeros, type Tensor } from '../src/index.js';
import { availableBackends, testBackends, useBackend } from './helpers/backends.js';


const backends = await availableBackends(testBackends);

/** Runs `fn`, expecting a GpugradError from `op` whose message matches every pattern. */
function expectError(fn: () => unknown, op: string, ...patterns: RegExp[]): GpugradError {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${op} to throw`).toBeInstanceOf(GpugradError);
  const err = caught as GpugradError;
  expect(err.op).toBe(op);
  expect(err.message.startsWith(`${op}: `)).toBe(true);
  for (const p of patterns) expect(err.message).toMatch(p);
  return err;
}

describe.each(backends)('bad calls on $label', (tb) => {
  beforeEach(async () => {
    await useBackend(tb);
  });

  it('shape mismatches name both shapes and the rule', () => {
    expectError(() => ones([2, 3]).add(ones([4, 3])), 'add', /\[2,3\]/, /\[4,3\]/, /cannot be broadcast/, /must match or one must be 1/);
    expectError(() => ones([2, 3]).mul(ones([2])), 'mul', /\[2,3\] and \[2\]/);
    expectError(() => matmul(ones([2, 3]), ones([4, 5])), 'matmul', /\[2,3\]/, /\[4,5\]/, /3 columns/, /4 rows/);
    expectError(() => matmul(ones([2, 2, 3]), ones([3, 3, 4])), 'matmul', /\[2\] and \[3\]/, /cannot be broadcast/);
    expectError(() => reshape(ones([2, 3]), [4, 2]), 'reshape', /\[4,2\]/, /\[2,3\]/, /size 6/);
    expectError(() => reshape(ones([2, 3]), [-1, -1]), 'reshape', /only one dimension can be -1/);
    expectError(() => concat([ones([2, 3]), ones([2, 4])], 0), 'concat', /tensors\[1\] has shape \[2,4\]/, /\[2,3\]/, /except axis 0/);
    // PyTorch refuses 0-d tensors here; this once returned shape [] holding no data.
    expectError(() => concat([tensor([3], []), tensor([4], [])], 0), 'concat', /zero-dimensional/, /shape \[\]/);
    expectError(() => slice(ones([4]), 0, 3, 2), 'slice', /start 3, length 2/, /size 4/);
    expectError(() => F.conv2d(ones([1, 3, 5, 5]), ones([4, 2, 3, 3])), 'conv2d', /input has 3 channels but weight expects 2/, /\[4,2,3,3\]/);
    expectError(() => F.conv2d(ones([1, 4, 5, 5]), ones([6, 2, 3, 3]), null, { groups: 3 }), 'conv2d', /4 are not divisible by groups 3/);
    expectError(() => F.conv2d(ones([1, 2, 5, 5]), ones([4, 2, 3, 3]), ones([3])), 'conv2d', /bias must have shape \[4\]/, /\[3\]/);
    expectError(() => F.conv2d(ones([1, 1, 2, 2]), ones([1, 1, 3, 3])), 'conv2d', /effective size 3/, /does not fit input 2/);
    expectError(() => F.linear(ones([2, 5]), ones([3, 4])), 'linear', /5 features/, /\[2,5\]/, /\[3,4\]/, /expects 4/);
    expectError(() => F.mseLoss(ones([2, 3]), ones([3, 2])), 'mseLoss', /\[2,3\]/, /\[3,2\]/, /same shape/);
    expectError(() => F.batchNorm2d(ones([2, 3, 2, 2]), zeros([4]), ones([4])), 'batchNorm2d', /runningMean must have shape \[3\]/, /\[2,3,2,2\]/, /\[4\]/);
    expectError(() => F.maxPool2d(ones([1, 1, 4, 4]), { kernelSize: 2, padding: 2 }), 'maxPool2d', /padding 2/, /half of the kernel size 2/);
    // PyTorch's bound ignores dilation: kernel 3 allows padding 1 even when dilation 2 spans 5 inputs.
    expectError(() => F.maxPool2d(ones([1, 1, 6, 6]), { kernelSize: 3, padding: 2, dilation: 2 }), 'maxPool2d', /padding 2/, /half of the kernel size 3/);
    expectError(() => F.avgPool2d(ones([1, 1, 6, 6]), { kernelSize: [3, 2], padding: [1, 2] }), 'avgPool2d', /padding 2/, /half of the kernel size 2/);
  });

  it('wrong ranks are refused at the call', () => {
    expectError(() => F.conv2d(ones([3, 5, 5]), ones([4, 3, 3, 3])), 'conv2d', /input must be 4-D \[N, C, H, W\]/, /\[3,5,5\]/);
    expectError(() => F.conv2d(ones([1, 3, 5, 5]), ones([4, 3, 3])), 'conv2d', /weight must be 4-D/, /\[4,3,3\]/);
    expectError(() => F.batchNorm2d(ones([2, 3]), zeros([3]), ones([3])), 'batchNorm2d', /4-D/, /\[2,3\]/);
    expectError(() => F.maxPool2d(ones([4, 4]), { kernelSize: 2 }), 'maxPool2d', /4-D/, /\[4,4\]/);
    expectError(() => F.avgPool2d(ones([1, 4, 4]), { kernelSize: 2 }), 'avgPool2d', /4-D/, /\[1,4,4\]/);
    expectError(() => F.adaptiveAvgPool2d(ones([4]), 1), 'adaptiveAvgPool2d', /4-D/);
    expectError(() => F.crossEntropy(ones([5]), [0]), 'crossEntropy', /logits must be 2-D/, /\[5\]/);
    expectError(() => F.linear(ones([2, 3]), ones([3])), 'linear', /weight must be 2-D/, /\[3\]/);
    expectError(() => matmul(tensor(2), ones([2])), 'matmul', /at least 1 dimension/);
    expectError(() => permute(ones([2, 3]), [0, 1, 2]), 'permute', /3 entries for a tensor of rank 2/);
    expectError(() => permute(ones([2, 3]), [0, 0]), 'permute', /not a permutation of 0..1/);
    expectError(() => sum(ones([2, 3]), 2), 'sum', /axis 2 is out of range for a tensor of rank 2/);
    expectError(() => sum(ones([2, 3]), [1, -1]), 'sum', /repeated/);
  });

  it('bad parameters name the parameter and the allowed range', () => {
    const x = ones([1, 2, 4, 4]);
    const w = ones([2, 2, 3, 3]);
    expectError(() => F.conv2d(x, w, null, { stride: 0 }), 'conv2d', /stride must be an integer >= 1/, /0/);
    expectError(() => F.conv2d(x, w, null, { padding: -1 }), 'conv2d', /padding must be an integer >= 0/);
    expectError(() => F.conv2d(x, w, null, { dilation: [1, 0] }), 'conv2d', /dilation must be an integer >= 1/, /\[1,0\]/);
    expectError(() => F.conv2d(x, ones([2, 1, 3, 3]), null, { groups: 1.5 }), 'conv2d', /groups must be a positive integer, got 1.5/);
    expectError(() => F.maxPool2d(x, { kernelSize: 0 }), 'maxPool2d', /kernelSize must be an integer >= 1/);
    expectError(() => F.avgPool2d(x, { kernelSize: 2, stride: [2, 2.5] }), 'avgPool2d', /stride/, /\[2,2.5\]/);
    expectError(() => F.adaptiveAvgPool2d(x, [0, 1]), 'adaptiveAvgPool2d', /outputSize must be an integer >= 1/);
    expectError(() => F.batchNorm2d(x, zeros([2]), ones([2]), null, null, { eps: 0 }), 'batchNorm2d', /eps must be positive, got 0/);
    expectError(() => F.batchNorm2d(ones([1, 2, 1, 1]), zeros([2]), ones([2]), null, null, { training: true }), 'batchNorm2d', /more than 1 value per channel/, /\[1,2,1,1\]/);
    expectError(() => F.batchNorm2d(x, null, null), 'batchNorm2d', /running statistics are required when not training/);
    expectError(() => F.batchNorm2d(x, zeros([2]), null, null, null, { training: true }), 'batchNorm2d', /both be given or both be null/);
    expectError(() => ones([3]).pow(Number.NaN), 'pow', /exponent must be a finite number, got NaN/);
    expectError(() => reshape(ones([4]), [2, 1.5]), 'reshape', /not a non-negative integer/);
    expectError(() => slice(ones([4]), 0, -1, 2), 'slice', /start -1/);
    expectError(() => tensor([[1, 2], [3]]), 'tensor', /ragged nested array/);
    expectError(() => tensor([1, 2, 3], [2, 2]), 'tensor', /3 values cannot fill shape \[2,2\]/);
  });

  it('a disposed tensor cannot be used', () => {
    const t = ones([2, 2]);
    t.dispose();
    expect(() => t.add(1)).toThrow(GpugradError);
    expect(() => t.add(1)).toThrow(/after dispose\(\)/);
  });

  it('labels must be integer class indices within range', () => {
    const logits = zeros([3, 4]);
    expectError(() => F.crossEntropy(logits, [0, 1.5, 2]), 'crossEntropy', /label 1 is 1.5, not an integer class index/);
    expectError(() => F.crossEntropy(logits, [0, 1, Number.NaN]), 'crossEntropy', /label 2 is NaN/);
    expectError(() => F.crossEntropy(logits, [0, 4, 1]), 'crossEntropy', /label 1 is 4, outside the 4 classes \[0, 3\]/);
    expectError(() => F.crossEntropy(logits, [-1, 0, 1]), 'crossEntropy', /label 0 is -1, outside the 4 classes/);
    expectError(() => F.crossEntropy(logits, [0, 1]), 'crossEntropy', /2 labels for a batch of 3/);
    expectError(() => F.crossEntropy(logits, tensor([0, 1])), 'crossEntropy', /labels must have shape \[3\]/, /\[3,4\]/, /\[2\]/);
    // Tensor labels are validated where the backend can read them synchronously (on the host).
    if (logits.backend.readSync) {
      expectError(() => F.crossEntropy(logits, tensor([0, 0.5, 1])), 'crossEntropy', /label 1 is 0.5/);
      expectError(() => F.crossEntropy(logits, tensor([0, 1, 7])), 'crossEntropy', /label 2 is 7, outside/);
    }
  });

  it('backward on a non-scalar needs a gradient of the output shape', () => {
    const x = tensor([1, 2, 3], [3], { requiresGrad: true });
    const y: Tensor = x.mul(2);
    expectError(() => y.backward(), 'backward', /one-element output/, /shape \[3\]/, /pass backward\(gradient\)/);
    expectError(() => y.backward(ones([2])), 'backward', /gradient shape \[2\] does not match output shape \[3\]/);
    expectError(() => ones([2]).sum().backward(), 'backward', /does not require grad/);
    // A one-element output of any rank is fine, and so is an explicit gradient.
    x.mul(2).sum([0], true).backward();
    y.backward(ones([3]));
    expect(x.grad?.shape).toEqual([3]);
  });

  it('a second backward through a freed graph is refused', () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    const y = x.exp().sum();
    y.backward();
    // sum() records a reshape primitive; the message must not name an op the user never called.
    const err = expectError(() => y.backward(), 'backward', /already freed by an earlier backward\(\)/, /retainGraph/);
    expect(err.message).not.toMatch(/reshape/);
  });
});
