// Property tests of the neural-network functions (F.*) on every test backend: conv, unfold, batch norm,
// pools, linear, softmax and losses against the float64 oracle and central differences.
import fc from 'fast-check';
import { beforeEach, describe, it } from 'vitest';
import { F, tensor, type Tensor } from '../src/index.js';
import { availableBackends, testBackends, useBackend } from './helpers/backends.js';
import { checkOp, expectAllClose, ints, params, seedArb, values, type Input } from './helpers/fd.js';
import * as O from './helpers/oracle.js';

const backends = await availableBackends(testBackends);
const x4 = (shape: number[], seed: number, grad = true): Input => ({ shape, data: values(seed, O.sizeOf(shape)), grad });

/** Smallest input length so that a window of effective size d(k−1)+1 fits with padding p. */
const fit = (inp: number, k: number, p: number, d: number): number => Math.max(inp, d * (k - 1) + 1 - 2 * p, 1);

// ---- conv2d ----

interface ConvCase {
  n: number;
  groups: number;
  /** Input and output channels per group. */
  cg: number;
  og: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  bias: boolean;
  seed: number;
}
const convArb: fc.Arbitrary<ConvCase> = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    groups: fc.integer({ min: 1, max: 3 }),
    cg: fc.integer({ min: 1, max: 2 }),
    og: fc.integer({ min: 1, max: 2 }),
    h: fc.integer({ min: 1, max: 7 }),
    w: fc.integer({ min: 1, max: 7 }),
    kh: fc.integer({ min: 1, max: 3 }),
    kw: fc.integer({ min: 1, max: 3 }),
    stride: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
    pad: fc.tuple(fc.nat(1), fc.nat(1)),
    dilation: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    bias: fc.boolean(),
    seed: seedArb,
  })
  .map(({ pad, ...c }) => {
    // Padding up to kernel/2 (PyTorch allows more for conv, but this is the range ResNet uses).
    const padding: [number, number] = [Math.min(pad[0], Math.floor(c.kh / 2)), Math.min(pad[1], Math.floor(c.kw / 2))];
    return { ...c, padding, h: fit(c.h, c.kh, padding[0], c.dilation[0]), w: fit(c.w, c.kw, padding[1], c.dilation[1]) };
  });

function convCheck(c: ConvCase) {
  const C = c.groups * c.cg;
  const Oc = c.groups * c.og;
  const inputs = [x4([c.n, C, c.h, c.w], c.seed), x4([Oc, c.cg, c.kh, c.kw], c.seed + 1)];
  if (c.bias) inputs.push(x4([Oc], c.seed + 2));
  const opts = { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups };
  const win = { sh: c.stride[0], sw: c.stride[1], ph: c.padding[0], pw: c.padding[1], dh: c.dilation[0], dw: c.dilation[1] };
  return {
    name: 'conv2d',
    inputs,
    run: (ts: Tensor[]) => F.conv2d(ts[0], ts[1], c.bias ? ts[2] : null, opts),
    oracle: (xs: O.Arr[]) => O.conv2d(xs[0], xs[1], c.bias ? xs[2] : null, win, c.groups),
    k: c.cg * c.kh * c.kw,
    gradK: c.n * c.h * c.w * c.og,
    seed: c.seed,
  };
}

const conv = (o: Partial<ConvCase>): ConvCase => ({ n: 1, groups: 1, cg: 1, og: 1, h: 1, w: 1, kh: 1, kw: 1, stride: [1, 1], padding: [0, 0], dilation: [1, 1], bias: false, seed: 7, ...o });
const convEdges: ConvCase[] = [
  conv({}), // batch 1, 1×1 map, 1×1 kernel
  conv({ cg: 3, og: 2, h: 1, w: 1, bias: true }), // pointwise fast path
  conv({ n: 2, cg: 2, og: 3, h: 5, w: 4, kh: 1, kw: 1, stride: [2, 2] }), // 1×1 strided: im2col path
  conv({ n: 2, cg: 2, og: 2, h: 5, w: 7, kh: 3, kw: 3, padding: [1, 1], bias: true }),
  conv({ cg: 1, og: 2, h: 7, w: 6, kh: 2, kw: 3, stride: [3, 4], padding: [1, 1] }), // stride larger than kernel
  conv({ groups: 3, cg: 1, og: 1, h: 5, w: 5, kh: 3, kw: 3, padding: [1, 1] }), // depthwise
  conv({ groups: 2, cg: 2, og: 3, h: 6, w: 5, kh: 3, kw: 2, dilation: [2, 2], padding: [1, 1], bias: true }),
  conv({ n: 2, cg: 1, og: 1, h: 3, w: 3, kh: 3, kw: 3, padding: [1, 1], stride: [2, 2] }), // odd sizes, ResNet stem-like
];

