// Property tests of the tensor ops (elementwise, broadcasting, reductions, movement, matmul) on every
// test backend: forward against the float64 oracle, gradients against central differences.
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import * as G from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { availableBackends, testBackends, useBackend } from './helpers/backends.js';
import { checkOp, params, seedArb, values, type ValueRange } from './helpers/fd.js';
import * as O from './helpers/oracle.js';

const backends = await availableBackends(testBackends);
const dim = fc.integer({ min: 1, max: 4 });
const shapeArb = (minRank: number, maxRank: number): fc.Arbitrary<number[]> => fc.array(dim, { minLength: minRank, maxLength: maxRank });

// ---- unary ----

type UnaryName = 'neg' | 'exp' | 'log' | 'sqrt' | 'abs' | 'relu' | 'F.relu' | 'pow';
interface UnaryCase {
  op: UnaryName;
  shape: number[];
  /** Exponent (pow only). */
  p: number;
  seed: number;
}
const unaryRange: Record<UnaryName, ValueRange> = {
  neg: {},
  exp: {},
  log: { lo: 0.2, hi: 3 },
  sqrt: { lo: 0.2, hi: 3 },
  abs: { awayFromZero: 1e-3 },
  relu: { awayFromZero: 1e-3 },
  'F.relu': { awayFromZero: 1e-3 },
  pow: { lo: 0.3, hi: 2 },
};
const unaryGpugrad = (c: UnaryCase) => (x: Tensor): Tensor =>
  c.op === 'pow' ? G.pow(x, c.p) : c.op === 'F.relu' ? G.F.relu(x) : G[c.op](x);
const unaryOracle = (c: UnaryCase) => (x: O.Arr): O.Arr => (c.op === 'pow' ? O.pow(x, c.p) : O[c.op === 'F.relu' ? 'relu' : c.op](x));
const unaryArb: fc.Arbitrary<UnaryCase> = fc.record({
  op: fc.constantFrom<UnaryName>('neg', 'exp', 'log', 'sqrt', 'abs', 'relu', 'F.relu', 'pow'),
  shape: shapeArb(0, 4),
  p: fc.constantFrom(2, 3, 0.5, -1, -0.5, 1.5, -2, 0),
  seed: seedArb,
});

// ---- binary with broadcasting ----

type BinName = 'add' | 'sub' | 'mul' | 'div';
interface BinaryCase {
  op: BinName;
  a: number[];
  b: number[];
  /** Replace one operand by a plain number. */
  scalar: 'none' | 'a' | 'b';
  seed: number;
}
/** Two shapes that broadcast: both derived from one output shape by dropping leading dims and setting some to 1. */
const broadcastPair: fc.Arbitrary<[number[], number[]]> = shapeArb(0, 4).chain((out) =>
  fc.tuple(
    ...[0, 1].map(() =>
      fc.record({ drop: fc.integer({ min: 0, max: out.length }), ones: fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }) }).map(({ drop, ones }) =>
        out.map((d, i) => (ones[i] ? 1 : d)).slice(drop),
      ),
    ),
  ).map(([a, b]) => [a, b] as [number[], number[]]),
);
const binaryArb: fc.Arbitrary<BinaryCase> = fc
  .record({ op: fc.constantFrom<BinName>('add', 'sub', 'mul', 'div'), shapes: broadcastPair, scalar: fc.constantFrom<'none' | 'a' | 'b'>('none', 'none', 'a', 'b'), seed: seedArb })
  .map(({ op, shapes, scalar, seed }) => ({ op, a: shapes[0], b: shapes[1], scalar, seed }));

function binaryCheck(c: BinaryCase) {
  const sa = c.scalar === 'a' ? [] : c.a;
  const sb = c.scalar === 'b' ? [] : c.b;
  const a = values(c.seed, O.sizeOf(sa));
  // Divisors stay away from the pole at 0.
  const b = values(c.seed + 1, O.sizeOf(sb), c.op === 'div' ? { awayFromZero: 0.5 } : {});
  const inputs = [
    { shape: sa, data: a, grad: c.scalar !== 'a' },
    { shape: sb, data: b, grad: c.scalar !== 'b' },
  ];
  const fn = G[c.op];
  const run = (ts: Tensor[]): Tensor => (c.scalar === 'a' ? fn(a[0], ts[1]) : c.scalar === 'b' ? fn(ts[0], b[0]) : fn(ts[0], ts[1]));
  return { name: `${c.op}`, inputs, run, oracle: (xs: O.Arr[]) => O[c.op](xs[0], xs[1]), k: 1, seed: c.seed };
}

