// NaN propagates as in PyTorch on every test backend: relu (and its gradient), the fused conv → scale/shift
// (→ add) → ReLU GEMM epilogue at sizes that take each backend's different GEMM paths, max pooling, max
// reductions and a product with a zero factor. A NaN that a kernel turns into a number hides a broken model.
import { beforeEach, describe, expect, it } from 'vitest';
import * as G from '../src/index.js';
import { F, noGrad, tensor, type Tensor } from '../src/index.js';
import { availableBackends, testBackends, useBackend } from './helpers/backends.js';
import { spyFused } from './helpers/folding.js';


const backends = await availableBackends(testBackends);
const N = NaN;

/** NaN positions of a tensor's values. */
async function nanMask(t: Tensor): Promise<boolean[]> {
  return Array.from(await t.data(), (v) => Number.isNaN(v));
}

/** A deterministic pseudo-random fill in [-1, 1). */
function fill(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => (((i * 7919 + seed * 104729) % 2003) / 1001.5) - 1);
}

describe.each(backends)('NaN propagation on $label', (tb) => {
  beforeEach(async () => {
    await useBackend(tb);
  });

  it('relu keeps NaN in the vector body and the scalar tail, and zeroes negatives', async () => {
    // 11 values: two SIMD quads and a 3-value tail; NaN in both parts.
    const x = tensor([N, -1, 2, -3, 4, N, -0.5, 7, 1, -2, N]);
    const y = Array.from(await x.relu().data());
    expect(y.map((v) => (Number.isNaN(v) ? 'NaN' : v))).toEqual(['NaN', 0, 2, 0, 4, 'NaN', 0, 7, 1, 0, 'NaN']);
    const z = Array.from(await F.relu(tensor([-Infinity, Infinity, 0])).data());
    expect(z).toEqual([0, Infinity, 0]);
  });

  it("relu's gradient follows PyTorch: it passes at a NaN input, is 0 at 0 and below", async () => {
    const x = tensor([N, 0, -1, 3], [4], { requiresGrad: true });
    x.relu().sum().backward();
    expect(Array.from(await (x.grad as Tensor).data())).toEqual([1, 0, 0, 1]);
  });

  it('ne (the mask of relu\'s gradient) is 1 at NaN, 0 for equal values including -0 == 0', async () => {
    // 11 values: the wasm kernel's f32x4 body and its scalar tail, against a tensor and against a scalar.
    const a = tensor([N, 0, -0, 1, N, 2, 3, N, 0, 5, N]);
    const b = tensor([0, -0, 0, 1, N, 3, 3, 1, 0, 5, 2]);
    expect(Array.from(await G.ne(a, b).data())).toEqual([1, 0, 0, 0, 1, 1, 0, 1, 0, 0, 1]);
    expect(Array.from(await G.ne(a, 0).data())).toEqual([1, 0, 0, 1, 1, 1, 1, 1, 0, 1, 1]);
  });

  it('max reductions propagate NaN (all axes, one axis, and next to -Infinity)', async () => {
    const x = tensor([1, N, 3, 4, -Infinity, -Infinity, -Infinity, -Infinity, 7, 8, 9, N], [3, 4]);
    expect(Number.isNaN((await x.max().data())[0])).toBe(true);
    expect(await nanMask(x.max(1))).toEqual([true, false, true]);
    expect(Array.from(await x.max(1).data())[1]).toBe(-Infinity);
    expect(await nanMask(x.max(0))).toEqual([false, true, false, true]);
  });

  it('maxPool2d gives NaN for every window holding one, and routes its gradient to the NaN', async () => {
    // 4×4 plane, NaN at (1, 2); 2×2 windows at stride 1 → 3×3 outputs; windows (0..1, 1..2) hold it.
    const v = Array.from({ length: 16 }, (_, i) => i);
    v[6] = N;
    const x = tensor(v, [1, 1, 4, 4], { requiresGrad: true });
    const y = F.maxPool2d(x, { kernelSize: 2, stride: 1 });
    expect(await nanMask(y)).toEqual([false, true, true, false, true, true, false, false, false]);
    y.sum().backward();
    const g = Array.from(await (x.grad as Tensor).data());
    expect(g[6]).toBe(4); // the NaN is the max of four windows
    // With padding: the padded border never wins over a NaN.
    const p = F.maxPool2d(tensor([N, 1, 2, 3], [1, 1, 2, 2]), { kernelSize: 3, stride: 1, padding: 1 });
    expect(await nanMask(p)).toEqual([true, true, true, true]);
  });

  it("maxPool2d's index is PyTorch's: the first maximum, or the window's last NaN (row-major), wherever its rows are", async () => {
    // One 3×3 window over a 3×4 plane (stride 3): NaNs at (0, 2) and (1, 0) → (1, 0), flat 4; then two NaNs in
    // one row, (2, 0) and (2, 1) → flat 9; no NaN, the maximum 5 twice → the first, flat 1.
    const cases: [number[], number][] = [
      [[1, 2, N, 0, N, 3, 4, 0, 5, 6, 7, 0], 4],
      [[1, 2, 3, 0, 4, 5, 6, 0, N, N, 7, 0], 9],
      [[1, 5, 3, 0, 4, 5, 2, 0, 0, 1, 2, 0], 1],
    ];
    for (const [v, at] of cases) {
      const x = tensor(v, [1, 1, 3, 4], { requiresGrad: true });
      F.maxPool2d(x, { kernelSize: 3, stride: 3 }).sum().backward();
      const g = Array.from(await (x.grad as Tensor).data());
      expect(g.indexOf(1), `plane ${v.join(' ')}`).toBe(at);
    }
  });

  it('a product with a zero factor and a NaN factor is NaN', async () => {
    const y = tensor([0, 0], [1, 2]).matmul(tensor([N, 1], [2, 1]));
    expect(Number.isNaN((await y.data())[0])).toBe(true);
  });

  // Output sizes 64, 1024 and 32·1024: the small-product kernels, gpu.js's host/GL GEMMs and the threaded
  // wasm epilogue all take part somewhere in these three.
  it.each([
    [4, 4],
    [8, 11],
    [32, 32],
  ])('the fused conv epilogue keeps NaN (%i channels, %i² positions)', async (oc, hw) => {
    const c = 3;
    const xs = fill(c * hw * hw, 1);
    const NAN_PIXEL = [1, 2, 2]; // channel, y, x of the NaN input
    xs[(NAN_PIXEL[0] * hw + NAN_PIXEL[1]) * hw + NAN_PIXEL[2]] = N;
    const ws = fill(oc * c * 9, 2);
    ws[(0 * c + 1) * 9 + 4] = N; // output channel 0 has a NaN weight
    const shift = fill(oc, 3).map((v) => v - 5); // negative enough that ReLU would zero every finite value
    shift[oc - 1] = N; // the last channel's shift is NaN
    const res = fill(oc * hw * hw, 4);
    const RES_AT = (1 * hw + 0) * hw + hw - 1; // channel 1, position (0, hw-1)
    res[RES_AT] = N;
    const x = tensor(xs, [1, c, hw, hw]);
    const w = tensor(ws, [oc, c, 3, 3]);
    const e = { scale: tensor(fill(oc, 5)), shift: tensor(shift), residual: tensor(res, [1, oc, hw, hw]), relu: true };
    const spy = spyFused();
    let y: Tensor;
    try {
      y = noGrad(() => F.conv2dAffine(x, w, e, { padding: 1 }));
    } finally {
      spy.restore();
    }
    expect(spy.count()).toBe(1);
    // Expected NaN mask: channel 0 and the last channel whole (padding reads 0, and 0·NaN is NaN), every
    // output whose 3×3 window covers the NaN pixel, and the residual's NaN.
    const want: boolean[] = [];
    for (let o = 0; o < oc; o++)
      for (let oy = 0; oy < hw; oy++)
        for (let ox = 0; ox < hw; ox++) {
          const covers = Math.abs(oy - NAN_PIXEL[1]) <= 1 && Math.abs(ox - NAN_PIXEL[2]) <= 1;
          want.push(o === 0 || o === oc - 1 || covers || (o * hw + oy) * hw + ox === RES_AT);
        }
    const got = await y.data();
    expect(Array.from(got, (v) => Number.isNaN(v))).toEqual(want);
    // The ReLU still zeroes: most finite outputs are 0 here, none negative.
    const finite = Array.from(got).filter((v) => !Number.isNaN(v));
    expect(finite.every((v) => v >= 0)).toBe(true);
    expect(finite.filter((v) => v === 0).length).toBeGreaterThan(finite.length / 2);
  });

  it('the composed (gradient-recording) conv → affine → ReLU keeps NaN too', async () => {
    const x = tensor(fill(2 * 16, 6), [1, 2, 4, 4]);
    const wv = fill(3 * 2 * 9, 7);
    wv[0] = N;
    const w = tensor(wv, [3, 2, 3, 3], { requiresGrad: true });
    const y = F.conv2dAffine(x, w, { scale: tensor([1, 1, 1]), shift: tensor([-9, -9, -9]), relu: true }, { padding: 1 });
    const m = await nanMask(y);
    expect(m.slice(0, 16).every(Boolean)).toBe(true);
    expect(m.slice(16).some(Boolean)).toBe(false);
  });
});