/**
 * conv2dAffine: relu?(conv·scale[c] + shift[c] + residual) against the oracle. Without gradients the backend's
 * fused GEMM epilogue runs where it has one (wasm); with them the composed path runs and is differentiated.
 */
function convAffineCheck(c: ConvCase, residual: boolean, relu: boolean, grad: boolean) {
  const base = convCheck({ ...c, bias: false });
  const Oc = c.groups * c.og;
  const y0 = O.conv2d({ shape: base.inputs[0].shape, data: base.inputs[0].data }, { shape: base.inputs[1].shape, data: base.inputs[1].data }, null, { sh: c.stride[0], sw: c.stride[1], ph: c.padding[0], pw: c.padding[1], dh: c.dilation[0], dw: c.dilation[1] }, c.groups);
  const inputs = [...base.inputs, x4([Oc], c.seed + 3), x4([Oc], c.seed + 4)];
  if (residual) inputs.push(x4(y0.shape, c.seed + 5));
  for (const i of inputs) i.grad = grad;
  const opts = { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups };
  const cs = [1, Oc, 1, 1];
  return {
    ...base,
    name: `conv2dAffine${residual ? ' +residual' : ''}${relu ? ' relu' : ''}${grad ? ' (with gradients)' : ' (no gradients)'}`,
    inputs,
    run: (ts: Tensor[]) => F.conv2dAffine(ts[0], ts[1], { scale: ts[2], shift: ts[3], residual: residual ? ts[4] : null, relu }, opts),
    oracle: (xs: O.Arr[]) => {
      let y = O.add(O.mul(base.oracle(xs.slice(0, 2)), O.reshape(xs[2], cs)), O.reshape(xs[3], cs));
      if (residual) y = O.add(y, xs[4]);
      return relu ? O.relu(y) : y;
    },
  };
}

// ---- unfold ----

interface UnfoldCase {
  n: number;
  c: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  seed: number;
}
const unfoldArb: fc.Arbitrary<UnfoldCase> = convArb.map((c) => ({ n: c.n, c: c.cg, h: c.h, w: c.w, kh: c.kh, kw: c.kw, stride: c.stride, padding: c.padding, dilation: c.dilation, seed: c.seed }));

// ---- batch norm ----

interface BnCase {
  n: number;
  c: number;
  h: number;
  w: number;
  training: boolean;
  /** Training without running statistics (both null) is allowed, as in PyTorch. */
  running: boolean;
  affine: boolean;
  momentum: number;
  eps: number;
  seed: number;
}
const bnArb: fc.Arbitrary<BnCase> = fc
  .record({
    n: fc.integer({ min: 1, max: 3 }),
    c: fc.integer({ min: 1, max: 3 }),
    h: fc.integer({ min: 1, max: 3 }),
    w: fc.integer({ min: 1, max: 3 }),
    training: fc.boolean(),
    running: fc.boolean(),
    affine: fc.boolean(),
    momentum: fc.constantFrom(0.1, 0.5, 1, 0),
    eps: fc.constantFrom(1e-5, 1e-3, 0.1),
    seed: seedArb,
  })
  // Training needs more than one value per channel.
  .map((c) => ({ ...c, running: c.running || !c.training, w: c.training && c.n * c.h * c.w === 1 ? 2 : c.w }));

// ---- pools ----