// ---- reductions ----

interface ReduceCase {
  op: 'sum' | 'mean' | 'max';
  shape: number[];
  /** null: all axes (the argument omitted). */
  axes: number[] | null;
  keepdim: boolean;
  seed: number;
}
const reduceArb: fc.Arbitrary<ReduceCase> = fc
  .record({ op: fc.constantFrom<'sum' | 'mean' | 'max'>('sum', 'mean', 'max'), shape: shapeArb(1, 4), keepdim: fc.boolean(), seed: seedArb, pick: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 }) })
  .map(({ op, shape, keepdim, seed, pick }) => {
    // pick per axis: 0 = keep, 1 = reduce (positive index), 2 = reduce (negative index)
    const axes = shape.flatMap((_, i) => (pick[i] === 1 ? [i] : pick[i] === 2 ? [i - shape.length] : []));
    return { op, shape, axes: axes.length ? axes : null, keepdim, seed };
  });

function reduceCheck(c: ReduceCase) {
  const ax = c.axes ?? undefined;
  const k = (c.axes ?? c.shape.map((_, i) => i)).reduce((n, a) => n * c.shape[a < 0 ? a + c.shape.length : a], 1);
  return {
    name: `${c.op}(axes ${JSON.stringify(c.axes)}, keepdim ${c.keepdim})`,
    inputs: [{ shape: c.shape, data: values(c.seed, O.sizeOf(c.shape)), grad: true }],
    run: (ts: Tensor[]) => G[c.op](ts[0], ax, c.keepdim),
    oracle: (xs: O.Arr[]) => O[c.op](xs[0], ax, c.keepdim),
    k,
    seed: c.seed,
  };
}

// ---- movement ----

type MoveCase =
  | { op: 'reshape'; shape: number[]; to: number[]; seed: number }
  | { op: 'permute'; shape: number[]; perm: number[]; seed: number }
  | { op: 'transpose'; shape: number[]; d0: number; d1: number; seed: number }
  | { op: 'flatten'; shape: number[]; start: number; end: number; seed: number }
  | { op: 'slice'; shape: number[]; axis: number; start: number; length: number; seed: number }
  | { op: 'concat'; shape: number[]; axis: number; sizes: number[]; seed: number }
  | { op: 'expand'; shape: number[]; to: number[]; seed: number }
  | { op: 'squeeze'; shape: number[]; axis: number | null; seed: number }
  | { op: 'unsqueeze'; shape: number[]; axis: number; seed: number };

