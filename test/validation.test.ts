// JavaScript callers have no compiler: every bad argument at the public boundary (creation functions, module
// constructors) is a GpugradError naming the call and the argument, never a raw TypeError or a stack overflow;
// the values PyTorch accepts (booleans, BigInts, typed arrays, zeros(2, 3)) are accepted.
import { beforeAll, describe, expect, it } from 'vitest';
import { arange, full, nn, ones, onesLike, rand, randn, setBackend, tensor, wasmAvailable, zeros, zerosLike, type Tensor } from '../src/index.js';
import { SGD } from '../src/optim/index.js';
import { errorOf } from './helpers/errors.js';

// The calls below are deliberately ill-typed, as a JavaScript caller may write them.
const anyTensor = tensor as (...args: any[]) => Tensor;
const anyZeros = zeros as (...args: any[]) => Tensor;

function refused(fn: () => unknown, op: string, ...patterns: RegExp[]): void {
  const e = errorOf(fn);
  expect(e.op).toBe(op);
  for (const p of patterns) expect(e.message).toMatch(p);
}

const values = (t: Tensor): number[] => Array.from(t.dataSync());

beforeAll(async () => {
  await setBackend('reference');
});

describe('tensor() data from JavaScript', () => {
  it('refuses strings, null, undefined, objects, functions and symbols by name', () => {
    refused(() => anyTensor(['1', '2']), 'tensor', /data\[0\] is the string "1"/, /Number\(\)/);
    refused(() => anyTensor([[1, 2], [3, '4']]), 'tensor', /data\[1\]\[1\] is the string "4"/);
    refused(() => anyTensor('12'), 'tensor', /got the string "12"/);
    refused(() => anyTensor(null), 'tensor', /got null/);
    refused(() => anyTensor(undefined), 'tensor', /got undefined/);
    refused(() => anyTensor({ a: 1 }), 'tensor', /got an object/);
    refused(() => anyTensor([1, null]), 'tensor', /data\[1\] is null/);
    refused(() => anyTensor([1, undefined]), 'tensor', /data\[1\] is undefined/);
    refused(() => anyTensor([{}]), 'tensor', /data\[0\] is an object/);
    refused(() => anyTensor([() => 1]), 'tensor', /data\[0\] is a function/);
    refused(() => anyTensor([Symbol('s')]), 'tensor', /data\[0\] is a symbol/);
    refused(() => anyTensor(new Map()), 'tensor', /got a Map/);
    refused(() => anyTensor([1, , 3]), 'tensor', /data\[1\] is an empty slot/);
  });

  it('refuses a cyclic array instead of overflowing the stack', () => {
    const a: unknown[] = [];
    a.push(a);
    refused(() => anyTensor(a), 'tensor', /nested deeper than 64/);
  });

  it('refuses ragged data wherever the raggedness is', () => {
    refused(() => tensor([[1, 2], [3]]), 'tensor', /ragged/);
    refused(() => anyTensor([1, [2]]), 'tensor', /ragged/);
    refused(() => anyTensor([[1], 2]), 'tensor', /ragged/);
    refused(() => anyTensor([new Float32Array(2), new Float32Array(3)]), 'tensor', /ragged/);
  });

  it('takes booleans as 0/1 (torch.tensor([True]) is a bool tensor; gpugrad stores float32)', () => {
    const t = anyTensor([true, false, true]);
    expect(t.shape).toEqual([3]);
    expect(values(t)).toEqual([1, 0, 1]);
    expect(anyTensor(true).shape).toEqual([]);
    expect(values(anyTensor([[true], [false]]))).toEqual([1, 0]);
  });

  it('takes BigInts and BigInt64Array where a number holds them exactly, and refuses the rest by name', () => {
    expect(values(tensor(new BigInt64Array([3n, -4n])))).toEqual([3, -4]);
    expect(values(tensor(new BigUint64Array([7n])))).toEqual([7]);
    expect(values(anyTensor([1n, 2n]))).toEqual([1, 2]);
    expect(values(anyTensor(5n))).toEqual([5]);
    refused(() => tensor(new BigInt64Array([2n ** 60n])), 'tensor', /data\[0\] is the BigInt 1152921504606846976n/, /2\^53/);
    refused(() => anyTensor([[1n], [-(2n ** 62n)]]), 'tensor', /data\[1\]\[0\] is the BigInt/);
  });

  it('takes every numeric typed array, flat or as rows of nested data', () => {
    expect(values(tensor(new Int32Array([1, -2, 3])))).toEqual([1, -2, 3]);
    expect(values(tensor(new Uint8Array([0, 255])))).toEqual([0, 255]);
    expect(values(tensor(new Float64Array([0.5, 1e-3])))).toEqual([0.5, Math.fround(1e-3)]);
    expect(values(tensor(new Int16Array([-7]), [1, 1]))).toEqual([-7]);
    const rows = anyTensor([new Float32Array([1, 2]), new Float32Array([3, 4])]);
    expect(rows.shape).toEqual([2, 2]);
    expect(values(rows)).toEqual([1, 2, 3, 4]);
    // The caller's array is copied, not aliased.
    const src = new Float32Array([1, 2]);
    const t = tensor(src);
    src[0] = 9;
    expect(values(t)).toEqual([1, 2]);
  });

  it('takes tensor(data, options) like torch.tensor(data, requires_grad=True) and checks options', () => {
    expect(tensor([1, 2], { requiresGrad: true }).requiresGrad).toBe(true);
    refused(() => anyTensor([1, 2], [2], { requiresGrad: 'yes' }), 'tensor', /options.requiresGrad must be a boolean, got the string "yes"/);
    refused(() => anyTensor([1, 2], [2], 5), 'tensor', /options must be an object/);
    refused(() => anyTensor([1, 2], '2'), 'tensor', /shape must be an array of sizes/);
    refused(() => anyTensor([1, 2], [2, '1']), 'tensor', /shape \[2,"1"\] has the string "1" at index 1/);
  });
});