interface PoolCase {
  kind: 'max' | 'avg';
  n: number;
  c: number;
  h: number;
  w: number;
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  ceilMode: boolean;
  countIncludePad: boolean;
  seed: number;
}
const poolArb: fc.Arbitrary<PoolCase> = fc
  .record({
    kind: fc.constantFrom<'max' | 'avg'>('max', 'avg'),
    n: fc.integer({ min: 1, max: 2 }),
    c: fc.integer({ min: 1, max: 2 }),
    h: fc.integer({ min: 1, max: 8 }),
    w: fc.integer({ min: 1, max: 8 }),
    kernel: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    stride: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })),
    pad: fc.tuple(fc.nat(1), fc.nat(1)),
    dilation: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    ceilMode: fc.boolean(),
    countIncludePad: fc.boolean(),
    seed: seedArb,
  })
  .map(({ pad, ...c }) => {
    // PyTorch requires padding <= kernel/2; avg pool has no dilation.
    const padding: [number, number] = [Math.min(pad[0], Math.floor(c.kernel[0] / 2)), Math.min(pad[1], Math.floor(c.kernel[1] / 2))];
    const dilation: [number, number] = c.kind === 'avg' ? [1, 1] : c.dilation;
    // Input at least as long as the dilation, so no window sees only padding (its max would be −∞).
    const h = Math.max(fit(c.h, c.kernel[0], padding[0], dilation[0]), dilation[0]);
    const w = Math.max(fit(c.w, c.kernel[1], padding[1], dilation[1]), dilation[1]);
    return { ...c, padding, dilation, h, w };
  });

function poolCheck(c: PoolCase) {
  const win = { kh: c.kernel[0], kw: c.kernel[1], sh: c.stride[0], sw: c.stride[1], ph: c.padding[0], pw: c.padding[1], dh: c.dilation[0], dw: c.dilation[1] };
  const base = { inputs: [x4([c.n, c.c, c.h, c.w], c.seed)], k: c.kernel[0] * c.kernel[1], gradK: 16, seed: c.seed };
  // A stride equal to the kernel is left out, which exercises the default (stride = kernel size).
  const stride = c.stride[0] === c.kernel[0] && c.stride[1] === c.kernel[1] ? undefined : c.stride;
  if (c.kind === 'max') {
    return {
      ...base,
      name: 'maxPool2d',
      run: (ts: Tensor[]) => F.maxPool2d(ts[0], { kernelSize: c.kernel, stride, padding: c.padding, dilation: c.dilation, ceilMode: c.ceilMode }),
      oracle: (xs: O.Arr[]) => O.maxPool2d(xs[0], win, c.ceilMode),
    };
  }
  return {
    ...base,
    name: 'avgPool2d',
    run: (ts: Tensor[]) => F.avgPool2d(ts[0], { kernelSize: c.kernel, stride, padding: c.padding, ceilMode: c.ceilMode, countIncludePad: c.countIncludePad }),
    oracle: (xs: O.Arr[]) => O.avgPool2d(xs[0], win, c.ceilMode, c.countIncludePad),
  };
}

const pool = (o: Partial<PoolCase>): PoolCase => ({ kind: 'max', n: 1, c: 1, h: 1, w: 1, kernel: [1, 1], stride: [1, 1], padding: [0, 0], dilation: [1, 1], ceilMode: false, countIncludePad: true, seed: 3, ...o });
const poolEdges: PoolCase[] = [
  pool({}),
  pool({ h: 7, w: 7, kernel: [3, 3], stride: [2, 2], padding: [1, 1] }), // the ResNet stem pool
  pool({ h: 6, w: 5, kernel: [2, 2], stride: [2, 2], ceilMode: true }),
  pool({ h: 5, w: 7, kernel: [3, 2], stride: [3, 3], dilation: [2, 1], padding: [1, 1], ceilMode: true }),
  pool({ h: 4, w: 6, kernel: [1, 2], stride: [3, 4] }), // stride larger than kernel
  pool({ kind: 'avg', h: 5, w: 5, kernel: [3, 3], stride: [2, 2], padding: [1, 1], ceilMode: true, countIncludePad: true }),
  pool({ kind: 'avg', h: 5, w: 5, kernel: [3, 3], stride: [2, 2], padding: [1, 1], ceilMode: true, countIncludePad: false }),
  pool({ kind: 'avg', h: 6, w: 4, kernel: [2, 3], stride: [4, 2], padding: [1, 1], ceilMode: false, countIncludePad: false }),
];