const moveArb: fc.Arbitrary<MoveCase> = fc.oneof(
  fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }).chain((shape) =>
    fc.record({ shape: fc.constant(shape), axis: fc.option(fc.integer({ min: -shape.length, max: shape.length - 1 })), seed: seedArb }).map((r) => ({ op: 'squeeze' as const, ...r })),
  ),
  shapeArb(0, 3).chain((shape) =>
    fc.record({ shape: fc.constant(shape), axis: fc.integer({ min: -shape.length - 1, max: shape.length }), seed: seedArb }).map((r) => ({ op: 'unsqueeze' as const, ...r })),
  ),
  fc.record({ shape: shapeArb(0, 4), order: fc.array(fc.nat(), { minLength: 4, maxLength: 4 }), infer: fc.integer({ min: -1, max: 3 }), seed: seedArb }).map(({ shape, order, infer, seed }) => {
    // A reordering of the dims has the same size; one entry may be left to -1.
    const to = shape.map((d, i) => [d, order[i]] as const).sort((x, y) => x[1] - y[1]).map(([d]) => d);
    if (infer >= 0 && infer < to.length) to[infer] = -1;
    return { op: 'reshape' as const, shape, to, seed };
  }),
  shapeArb(1, 4).chain((shape) =>
    fc.record({ shape: fc.constant(shape), perm: fc.shuffledSubarray(shape.map((_, i) => i), { minLength: shape.length, maxLength: shape.length }), seed: seedArb }).map((r) => ({ op: 'permute' as const, ...r })),
  ),
  shapeArb(1, 4).chain((shape) =>
    fc.record({ shape: fc.constant(shape), d0: fc.integer({ min: -shape.length, max: shape.length - 1 }), d1: fc.integer({ min: -shape.length, max: shape.length - 1 }), seed: seedArb }).map((r) => ({ op: 'transpose' as const, ...r })),
  ),
  shapeArb(1, 4).chain((shape) =>
    fc.record({ shape: fc.constant(shape), a: fc.nat(shape.length - 1), b: fc.nat(shape.length - 1), seed: seedArb }).map(({ shape: s, a, b, seed }) => ({ op: 'flatten' as const, shape: s, start: Math.min(a, b), end: Math.max(a, b) - (a === b ? 0 : s.length), seed })),
  ),
  shapeArb(1, 4).chain((shape) =>
    fc.nat(shape.length - 1).chain((axis) =>
      fc.integer({ min: 0, max: shape[axis] - 1 }).chain((start) =>
        fc.record({ shape: fc.constant(shape), axis: fc.constant(axis), start: fc.constant(start), length: fc.integer({ min: 1, max: shape[axis] - start }), seed: seedArb }).map((r) => ({ op: 'slice' as const, ...r })),
      ),
    ),
  ),
  shapeArb(1, 4).chain((shape) =>
    fc.record({ shape: fc.constant(shape), axis: fc.integer({ min: -shape.length, max: shape.length - 1 }), sizes: fc.array(dim, { minLength: 1, maxLength: 3 }), seed: seedArb }).map((r) => ({ op: 'concat' as const, ...r })),
  ),
  shapeArb(1, 3).chain((to) =>
    fc.record({ ones: fc.array(fc.boolean(), { minLength: to.length, maxLength: to.length }), drop: fc.nat(to.length - 1), lead: fc.array(dim, { maxLength: 2 }), seed: seedArb }).map(({ ones, drop, lead, seed }) => ({
      op: 'expand' as const,
      shape: to.map((d, i) => (ones[i] ? 1 : d)).slice(drop),
      to: [...lead, ...to],
      seed,
    })),
  ),
);