describe('shapes given as an array or as sizes', () => {
  it('zeros, ones, rand and randn take zeros([2, 3]) and zeros(2, 3), with options last', () => {
    for (const [name, f] of [['zeros', zeros], ['ones', ones], ['rand', rand], ['randn', randn]] as const) {
      expect(f(2, 3).shape, name).toEqual([2, 3]);
      expect(f([2, 3]).shape, name).toEqual([2, 3]);
      expect(f(3).shape, name).toEqual([3]);
      expect(f([]).shape, name).toEqual([]);
      const a = f(2, 3, { requiresGrad: true });
      const b = f([2, 3], { requiresGrad: true });
      expect([a.shape, a.requiresGrad, b.shape, b.requiresGrad], name).toEqual([[2, 3], true, [2, 3], true]);
    }
    expect(values(ones(2, 2))).toEqual([1, 1, 1, 1]);
    expect(values(zerosLike(ones(2, 1)))).toEqual([0, 0]);
    expect(onesLike(zeros(3), { requiresGrad: true }).requiresGrad).toBe(true);
  });

  it('refusals name the call the user made and the bad size, with no doubled word', () => {
    const e = errorOf(() => zeros([2.5]));
    expect(e.op).toBe('zeros');
    expect(e.message).toBe('zeros: shape [2.5] has the number 2.5 at index 0; sizes must be non-negative integers');
    refused(() => ones(2, -1), 'ones', /sizes \[2,-1\] has the number -1 at index 1/);
    refused(() => randn(2, NaN), 'randn', /NaN at index 1/);
    refused(() => anyZeros(), 'zeros', /expected a shape, as zeros\(\[2, 3\]\) or zeros\(2, 3\)/);
    refused(() => anyZeros('3'), 'zeros', /shape must be an array of sizes like \[2, 3\], got the string "3"/);
    refused(() => anyZeros(null), 'zeros', /got null/);
    refused(() => anyZeros([2], [3]), 'zeros', /expected a shape array then an options object/);
    refused(() => anyZeros(2, '3'), 'zeros', /has the string "3" at index 1/);
    refused(() => anyZeros([2], { requiresGrad: 1 }), 'zeros', /options.requiresGrad must be a boolean/);
    refused(() => (full as any)(2, 1), 'full', /shape must be an array of sizes/);
    refused(() => (full as any)([2], 'x'), 'full', /value must be a number, got the string "x"/);
    refused(() => (zerosLike as any)([2]), 'zerosLike', /expected a Tensor, got an array/);
    refused(() => (arange as any)('3'), 'arange', /start must be a number/);
  });
});