/**
 * max_c |γ_c|·max(1, max|x_c|)/√(σ²_c + ε): centring loses ε32·max|x| absolutely, which normalisation
 * amplifies by γ/σ; the gradient rule likewise subtracts terms of size γ/σ to get a small result.
 */
function bnCondition(inputs: Input[], c: BnCase): number {
  const [x, , rv, gamma] = inputs;
  const hw = c.h * c.w;
  let worst = 1;
  for (let ch = 0; ch < c.c; ch++) {
    let v = rv.data[ch];
    const vals: number[] = [];
    for (let b = 0; b < c.n; b++) for (let i = 0; i < hw; i++) vals.push(x.data[(b * c.c + ch) * hw + i]);
    if (c.training) {
      const mu = vals.reduce((a, b) => a + b, 0) / vals.length;
      v = vals.reduce((a, b) => a + (b - mu) ** 2, 0) / vals.length;
    }
    const xmax = Math.max(1, ...vals.map(Math.abs));
    worst = Math.max(worst, (Math.abs(gamma ? gamma.data[ch] : 1) * xmax) / Math.sqrt(v + c.eps));
  }
  return worst;
}

describe.each(backends)('F properties on $label', (tb) => {
  beforeEach(async () => {
    await useBackend(tb);
  });

  it('conv2d (stride, padding, dilation, groups, bias): output and input/weight/bias gradients', async () => {
    await fc.assert(fc.asyncProperty(convArb, async (c) => checkOp(tb, convCheck(c))), params(40, convEdges));
  });

  it('conv2dAffine (the folded conv + batch norm + residual + ReLU): fused without gradients, composed with them', async () => {
    const flags = fc.record({ residual: fc.boolean(), relu: fc.boolean(), grad: fc.boolean() });
    const edges = convEdges.map((c, i): [ConvCase, { residual: boolean; relu: boolean; grad: boolean }] => [c, { residual: i % 2 === 0, relu: i % 3 !== 0, grad: false }]);
    await fc.assert(
      fc.asyncProperty(fc.tuple(convArb, flags), async ([c, f]) => checkOp(tb, convAffineCheck(c, f.residual, f.relu, f.grad))),
      params(30, edges),
    );
  });

  it('unfold matches the direct window gather and its gradient', async () => {
    await fc.assert(
      fc.asyncProperty(unfoldArb, async (c) => {
        const win = { kh: c.kh, kw: c.kw, sh: c.stride[0], sw: c.stride[1], ph: c.padding[0], pw: c.padding[1], dh: c.dilation[0], dw: c.dilation[1] };
        await checkOp(tb, {
          name: 'unfold',
          inputs: [x4([c.n, c.c, c.h, c.w], c.seed)],
          run: (ts) => F.unfold(ts[0], [c.kh, c.kw], { stride: c.stride, padding: c.padding, dilation: c.dilation }),
          oracle: (xs) => O.unfold(xs[0], win),
          k: 1,
          gradK: c.kh * c.kw,
          seed: c.seed,
        });
      }),
      params(30),
    );
  });

  it('batchNorm2d in training (batch statistics, running update) and eval mode, with gradients', async () => {
    const edge: BnCase[] = [
      { n: 1, c: 1, h: 1, w: 2, training: true, running: true, affine: true, momentum: 0.1, eps: 1e-5, seed: 1 },
      { n: 2, c: 3, h: 1, w: 1, training: true, running: false, affine: false, momentum: 0.1, eps: 1e-5, seed: 2 },
      { n: 1, c: 2, h: 1, w: 1, training: false, running: true, affine: true, momentum: 0.1, eps: 1e-5, seed: 3 },
      // Two nearly equal values: centring cancels most digits (the condition factor covers float32's loss).
      { n: 1, c: 1, h: 1, w: 2, training: true, running: false, affine: true, momentum: 0.1, eps: 1e-5, seed: 36867 },
    ];
    await fc.assert(
      fc.asyncProperty(bnArb, async (c) => {
        const rm = values(c.seed + 3, c.c, { lo: -1, hi: 1 });
        const rv = values(c.seed + 4, c.c, { lo: 0.5, hi: 2 });
        const inputs: Input[] = [x4([c.n, c.c, c.h, c.w], c.seed), { shape: [c.c], data: rm, grad: false }, { shape: [c.c], data: rv, grad: false }];
        if (c.affine) inputs.push(x4([c.c], c.seed + 1), x4([c.c], c.seed + 2));
        const opts = { training: c.training, momentum: c.momentum, eps: c.eps };
        let updated: Promise<[Float32Array, Float32Array]> | null = null;
        await checkOp(tb, {
          name: `batchNorm2d(${c.training ? 'train' : 'eval'}${c.running ? '' : ', no running stats'})`,
          inputs,
          run: (ts) => {
            const y = F.batchNorm2d(ts[0], c.running ? ts[1] : null, c.running ? ts[2] : null, c.affine ? ts[3] : null, c.affine ? ts[4] : null, opts);
            updated = Promise.all([ts[1].data(), ts[2].data()]);
            return y;
          },
          oracle: (xs) => O.batchNorm2d(xs[0], xs[1].data, xs[2].data, c.affine ? xs[3] : null, c.affine ? xs[4] : null, c.training, c.momentum, c.eps).y,
          k: c.n * c.h * c.w,
          condition: bnCondition(inputs, c),
          seed: c.seed,
        });
        // Without running statistics the buffers given to the oracle stand for tensors nobody passed: unchanged.
        const want = c.running ? O.batchNorm2d(O.arr(inputs[0].shape, inputs[0].data), rm, rv, null, null, c.training, c.momentum, c.eps) : { runningMean: rm, runningVar: rv };
        const [gm, gv] = await (updated as unknown as Promise<[Float32Array, Float32Array]>);
        const tol = tb.tolerance(c.n * c.h * c.w);
        expectAllClose(`batchNorm2d running mean on ${tb.label}`, gm, [c.c], O.arr([c.c], want.runningMean), tol);
        expectAllClose(`batchNorm2d running var on ${tb.label}`, gv, [c.c], O.arr([c.c], want.runningVar), tol);
      }),
      params(40, edge),
    );
  });

  it('maxPool2d (dilation, padding, ceilMode) and avgPool2d (countIncludePad, ceilMode)', async () => {
    await fc.assert(fc.asyncProperty(poolArb, async (c) => checkOp(tb, poolCheck(c))), params(60, poolEdges));
  });

  it('adaptiveAvgPool2d, including output sizes that do not divide the input', async () => {
    const arb = fc.record({ n: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 1, max: 9 }), w: fc.integer({ min: 1, max: 9 }), oh: fc.integer({ min: 1, max: 5 }), ow: fc.integer({ min: 1, max: 5 }), seed: seedArb });
    const edge = [
      { n: 1, c: 1, h: 7, w: 7, oh: 1, ow: 1, seed: 1 },
      { n: 2, c: 1, h: 5, w: 7, oh: 3, ow: 2, seed: 2 },
      { n: 1, c: 2, h: 2, w: 3, oh: 4, ow: 5, seed: 3 },
      { n: 1, c: 1, h: 6, w: 4, oh: 3, ow: 2, seed: 4 },
    ];
    await fc.assert(
      fc.asyncProperty(arb, async (c) =>
        checkOp(tb, { name: `adaptiveAvgPool2d([${c.oh},${c.ow}])`, inputs: [x4([c.n, c.c, c.h, c.w], c.seed)], run: (ts) => F.adaptiveAvgPool2d(ts[0], [c.oh, c.ow]), oracle: (xs) => O.adaptiveAvgPool2d(xs[0], c.oh, c.ow), k: c.h * c.w, gradK: 16, seed: c.seed }),
      ),
      params(40, edge),
    );
  });

  it('linear over any leading dims, with and without bias', async () => {
    const arb = fc.record({ lead: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }), inF: fc.integer({ min: 1, max: 6 }), outF: fc.integer({ min: 1, max: 5 }), bias: fc.boolean(), seed: seedArb });
    await fc.assert(
      fc.asyncProperty(arb, async (c) => {
        const inputs = [x4([...c.lead, c.inF], c.seed), x4([c.outF, c.inF], c.seed + 1)];
        if (c.bias) inputs.push(x4([c.outF], c.seed + 2));
        await checkOp(tb, { name: 'linear', inputs, run: (ts) => F.linear(ts[0], ts[1], c.bias ? ts[2] : null), oracle: (xs) => O.linear(xs[0], xs[1], c.bias ? xs[2] : null), k: c.inF, gradK: 16, seed: c.seed });
      }),
      params(40, [{ lead: [] as number[], inF: 1, outF: 1, bias: true, seed: 1 }]),
    );
  });

  it('logSoftmax and softmax along any dim', async () => {
    const arb = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }).chain((shape) =>
      fc.record({ soft: fc.boolean(), shape: fc.constant(shape), dim: fc.integer({ min: -shape.length, max: shape.length - 1 }), scale: fc.constantFrom(1, 10), seed: seedArb }),
    );
    await fc.assert(
      fc.asyncProperty(arb, async (c) => {
        const data = values(c.seed, O.sizeOf(c.shape), { lo: -2 * c.scale, hi: 2 * c.scale });
        await checkOp(tb, {
          name: `${c.soft ? 'softmax' : 'logSoftmax'}(dim ${c.dim})`,
          inputs: [{ shape: c.shape, data, grad: true }],
          run: (ts) => (c.soft ? F.softmax(ts[0], c.dim) : F.logSoftmax(ts[0], c.dim)),
          oracle: (xs) => (c.soft ? O.softmax(xs[0], c.dim) : O.logSoftmax(xs[0], c.dim)),
          k: c.shape[c.dim < 0 ? c.dim + c.shape.length : c.dim],
          seed: c.seed,
        });
      }),
      params(40, [{ soft: true, shape: [1], dim: 0, scale: 1, seed: 1 }]),
    );
  });

  it('crossEntropy and mseLoss', async () => {
    const arb = fc.record({ n: fc.integer({ min: 1, max: 4 }), classes: fc.integer({ min: 1, max: 6 }), tensorLabels: fc.boolean(), seed: seedArb });
    await fc.assert(
      fc.asyncProperty(arb, async (c) => {
        const labels = ints(c.seed + 9, c.n, c.classes);
        await checkOp(tb, {
          name: `crossEntropy(labels ${JSON.stringify(labels)} as ${c.tensorLabels ? 'a Tensor' : 'an array'})`,
          inputs: [x4([c.n, c.classes], c.seed)],
          // Tensor labels take the host path where the backend reads synchronously, else the on-device mask.
          run: (ts) => F.crossEntropy(ts[0], c.tensorLabels ? tensor(labels) : labels),
          oracle: (xs) => O.crossEntropy(xs[0], labels),
          k: c.n * c.classes,
          seed: c.seed,
        });
      }),
      params(40, [{ n: 1, classes: 1, tensorLabels: false, seed: 1 }]),
    );
    const mse = fc.record({ shape: fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 3 }), seed: seedArb });
    await fc.assert(
      fc.asyncProperty(mse, async (c) =>
        checkOp(tb, { name: 'mseLoss', inputs: [x4(c.shape, c.seed), x4(c.shape, c.seed + 1)], run: (ts) => F.mseLoss(ts[0], ts[1]), oracle: (xs) => O.mseLoss(xs[0], xs[1]), k: O.sizeOf(c.shape), seed: c.seed }),
      ),
      params(30),
    );
  });
});