function moveCheck(c: MoveCase) {
  const norm = (a: number, r: number): number => (a < 0 ? a + r : a);
  const r = c.shape.length;
  const x = (shape: number[], seed: number) => ({ shape, data: values(seed, O.sizeOf(shape)), grad: true });
  const base = { k: 1, seed: c.seed };
  switch (c.op) {
    case 'reshape': {
      const known = c.to.reduce((n, d) => (d === -1 ? n : n * d), 1);
      const to = c.to.map((d) => (d === -1 ? O.sizeOf(c.shape) / known : d));
      // view is reshape's alias; odd seeds call it through the method form.
      const run = (ts: Tensor[]): Tensor => (c.seed % 2 ? ts[0].view(c.to) : G.reshape(ts[0], c.to));
      return { ...base, name: `${c.seed % 2 ? 'view' : 'reshape'} to ${JSON.stringify(c.to)}`, inputs: [x(c.shape, c.seed)], run, oracle: (xs: O.Arr[]) => O.reshape(xs[0], to) };
    }
    case 'permute':
      return { ...base, name: `permute ${JSON.stringify(c.perm)}`, inputs: [x(c.shape, c.seed)], run: (ts: Tensor[]) => G.permute(ts[0], c.perm), oracle: (xs: O.Arr[]) => O.permute(xs[0], c.perm) };
    case 'transpose':
      return { ...base, name: `transpose(${c.d0}, ${c.d1})`, inputs: [x(c.shape, c.seed)], run: (ts: Tensor[]) => G.transpose(ts[0], c.d0, c.d1), oracle: (xs: O.Arr[]) => O.transpose(xs[0], c.d0, c.d1) };
    case 'flatten': {
      const s = norm(c.start, r);
      const e = norm(c.end, r);
      const to = [...c.shape.slice(0, s), O.sizeOf(c.shape.slice(s, e + 1)), ...c.shape.slice(e + 1)];
      return { ...base, name: `flatten(${c.start}, ${c.end})`, inputs: [x(c.shape, c.seed)], run: (ts: Tensor[]) => G.flatten(ts[0], c.start, c.end), oracle: (xs: O.Arr[]) => O.reshape(xs[0], to) };
    }
    case 'slice':
      return { ...base, name: `slice(axis ${c.axis}, ${c.start}, ${c.length})`, inputs: [x(c.shape, c.seed)], run: (ts: Tensor[]) => G.slice(ts[0], c.axis, c.start, c.length), oracle: (xs: O.Arr[]) => O.slice(xs[0], c.axis, c.start, c.length) };
    case 'concat': {
      const a = norm(c.axis, r);
      const inputs = c.sizes.map((d, i) => x(c.shape.map((v, j) => (j === a ? d : v)), c.seed + i));
      return { ...base, name: `concat(axis ${c.axis})`, inputs, run: (ts: Tensor[]) => G.concat(ts, c.axis), oracle: (xs: O.Arr[]) => O.concat(xs, a) };
    }
    case 'squeeze': {
      // torch: squeeze() drops every size-1 dim; squeeze(d) drops d only if it has size 1.
      const a = c.axis === null ? -1 : norm(c.axis, r);
      const to = c.shape.filter((d, i) => d !== 1 || (c.axis !== null && i !== a));
      return { ...base, name: `squeeze(${c.axis})`, inputs: [x(c.shape, c.seed)], run: (ts: Tensor[]) => (c.axis === null ? G.squeeze(ts[0]) : G.squeeze(ts[0], c.axis)), oracle: (xs: O.Arr[]) => O.reshape(xs[0], to) };
    }
    case 'unsqueeze': {
      const a = norm(c.axis, r + 1);
      const to = [...c.shape.slice(0, a), 1, ...c.shape.slice(a)];
      return { ...base, name: `unsqueeze(${c.axis})`, inputs: [x(c.shape, c.seed)], run: (ts: Tensor[]) => G.unsqueeze(ts[0], c.axis), oracle: (xs: O.Arr[]) => O.reshape(xs[0], to) };
    }
    case 'expand':
      return { ...base, name: `expand to ${JSON.stringify(c.to)}`, inputs: [x(c.shape, c.seed)], run: (ts: Tensor[]) => G.expand(ts[0], c.to), oracle: (xs: O.Arr[]) => O.expand(xs[0], c.to) };
  }
}

// ---- matmul ----

interface MatmulCase {
  a: number[];
  b: number[];
  seed: number;
}
const matmulArb: fc.Arbitrary<MatmulCase> = fc
  .record({
    m: dim,
    k: fc.integer({ min: 1, max: 6 }),
    n: dim,
    kind: fc.constantFrom('1d·1d', '1d·2d', '2d·1d', '2d·2d', 'batch·2d', '2d·batch', 'batch·batch', 'broadcast', '1d·batch', 'batch·1d'),
    batch: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }),
    ones: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
    seed: seedArb,
  })
  .map(({ m, k, n, kind, batch, ones, seed }) => {
    const bA = batch.map((d, i) => (ones[i] ? 1 : d));
    const bB = batch.map((d, i) => (ones[i] ? d : 1));
    const shapes: Record<string, [number[], number[]]> = {
      '1d·1d': [[k], [k]],
      '1d·2d': [[k], [k, n]],
      '2d·1d': [[m, k], [k]],
      '2d·2d': [[m, k], [k, n]],
      'batch·2d': [[...batch, m, k], [k, n]],
      '2d·batch': [[m, k], [...batch, k, n]],
      'batch·batch': [[...batch, m, k], [...batch, k, n]],
      broadcast: [[...bA, m, k], [...bB.slice(1), k, n]],
      '1d·batch': [[k], [...batch, k, n]],
      'batch·1d': [[...batch, m, k], [k]],
    };
    const [a, b] = shapes[kind];
    return { a, b, seed };
  });