describe('module and optimizer constructors from JavaScript', () => {
  // Construct with arguments a JavaScript caller might pass; the compiler would refuse every one of them.
  const make = (C: unknown, ...args: unknown[]) => () => new (C as new (...a: unknown[]) => unknown)(...args);

  it('a missing argument is named, with the call to write', () => {
    refused(make(nn.Conv2d, 3, 4), 'Conv2d', /kernelSize must be an integer >= 1 or a pair \[h, w\] of them, got undefined/, /new Conv2d\(inChannels, outChannels, kernelSize, options\?\)/);
    refused(make(nn.Linear, 3), 'Linear', /outFeatures must be a positive integer, got undefined/, /new Linear\(inFeatures, outFeatures/);
    refused(make(nn.BatchNorm2d), 'BatchNorm2d', /numFeatures must be a positive integer, got undefined/);
    refused(make(nn.MaxPool2d), 'MaxPool2d', /kernelSize .* got undefined/, /new MaxPool2d\(kernelSize/);
    refused(make(nn.AvgPool2d), 'AvgPool2d', /kernelSize .* got undefined/);
    refused(make(nn.AdaptiveAvgPool2d), 'AdaptiveAvgPool2d', /outputSize .* got undefined/);
  });

  it('a mistyped or out-of-range argument is named with the value given', () => {
    refused(make(nn.Conv2d, '3', 4, 3), 'Conv2d', /inChannels must be a positive integer, got the string "3"/);
    refused(make(nn.Conv2d, 3, 4, [3]), 'Conv2d', /kernelSize .* got \[3\]/);
    refused(make(nn.Conv2d, 3, 4, 3, { stride: 0 }), 'Conv2d', /options.stride must be an integer >= 1/, /got the number 0/);
    refused(make(nn.Conv2d, 3, 4, 3, { padding: [1, -1] }), 'Conv2d', /options.padding must be an integer >= 0/);
    refused(make(nn.Conv2d, 3, 4, 3, { bias: 'no' }), 'Conv2d', /options.bias must be a boolean, got the string "no"/);
    refused(make(nn.Conv2d, 3, 4, 3, { strides: 2 }), 'Conv2d', /unknown option 'strides' \(known: stride, padding/);
    refused(make(nn.Conv2d, 3, 4, 3, 2), 'Conv2d', /options must be an object/, /got the number 2/);
    refused(make(nn.Linear, 3, 4, { bias: 1 }), 'Linear', /options.bias must be a boolean/);
    refused(make(nn.BatchNorm2d, 3, 0.1), 'BatchNorm2d', /options must be an object/);
    refused(make(nn.BatchNorm2d, 3, { eps: '1' }), 'BatchNorm2d', /options.eps/);
    refused(make(nn.MaxPool2d, 3, { ceilMode: 1 }), 'MaxPool2d', /options.ceilMode must be a boolean/);
    refused(make(nn.AvgPool2d, '2'), 'AvgPool2d', /got the string "2"/);
    refused(make(nn.AvgPool2d, 2, { dilation: 2 }), 'AvgPool2d', /unknown option 'dilation'/);
    refused(make(nn.AdaptiveAvgPool2d, [1, 0]), 'AdaptiveAvgPool2d', /outputSize .* got \[1,0\]/);
    refused(make(nn.Flatten, 'a'), 'Flatten', /startDim must be an integer/);
    refused(make(nn.Sequential, new nn.ReLU(), 3), 'Sequential', /argument 1 must be a Module, got the number 3/);
    refused(make(nn.Sequential, [new nn.ReLU()]), 'Sequential', /argument 0 must be a Module, got an array/, /new Sequential\(\.\.\.list\)/);
    refused(make(SGD), 'SGD', /params must be an iterable of tensors, got undefined/);
    refused(make(SGD, ones([2], { requiresGrad: true }), { lr: 0.1 }), 'SGD', /got a Tensor \[2\]; wrap a single tensor in an array/);
  });

  it('valid calls still build, in every form the typings allow', () => {
    expect(new nn.Conv2d(3, 4, [3, 1], { stride: [2, 1], padding: 1, dilation: 1, groups: 1, bias: false }).weight.shape).toEqual([4, 3, 3, 1]);
    expect(new nn.Conv2d(3, 4, 3, { stride: undefined }).stride).toEqual([1, 1]);
    expect(new nn.Linear(3, 4, { bias: false }).bias).toBeNull();
    expect(new nn.BatchNorm2d(3, { momentum: null, affine: false, trackRunningStats: true, eps: 1e-3 }).momentum).toBeNull();
    expect(new nn.MaxPool2d([2, 2], { stride: 1, padding: 1, dilation: 1, ceilMode: true }).options.ceilMode).toBe(true);
    expect(new nn.AvgPool2d(2, { countIncludePad: false }).options.kernelSize).toBe(2);
    expect(new nn.AdaptiveAvgPool2d([1, 1]).outputSize).toEqual([1, 1]);
    expect(new nn.Sequential(new nn.ReLU(), new nn.Flatten(0, -1)).length).toBe(2);
  });
});

describe.runIf(wasmAvailable())('sizes are checked against the backend before any host copy', () => {
  it('a tensor larger than the wasm heap is refused at once, naming the bytes, the limit and what to do', async () => {
    const b = await setBackend('wasm', { threads: 1 });
    expect(b.maxBytes).toBe(4 * 1024 ** 3);
    const t0 = performance.now();
    for (const [op, f] of [['zeros', () => zeros(1.1e9)], ['randn', () => randn([1.1e9])], ['rand', () => rand(1.1e9)], ['full', () => full([1.1e9], 2)], ['arange', () => arange(1.1e9)]] as const) {
      refused(f, op, /needs 4400000000 bytes \(4\.1 GiB\)/, /'wasm' backend holds at most 4294967296 bytes \(4 GiB\)/, /smaller shape or batch/);
    }
    // Refused before any allocation: randn([1.1e9]) used to spend over a minute filling two host copies.
    expect(performance.now() - t0).toBeLessThan(5000); // generous: a loaded CI machine, not a speed test
    // The backend is still usable afterwards.
    expect(values(ones(2))).toEqual([1, 1]);
    await setBackend('reference');
  });
});
