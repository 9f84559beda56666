// Property tests of autograd on whole graphs: random expressions over two inputs (one broadcast) in which
// tensors are reused, so gradients must accumulate over several paths and be visited in topological order.
import fc from 'fast-check';
import { beforeEach, describe, it } from 'vitest';
import * as G from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { availableBackends, testBackends, useBackend } from './helpers/backends.js';
import { checkOp, params, seedArb, values } from './helpers/fd.js';
import * as O from './helpers/oracle.js';

const backends = await availableBackends(testBackends);

type Expr =
  | { op: 'x' | 'y' }
  | { op: 'neg' | 'squash' | 'expHalf' | 'relu' | 'center' | 'addColSum' | 'square' | 'twice'; a: Expr }
  | { op: 'add' | 'sub' | 'mul'; a: Expr; b: Expr };

const exprArb: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => ({
  e: fc.oneof(
    { maxDepth: 4, depthSize: 'small', withCrossShrink: true },
    fc.constantFrom<Expr>({ op: 'x' }, { op: 'y' }),
    fc.record({ op: fc.constantFrom('neg', 'squash', 'expHalf', 'relu', 'center', 'addColSum', 'square', 'twice'), a: tie('e') }) as fc.Arbitrary<Expr>,
    fc.record({ op: fc.constantFrom('add', 'sub', 'mul'), a: tie('e'), b: tie('e') }) as fc.Arbitrary<Expr>,
  ),
})).e;

/** Readable form of an expression for failure messages. */
function show(e: Expr): string {
  if (!('a' in e)) return e.op;
  if ('b' in e) return `${e.op}(${show(e.a)}, ${show(e.b)})`;
  return `${e.op}(${show(e.a)})`;
}

interface Ops<T> {
  neg(a: T): T;
  add(a: T, b: T): T;
  sub(a: T, b: T): T;
  mul(a: T, b: T): T;
  div(a: T, b: T): T;
  exp(a: T): T;
  abs(a: T): T;
  relu(a: T): T;
  scale(a: T, s: number): T;
  plus(a: T, s: number): T;
  meanLast(a: T): T;
  sumFirst(a: T): T;
}

/** One evaluator for both worlds, so the two sides cannot drift apart; subexpressions used twice are computed once. */
function evaluate<T>(e: Expr, x: T, y: T, o: Ops<T>): T {
  const ev = (f: Expr): T => evaluate(f, x, y, o);
  switch (e.op) {
    case 'x':
      return x;
    case 'y':
      return y;
    case 'neg':
      return o.neg(ev(e.a));
    // a/(1+|a|) keeps magnitudes bounded however deep the tree is (abs's kink is harmless here: smooth derivative).
    case 'squash': {
      const a = ev(e.a);
      return o.div(a, o.plus(o.abs(a), 1));
    }
    case 'expHalf': {
      const a = ev(e.a);
      return o.exp(o.scale(o.div(a, o.plus(o.abs(a), 1)), 0.5));
    }
    case 'relu':
      return o.relu(ev(e.a));
    case 'center': {
      const a = ev(e.a);
      return o.sub(a, o.meanLast(a));
    }
    case 'addColSum': {
      const a = ev(e.a);
      return o.add(a, o.scale(o.sumFirst(a), 0.5));
    }
    case 'square': {
      const a = ev(e.a);
      return o.mul(a, a);
    }
    case 'twice': {
      const a = ev(e.a);
      return o.add(a, a);
    }
    case 'add':
    case 'sub':
    case 'mul':
      return o[e.op](ev(e.a), ev(e.b));
  }
}

const gOps: Ops<Tensor> = {
  neg: G.neg,
  add: G.add,
  sub: G.sub,
  mul: G.mul,
  div: G.div,
  exp: G.exp,
  abs: G.abs,
  relu: G.relu,
  scale: (a, s) => G.mul(a, s),
  plus: (a, s) => G.add(a, s),
  meanLast: (a) => G.mean(a, -1, true),
  sumFirst: (a) => G.sum(a, 0, true),
};
const c = (v: number): O.Arr => ({ shape: [], data: Float64Array.of(v) });
const oOps: Ops<O.Arr> = {
  neg: O.neg,
  add: O.add,
  sub: O.sub,
  mul: O.mul,
  div: O.div,
  exp: O.exp,
  abs: O.abs,
  relu: O.relu,
  scale: (a, s) => O.mul(a, c(s)),
  plus: (a, s) => O.add(a, c(s)),
  meanLast: (a) => O.mean(a, [-1], true),
  sumFirst: (a) => O.sum(a, [0], true),
};

describe.each(backends)('autograd on random graphs on $label', (tb) => {
  beforeEach(async () => {
    await useBackend(tb);
  });

  it('gradients of expressions that reuse tensors match finite differences', async () => {
    const arb = fc.record({ expr: exprArb, rows: fc.integer({ min: 1, max: 3 }), cols: fc.integer({ min: 1, max: 4 }), seed: seedArb });
    const edge = [
      { expr: { op: 'mul', a: { op: 'x' }, b: { op: 'x' } } as Expr, rows: 2, cols: 3, seed: 1 },
      { expr: { op: 'twice', a: { op: 'square', a: { op: 'add', a: { op: 'x' }, b: { op: 'y' } } } } as Expr, rows: 3, cols: 2, seed: 2 },
      { expr: { op: 'center', a: { op: 'addColSum', a: { op: 'mul', a: { op: 'y' }, b: { op: 'expHalf', a: { op: 'x' } } } } } as Expr, rows: 3, cols: 4, seed: 3 },
    ];
    await fc.assert(
      fc.asyncProperty(arb, async (k) => {
        await checkOp(tb, {
          name: show(k.expr),
          inputs: [
            { shape: [k.rows, k.cols], data: values(k.seed, k.rows * k.cols, { awayFromZero: 1e-2 }), grad: true },
            // y is broadcast along the rows, so its gradient is also summed over them.
            { shape: [1, k.cols], data: values(k.seed + 1, k.cols, { awayFromZero: 1e-2 }), grad: true },
          ],
          run: (ts) => evaluate(k.expr, ts[0], ts[1], gOps),
          oracle: (xs) => evaluate(k.expr, xs[0], xs[1], oOps),
          k: 8,
          mayReturnInput: true,
          seed: k.seed,
        });
      }),
      params(60, edge),
    );
  });
});