function matmulCheck(c: MatmulCase) {
  const k = c.a[c.a.length - 1];
  return {
    name: `matmul ${JSON.stringify(c.a)}·${JSON.stringify(c.b)}`,
    inputs: [
      { shape: c.a, data: values(c.seed, O.sizeOf(c.a)), grad: true },
      { shape: c.b, data: values(c.seed + 1, O.sizeOf(c.b)), grad: true },
    ],
    run: (ts: Tensor[]) => G.matmul(ts[0], ts[1]),
    oracle: (xs: O.Arr[]) => O.matmul(xs[0], xs[1]),
    k,
    gradK: 64,
    seed: c.seed,
  };
}

// ---- empty tensors (a dimension of size 0), which PyTorch supports throughout ----

interface EmptyCase {
  op: 'add' | 'exp' | 'sum' | 'mean' | 'concat' | 'matmul' | 'slice' | 'permute';
  shape: number[];
  seed: number;
}
const emptyArb: fc.Arbitrary<EmptyCase> = fc
  .record({ op: fc.constantFrom<EmptyCase['op']>('add', 'exp', 'sum', 'mean', 'concat', 'matmul', 'slice', 'permute'), shape: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 2, maxLength: 3 }), zero: fc.nat(2), seed: seedArb })
  .map(({ op, shape, zero, seed }) => ({ op, shape: shape.map((d, i) => (i === zero % shape.length ? 0 : d)), seed }));

function emptyCheck(c: EmptyCase) {
  const s = c.shape;
  const r = s.length;
  const x = (shape: number[], seed: number) => ({ shape, data: values(seed, O.sizeOf(shape)), grad: true });
  const zeroAxis = s.indexOf(0);
  const base = { name: `${c.op} on empty ${JSON.stringify(s)}`, k: 1, seed: c.seed };
  switch (c.op) {
    case 'add':
      return { ...base, inputs: [x(s, c.seed), x([s[r - 1]], c.seed + 1)], run: (ts: Tensor[]) => G.add(ts[0], ts[1]), oracle: (xs: O.Arr[]) => O.add(xs[0], xs[1]) };
    case 'exp':
      return { ...base, inputs: [x(s, c.seed)], run: (ts: Tensor[]) => G.exp(ts[0]), oracle: (xs: O.Arr[]) => O.exp(xs[0]) };
    case 'sum':
    case 'mean': {
      // Reducing the empty axis gives 0 (sum) or NaN (mean), as in PyTorch.
      const op = c.op;
      return { ...base, inputs: [x(s, c.seed)], run: (ts: Tensor[]) => G[op](ts[0], zeroAxis), oracle: (xs: O.Arr[]) => O[op](xs[0], [zeroAxis]) };
    }
    case 'concat': {
      const other = s.map((d, i) => (i === zeroAxis ? 2 : d));
      return { ...base, inputs: [x(s, c.seed), x(other, c.seed + 1)], run: (ts: Tensor[]) => G.concat(ts, zeroAxis), oracle: (xs: O.Arr[]) => O.concat(xs, zeroAxis) };
    }
    case 'matmul': {
      // The inner dimension is the empty one: the product is all zeros.
      const b = [s[r - 1] === 0 ? 0 : s[r - 1], 2];
      return { ...base, inputs: [x(s, c.seed), x(b, c.seed + 1)], run: (ts: Tensor[]) => G.matmul(ts[0], ts[1]), oracle: (xs: O.Arr[]) => O.matmul(xs[0], xs[1]) };
    }
    case 'slice':
      return { ...base, inputs: [x(s, c.seed)], run: (ts: Tensor[]) => G.slice(ts[0], r - 1, 0, 0), oracle: (xs: O.Arr[]) => O.slice(xs[0], r - 1, 0, 0) };
    case 'permute': {
      const perm = s.map((_, i) => r - 1 - i);
      return { ...base, inputs: [x(s, c.seed)], run: (ts: Tensor[]) => G.permute(ts[0], perm), oracle: (xs: O.Arr[]) => O.permute(xs[0], perm) };
    }
  }
}

