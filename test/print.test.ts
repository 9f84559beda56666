// Printing a tensor: console.log / util.inspect, toString() and String(t) show the values laid out as PyTorch
// 1.13 prints them (the expected texts below are its output for the same values), then shape, backend and
// autograd state; a backend that cannot read synchronously says how to get the values.
import { inspect } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { GpugradError, arange, ones, setBackend, setPrintOptions, tensor, zeros, type Backend } from '../src/index.js';
import { fromStorage } from '../src/tensor.js';

let ref: Backend;
beforeAll(async () => {
  ref = await setBackend('reference');
});

/** The values part of the text: what lies between 'tensor(' and ', shape='. */
const body = (s: string): string => s.slice('tensor('.length, s.lastIndexOf(', shape='));

describe('printing a tensor', () => {
  it('console.log / util.inspect, toString() and String() give the same text, not the backend internals', () => {
    const t = tensor([1, 2, 3]);
    const text = 'tensor([1., 2., 3.], shape=[3], backend=reference)';
    expect(inspect(t)).toBe(text);
    expect(t.toString()).toBe(text);
    expect(String(t)).toBe(text);
    expect(`${t}`).toBe(text);
    expect(inspect({ a: t })).toBe(`{ a: ${text} }`);
    expect(inspect(t)).not.toMatch(/heap|pool|Buffer|handle/);
  });

  it('says whether a gradient is required, or which op made the tensor', () => {
    const leaf = ones([2], { requiresGrad: true });
    expect(String(leaf)).toBe('tensor([1., 1.], shape=[2], backend=reference, requiresGrad=true)');
    expect(String(leaf.mul(2))).toBe('tensor([2., 2.], shape=[2], backend=reference, gradFn=<mul>)');
  });

  it('lays values out as PyTorch does: integers, fixed point, scientific, non-finite, 0-d and empty', () => {
    expect(body(String(tensor([[1.5, -2.25], [3e-5, 4]])))).toBe('[[ 1.5000e+00, -2.2500e+00],\n        [ 3.0000e-05,  4.0000e+00]]');
    expect(body(String(tensor([NaN, 1.5, -Infinity])))).toBe('[   nan, 1.5000,   -inf]');
    expect(body(String(tensor([1e10, 1])))).toBe('[1.0000e+10, 1.0000e+00]');
    expect(body(String(tensor([-0, 1])))).toBe('[-0., 1.]');
    expect(body(String(tensor([0.5, 100.25])))).toBe('[  0.5000, 100.2500]');
    expect(body(String(zeros(3)))).toBe('[0., 0., 0.]');
    expect(String(tensor(3.14159))).toBe('tensor(3.1416, shape=[], backend=reference)');
    expect(String(zeros(2, 0))).toBe('tensor([], shape=[2, 0], backend=reference)');
    expect(body(String(arange(24).reshape([2, 3, 4])))).toBe(
      [
        '[[[ 0.,  1.,  2.,  3.],',
        '         [ 4.,  5.,  6.,  7.],',
        '         [ 8.,  9., 10., 11.]],',
        '',
        '        [[12., 13., 14., 15.],',
        '         [16., 17., 18., 19.],',
        '         [20., 21., 22., 23.]]]',
      ].join('\n'),
    );
  });

  it('wraps long rows at 80 columns and summarises past 1000 elements with 3 edge items', () => {
    expect(body(String(arange(30).div(7)))).toBe(
      [
        '[0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,',
        '        1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,',
        '        2.5714, 2.7143, 2.8571, 3.0000, 3.1429, 3.2857, 3.4286, 3.5714, 3.7143,',
        '        3.8571, 4.0000, 4.1429]',
      ].join('\n'),
    );
    expect(body(String(arange(2000).reshape([2, 1000])))).toBe(
      [
        '[[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 9.9700e+02, 9.9800e+02,',
        '         9.9900e+02],',
        '        [1.0000e+03, 1.0010e+03, 1.0020e+03,  ..., 1.9970e+03, 1.9980e+03,',
        '         1.9990e+03]]',
      ].join('\n'),
    );
    const big = String(arange(3000).reshape([10, 10, 30]));
    // Rows and blocks are summarised too: 3 + '...' + 3 at every level.
    expect(big.split('\n').filter((l) => l.trim() === '...,')).toHaveLength(1 + 6);
    expect(big).toContain('[2.7000e+03, 2.7010e+03, 2.7020e+03,  ..., 2.7270e+03,');
    expect(big.endsWith('2.9980e+03, 2.9990e+03]]], shape=[10, 10, 30], backend=reference)')).toBe(true);
    expect(body(String(arange(1000)))).not.toContain('...');
    expect(body(String(arange(1001)))).toContain('...');
  });

  it('says "values pending: await t.data()" where the backend cannot read synchronously, and never throws', () => {
    const asyncOnly: Backend = Object.assign(Object.create(ref) as Backend, { readSync: undefined, name: 'gpujs', mode: 'webgpu' });
    const t = fromStorage(asyncOnly, ref.upload(new Float32Array([1, 2])), [2]);
    expect(String(t)).toBe('tensor(<values pending: await t.data()>, shape=[2], backend=gpujs:webgpu)');
    expect(inspect(t)).toBe(String(t));
    const d = ones([2]);
    d.dispose();
    expect(String(d)).toBe('tensor(<disposed>, shape=[2], backend=reference)');
  });

  it('setPrintOptions changes precision, threshold, edge items and line width, like torch.set_printoptions', () => {
    const was = setPrintOptions({ precision: 2, threshold: 5, edgeitems: 1 });
    try {
      expect(body(String(tensor([1.2345, 2, 3])))).toBe('[1.23, 2.00, 3.00]');
      expect(body(String(arange(6).div(2)))).toBe('[0.00,  ..., 2.50]');
    } finally {
      setPrintOptions(was);
    }
    expect(body(String(tensor([1.2345, 2, 3])))).toBe('[1.2345, 2.0000, 3.0000]');
    expect(() => setPrintOptions({ precision: -1 })).toThrow(GpugradError);
    expect(() => setPrintOptions({ edgeItems: 2 } as never)).toThrow(/unknown option 'edgeItems'/);
  });
});