describe.each(backends)('op properties on $label', (tb) => {
  beforeEach(async () => {
    await useBackend(tb);
  });

  it('unary ops match the oracle and finite differences', async () => {
    const edge: UnaryCase[] = [
      { op: 'exp', shape: [], p: 0, seed: 1 },
      { op: 'pow', shape: [3], p: 0, seed: 2 },
      { op: 'pow', shape: [1, 1], p: -0.5, seed: 3 },
    ];
    await fc.assert(
      fc.asyncProperty(unaryArb, async (c) => {
        const data = values(c.seed, O.sizeOf(c.shape), unaryRange[c.op]);
        await checkOp(tb, { name: c.op === 'pow' ? `pow(${c.p})` : c.op, inputs: [{ shape: c.shape, data, grad: true }], run: (ts) => unaryGpugrad(c)(ts[0]), oracle: (xs) => unaryOracle(c)(xs[0]), k: 1, seed: c.seed });
      }),
      params(60, edge),
    );
  });

  it.skipIf(Boolean(tb.nanUnkept))(`NaN inputs propagate as in PyTorch: relu, neg, abs, max over any axes, maxPool2d${tb.nanUnkept ? ` (skipped: ${tb.nanUnkept})` : ''}`, async () => {
    const tol = tb.tolerance(1);
    const same = async (what: string, got: Tensor, want: O.Arr): Promise<void> => {
      expect(got.shape, what).toEqual(want.shape);
      const g = await got.data();
      g.forEach((v, i) => {
        const w = want.data[i];
        if (Number.isNaN(w) || Number.isNaN(v)) expect([what, i, v], `NaN mask`).toEqual([what, i, w]);
        else expect(Math.abs(v - w) <= tol.atol + tol.rtol * Math.abs(w), `${what} at ${i}: ${v} vs ${w}`).toBe(true);
      });
    };
    const caseArb = fc.record({ shape: shapeArb(1, 4), every: fc.integer({ min: 1, max: 6 }), axesMask: fc.integer({ min: 0, max: 15 }), seed: seedArb });
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const data = values(c.seed, O.sizeOf(c.shape));
        for (let i = c.seed % c.every; i < data.length; i += c.every) data[i] = NaN;
        const ox = O.arr(c.shape, data);
        const x = G.tensor(Float32Array.from(data), c.shape);
        await same('relu', G.relu(x), O.relu(ox));
        await same('F.relu', G.F.relu(x), O.relu(ox));
        await same('neg', G.neg(x), O.neg(ox));
        await same('abs', G.abs(x), O.abs(ox));
        const axes = c.shape.map((_, i) => i).filter((i) => c.axesMask & (1 << i));
        await same(`max(${axes})`, G.max(x, axes.length ? axes : undefined), O.max(ox, axes.length ? axes : undefined));
        const [n, ch, h, w] = [...c.shape, 1, 1, 1].slice(0, 4);
        // The same values as [N, C, H, W] (trailing 1s added): windows that fit, with and without padding.
        const x4 = G.reshape(x, [n, ch, h, w]);
        const o4 = O.reshape(ox, [n, ch, h, w]);
        const [kh, kw] = [Math.min(2, h), Math.min(2, w)];
        await same('maxPool2d k2', G.F.maxPool2d(x4, [kh, kw], 1), O.maxPool2d(o4, { kh, kw, sh: 1, sw: 1, ph: 0, pw: 0, dh: 1, dw: 1 }, false));
        await same('maxPool2d k3 p1 s2', G.F.maxPool2d(x4, 3, 2, 1), O.maxPool2d(o4, { kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1, dh: 1, dw: 1 }, false));
      }),
      params(30),
    );
  });

  it('pow with an integer exponent accepts negative bases', async () => {
    await fc.assert(
      fc.asyncProperty(fc.record({ shape: shapeArb(1, 3), p: fc.constantFrom(2, 3, -1, -2), seed: seedArb }), async (c) => {
        const data = values(c.seed, O.sizeOf(c.shape), { awayFromZero: 0.3 });
        await checkOp(tb, { name: `pow(${c.p})`, inputs: [{ shape: c.shape, data, grad: true }], run: (ts) => G.pow(ts[0], c.p), oracle: (xs) => O.pow(xs[0], c.p), k: 1, seed: c.seed });
      }),
      params(25),
    );
  });

  it('binary ops broadcast like NumPy, with gradients summed back to each operand', async () => {
    const edge: BinaryCase[] = [
      { op: 'add', a: [], b: [], scalar: 'none', seed: 1 },
      { op: 'mul', a: [3, 1, 2], b: [4, 1], scalar: 'none', seed: 2 },
      { op: 'div', a: [1], b: [2, 3], scalar: 'none', seed: 3 },
      { op: 'sub', a: [2, 3], b: [], scalar: 'a', seed: 4 },
      { op: 'div', a: [2, 3], b: [], scalar: 'b', seed: 5 },
    ];
    await fc.assert(fc.asyncProperty(binaryArb, async (c) => checkOp(tb, binaryCheck(c))), params(60, edge));
  });

  it('sum, mean and max reduce over any axes, with and without keepdim', async () => {
    const edge: ReduceCase[] = [
      { op: 'max', shape: [1], axes: null, keepdim: false, seed: 1 },
      { op: 'mean', shape: [2, 3, 4], axes: [0, -1], keepdim: true, seed: 2 },
      { op: 'sum', shape: [1, 1, 1, 1], axes: [1], keepdim: false, seed: 3 },
    ];
    await fc.assert(fc.asyncProperty(reduceArb, async (c) => checkOp(tb, reduceCheck(c))), params(60, edge));
  });

  it('movement ops (reshape, view, permute, transpose, flatten, slice, concat, expand, squeeze, unsqueeze)', async () => {
    const edge: MoveCase[] = [
      { op: 'reshape', shape: [], to: [1, 1], seed: 1 },
      { op: 'concat', shape: [2, 3], axis: -1, sizes: [1, 4, 2], seed: 2 },
      { op: 'expand', shape: [1], to: [2, 3], seed: 3 },
      { op: 'slice', shape: [4, 1], axis: 0, start: 3, length: 1, seed: 4 },
      { op: 'permute', shape: [2, 1, 3], perm: [2, 1, 0], seed: 5 },
      { op: 'transpose', shape: [3], d0: 0, d1: -1, seed: 6 },
      { op: 'squeeze', shape: [2], axis: 0, seed: 7 },
      { op: 'unsqueeze', shape: [], axis: -1, seed: 8 },
    ];
    await fc.assert(fc.asyncProperty(moveArb, async (c) => checkOp(tb, moveCheck(c))), params(60, edge));
  });

  it('empty tensors (a size-0 dimension) flow through ops and backward', async () => {
    const edge: EmptyCase[] = [
      { op: 'matmul', shape: [2, 0], seed: 1 },
      { op: 'sum', shape: [0, 3], seed: 2 },
      { op: 'concat', shape: [2, 0, 1], seed: 3 },
    ];
    await fc.assert(fc.asyncProperty(emptyArb, async (c) => checkOp(tb, emptyCheck(c))), params(30, edge));
  });

  it("gradients at non-differentiable points follow PyTorch's conventions", async () => {
    // relu'(0) = 0, |x|'(0) = 0, and amax splits the gradient evenly between tied maxima.
    const x = G.tensor([-1, 0, 2], [3], { requiresGrad: true });
    G.add(G.sum(G.relu(x)), G.sum(G.abs(x))).backward();
    expect(Array.from(await x.grad!.data())).toEqual([-1, 0, 2]);
    const m = G.tensor([1, 3, 3, 2, 5, 5], [2, 3], { requiresGrad: true });
    G.sum(G.max(m, 1)).backward();
    expect(Array.from(await m.grad!.data())).toEqual([0, 0.5, 0.5, 0, 0.5, 0.5]);
    x.dispose();
    m.dispose();
  });

  it('matmul with 1-D operands and batch broadcasting', async () => {
    const edge: MatmulCase[] = [
      { a: [1], b: [1], seed: 1 },
      { a: [1, 1, 1], b: [1, 1], seed: 2 },
      { a: [3, 1, 2, 4], b: [2, 4, 5], seed: 3 },
    ];
    await fc.assert(fc.asyncProperty(matmulArb, async (c) => checkOp(tb, matmulCheck(c))), params(50, edge));
  });
});
