// Reverse-mode autograd: the primitives, one gradient rule each (the whole table fits on a screen),
// and backward() as a topological sort followed by a reverse walk.
import type { AvgPoolGeometry, GatherGeometry, WindowGeometry } from './backend.js';
import { fail, fmt } from './errors.js';
import { sameShape } from './shape.js';
import { fromStorage, type Tensor } from './tensor.js';
import { freeNode, pin, unpin } from './lifetime.js';
import { engine, keep, noGrad, tidy, withGrad } from './engine.js';
import { onesLike } from './creation.js';
import * as o from './ops.js';

/** Every primitive and the attributes its gradient rule needs. Adding a key here without a rule below is a compile error. */
export interface PrimAttrs {
  add: null;
  sub: null;
  mul: null;
  div: null;
  /** Comparisons give 0/1 masks and carry no gradient. */
  eq: null;
  ne: null;
  gt: null;
  neg: null;
  exp: null;
  log: null;
  sqrt: null;
  abs: null;
  relu: null;
  pow: { p: number };
  sigmoid: null;
  tanh: null;
  erf: null;
  /** Reductions keep the reduced dims as size 1; `keepdim: false` is a reshape on top. */
  sum: { axes: number[] };
  max: { axes: number[] };
  expand: null;
  reshape: null;
  permute: { perm: number[] };
  slice: { axis: number; start: number; length: number };
  concat: { axis: number };
  /** Inputs: x and the index (no gradient); each is the other's adjoint. */
  gather: GatherGeometry;
  scatterAdd: GatherGeometry;
  matmul: { transA: boolean; transB: boolean };
  im2col: WindowGeometry;
  col2im: WindowGeometry;
  /** A groups-1 convolution as [oc, n·oh·ow] (the backend's convForward); saves its columns where it made them. */
  conv2d: WindowGeometry;
  maxPool2d: WindowGeometry;
  avgPool2d: AvgPoolGeometry;
  /** Training-mode batch norm of x [n,c,h,w] with weight and bias [c]; saves the batch mean and variance. */
  batchNorm: { eps: number };
  /** Activation checkpointing: y = fn(inputs) kept without its graph; backward runs fn again to get one. */
  checkpoint: { fn: (...xs: Tensor[]) => Tensor };
}
export type Prim = keyof PrimAttrs;

/** The record an op leaves on its output while the graph is being recorded. */
export interface GradNode<P extends Prim = Prim> {
  readonly op: P;
  inputs: Tensor[];
  readonly attrs: PrimAttrs[P];
  /** Extra tensors the rule needs (max-pool indices). */
  saved: Tensor[];
  /** Set once backward has walked this node without retainGraph, or nothing can reach it any more. */
  freed: boolean;
  /** The storage version of each input whose values the rule reads (-1 for the others), for the in-place check. */
  versions: number[];
  /** The output's storage version when the rule reads the output (exp, sqrt, sigmoid, …), for the same check. */
  outputVersion?: number;
}

/**
 * Given the output gradient g, the node and its output y, the gradient for each input (null: none). `want[i]`
 * says whether input i needs one; a rule may skip (return null for) the others, where that saves real work.
 */
type GradRule<P extends Prim> = (g: Tensor, node: GradNode<P>, y: Tensor, want: readonly boolean[]) => (Tensor | null)[];

const x0 = (n: GradNode): Tensor => n.inputs[0];
const x1 = (n: GradNode): Tensor => n.inputs[1];

const rules: { [P in Prim]: GradRule<P> } = {
  add: (g, n) => [o.sumTo(g, x0(n).shape), o.sumTo(g, x1(n).shape)],
  sub: (g, n) => [o.sumTo(g, x0(n).shape), o.sumTo(o.neg(g), x1(n).shape)],
  mul: (g, n, _y, want) => [want[0] ? o.sumTo(o.mul(g, x1(n)), x0(n).shape) : null, want[1] ? o.sumTo(o.mul(g, x0(n)), x1(n).shape) : null],
  // d(a/b)/db = -a/b² = -y/b
  div: (g, n, y) => [o.sumTo(o.div(g, x1(n)), x0(n).shape), o.sumTo(o.neg(o.div(o.mul(g, y), x1(n))), x1(n).shape)],
  eq: () => [null, null],
  ne: () => [null, null],
  gt: () => [null, null],
  neg: (g) => [o.neg(g)],
  exp: (g, _n, y) => [o.mul(g, y)],
  log: (g, n) => [o.div(g, x0(n))],
  sqrt: (g, _n, y) => [o.div(g, o.mul(y, 2))],
  abs: (g, n) => [o.mul(g, o.sub(o.gt(x0(n), 0), o.gt(o.neg(x0(n)), 0)))],
  // PyTorch's threshold_backward on the output: zero where y <= 0, so a NaN input passes its gradient on
  // (y is 0, -0, positive or NaN, and y <= 0 is y == 0; NaN != 0 holds). Reading y, not x, lets the input go.
  relu: (g, _n, y) => [o.mul(g, o.ne(y, 0))],
  pow: (g, n) => [o.mul(g, o.mul(o.pow(x0(n), n.attrs.p - 1), n.attrs.p))],
  sigmoid: (g, _n, y) => [o.mul(g, o.mul(y, o.sub(1, y)))],
  tanh: (g, _n, y) => [o.mul(g, o.sub(1, o.mul(y, y)))],
  // d erf(x)/dx = 2/√π · e^(−x²)
  erf: (g, n) => [o.mul(g, o.mul(o.exp(o.neg(o.mul(x0(n), x0(n)))), 2 / Math.sqrt(Math.PI)))],
  sum: (g, n) => [o.expand(g, x0(n).shape)],
  // Ties share the gradient equally (torch.amax semantics).
  max: (g, n, y) => {
    const mask = o.eq(x0(n), y);
    return [o.mul(mask, o.div(g, o.sum(mask, n.attrs.axes, true)))];
  },
  expand: (g, n) => [o.sumTo(g, x0(n).shape)],
  reshape: (g, n) => [o.reshape(g, x0(n).shape)],
  permute: (g, n) => [o.permute(g, inversePerm(n.attrs.perm))],
  slice: (g, n) => [o.padAxis(g, n.attrs.axis, n.attrs.start, x0(n).shape[n.attrs.axis] - n.attrs.start - n.attrs.length)],
  concat: (g, n) => {
    let at = 0;
    return n.inputs.map((t) => {
      const part = o.slice(g, n.attrs.axis, at, t.shape[n.attrs.axis]);
      at += t.shape[n.attrs.axis];
      return part;
    });
  },
  gather: (g, n) => [o.scatterAddPrim(g, x1(n), n.attrs), null],
  scatterAdd: (g, n) => [o.gatherPrim(g, x1(n), n.attrs), null],
  // C = op(A)·op(B); each case is the familiar dA = dC·Bᵀ, dB = Aᵀ·dC written for stored layouts.
  // A side that needs no gradient is skipped: a conv on the input image would otherwise run a whole GEMM
  // (ResNet-50's stem, ~2% of a training step) for the image's gradient only to drop it.
  matmul: (g, n, _y, want) => {
    const [a, b] = n.inputs;
    const { transA, transB } = n.attrs;
    const da = !want[0] ? null : transA ? o.matmulT(b, g, transB, true) : o.matmulT(g, b, false, !transB);
    const db = !want[1] ? null : transB ? o.matmulT(g, a, true, transA) : o.matmulT(a, g, !transA, false);
    return [da && o.sumTo(da, a.shape), db && o.sumTo(db, b.shape)];
  },
  im2col: (g, n) => [o.col2im(g, n.attrs)],
  // dx = col2im(weightᵀ·gy) and dweight = gy·colsᵀ (the forward's columns, or im2col(x) where it made none)
  // through the backend's convInputGrad and convWeightGrad, which may use Winograd instead (wasm, 3×3 stride 1).
  conv2d: (g, n, _y, want) => {
    const [x, w] = n.inputs;
    const b = g.backend;
    const dx = want[0] ? fromStorage(b, b.convInputGrad(g.storage, w.storage, n.attrs, w.shape[0]), x.shape) : null;
    const dw = want[1] ? fromStorage(b, b.convWeightGrad(g.storage, x.storage, n.saved[0]?.storage ?? null, n.attrs, w.shape[0]), w.shape) : null;
    return [dx, dw];
  },
  col2im: (g, n) => [o.im2col(g, n.attrs)],
  maxPool2d: (g, n) => {
    const b = g.backend;
    return [fromStorage(b, b.maxPool2dBackward(g.storage, n.saved[0].storage, n.attrs), x0(n).shape)];
  },
  avgPool2d: (g, n) => {
    const b = g.backend;
    return [fromStorage(b, b.avgPool2dBackward(g.storage, n.attrs), x0(n).shape)];
  },
  // The backend's kernel pair (the formula, written once: bnGradCoefficients in src/backends/batchnorm.ts).
  batchNorm: (g, n) => {
    const [x, w] = n.inputs;
    const b = g.backend;
    const r = b.batchNormBackward(g.storage, x.storage, x.shape, n.saved[0].storage, n.saved[1].storage, w.storage, n.attrs.eps);
    return [fromStorage(b, r.dx, x.shape), fromStorage(b, r.dweight, w.shape), fromStorage(b, r.dbias, w.shape)];
  },  // Recompute the segment with recording on, from detached copies of its inputs, and back-propagate g through
  // it: parameters inside accumulate their gradients there, the inputs' come back as this rule's answer.
  checkpoint: (g, n) => {
    const xs = n.inputs.map((x) => x.detach().requiresGrad_(x.requiresGrad));
    const y = withGrad(() => n.attrs.fn(...xs));
    if (!sameShape(y.shape, g.shape)) fail('checkpoint', `the function gave ${fmt(y.shape)} when recomputed but ${fmt(g.shape)} the first time; it must be deterministic`);
    if (y.requiresGrad) y.backward(g);
    y.dispose();
    return xs.map((x) => {
      const gx = x.grad;
      x.grad = null;
      x.dispose();
      return gx;
    });
  },

};

/**
 * Which values each rule reads: input indices (or all) and whether it reads the output y. A node keeps those
 * storages alive until it is freed; the other inputs are kept for their shape and graph position only, so
 * e.g. an add's operands can be freed during the forward pass, as in PyTorch.
 */
const reads: { [P in Prim]: { inputs: readonly number[] | 'all'; output: boolean } } = {
  add: { inputs: [], output: false },
  sub: { inputs: [], output: false },
  mul: { inputs: 'all', output: false },
  div: { inputs: [1], output: true },
  eq: { inputs: [], output: false },
  ne: { inputs: [], output: false },
  gt: { inputs: [], output: false },
  neg: { inputs: [], output: false },
  exp: { inputs: [], output: true },
  log: { inputs: [0], output: false },
  sqrt: { inputs: [], output: true },
  abs: { inputs: [0], output: false },
  relu: { inputs: [], output: true },
  pow: { inputs: [0], output: false },
  sigmoid: { inputs: [], output: true },
  tanh: { inputs: [], output: true },
  erf: { inputs: [0], output: false },
  sum: { inputs: [], output: false },
  max: { inputs: [0], output: true },
  expand: { inputs: [], output: false },
  reshape: { inputs: [], output: false },
  permute: { inputs: [], output: false },
  slice: { inputs: [], output: false },
  concat: { inputs: [], output: false },
  gather: { inputs: [1], output: false },
  scatterAdd: { inputs: [1], output: false },
  matmul: { inputs: 'all', output: false },
  im2col: { inputs: [], output: false },
  col2im: { inputs: [], output: false },
  conv2d: { inputs: 'all', output: false },
  maxPool2d: { inputs: [], output: false },
  avgPool2d: { inputs: [], output: false },
  batchNorm: { inputs: [0, 1], output: false },
  checkpoint: { inputs: 'all', output: false },
};

/** @internal What a node of `op` reads in backward (lifetime.ts keeps exactly those storages). */
export function nodeReads(op: Prim): { inputs: readonly number[] | 'all'; output: boolean } {
  return reads[op];
}

function inversePerm(p: readonly number[]): number[] {
  const inv = new Array<number>(p.length);
  p.forEach((d, i) => (inv[d] = i));
  return inv;
}

/** Nodes reachable from `root` that need a gradient, inputs before outputs (iterative: nets are deep). */
function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>([root]);
  const stack: [Tensor, number][] = [[root, 0]];
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.node ? t.node.inputs : [];
    if (i < inputs.length) {
      top[1]++;
      const c = inputs[i];
      if (c.requiresGrad && !seen.has(c)) {
        seen.add(c);
        stack.push([c, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

/** Hook for anomaly mode: called with each op name and the gradients it produced. */
export type GradCheck = (op: Prim, grads: readonly (Tensor | null)[], node: GradNode) => void;
let gradCheck: GradCheck | null = null;
/** True while backward() runs gradient rules (their intermediate ops are not forward ops). */
export function inBackward(): boolean {
  return engine.backwardDepth > 0;
}
export function setGradCheck(fn: GradCheck | null): void {
  gradCheck = fn;
}

export function backward(root: Tensor, gradient: Tensor | undefined, retainGraph: boolean): void {
  if (!root.requiresGrad) fail('backward', `tensor ${fmt(root.shape)} does not require grad and has no grad function`);
  if (gradient === undefined && root.size !== 1) {
    fail('backward', `a gradient can be created implicitly only for a one-element output, but the output has shape ${fmt(root.shape)}; pass backward(gradient) with that shape`);
  }
  if (gradient && !sameShape(gradient.shape, root.shape)) {
    fail('backward', `gradient shape ${fmt(gradient.shape)} does not match output shape ${fmt(root.shape)}`);
  }
  engine.backwardDepth++;
  try {
    walk(root, gradient, retainGraph);
  } finally {
    engine.backwardDepth--;
  }
}

function walk(root: Tensor, gradient: Tensor | undefined, retainGraph: boolean): void {
  noGrad(() => {
    const grads = new Map<Tensor, Tensor>();
    grads.set(root, gradient ? gradient.detach() : onesLike(root));
    const order = topoOrder(root);
    for (const t of order) pin(t.core);
    let k = order.length - 1;
    try {
      for (; k >= 0; k--) {
        step(order[k], grads, retainGraph);
        unpin(order[k].core);
      }
    } finally {
      // After a failure: unpin what was not walked and drop the gradients still in flight.
      for (; k >= 0; k--) unpin(order[k].core);
      for (const g of grads.values()) g.dispose();
    }
  });
}

/** One node of the reverse walk: its rule's input gradients are added into `grads`; a leaf accumulates. */
function step(t: Tensor, grads: Map<Tensor, Tensor>, retainGraph: boolean): void {
  const g = grads.get(t);
  if (!g) return;
  grads.delete(t);
  const node = t.node;
  if (!node) {
    accumulateLeaf(t, g);
    return;
  }
  if (node.freed) {
    g.dispose();
    fail('backward', `the graph behind this tensor was already freed by an earlier backward(); pass { retainGraph: true } to the first backward() to call it twice`);
  }
  checkVersions(node, t);
  const rule = rules[node.op] as GradRule<Prim>;
  // The rule's own intermediates (masks, negations, constants) go when it returns; only the gradients stay.
  const ins = tidy(() => rule(g, node, t, node.inputs.map((inp) => inp.requiresGrad)));
  if (gradCheck) gradCheck(node.op, ins, node);
  node.inputs.forEach((inp, i) => {
    let gi = ins[i];
    if (!gi) return;
    if (!inp.requiresGrad) {
      if (gi !== g) gi.dispose();
      return;
    }
    if (gi === g) gi = g.detach(); // the rule passed g through: give the input its own handle
    if (!sameShape(gi.shape, inp.shape)) {
      fail('backward', `internal error: rule '${node.op}' gave gradient ${fmt(gi.shape)} for input ${fmt(inp.shape)}`);
    }
    const prev = grads.get(inp);
    if (prev) {
      grads.set(inp, o.add(prev, gi));
      prev.dispose();
      gi.dispose();
    } else {
      grads.set(inp, gi);
    }
  });
  g.dispose();
  if (!retainGraph) freeNode(t.core, node);
}

/** PyTorch's version check: a value the rule reads must not have been overwritten in place since the forward. */
function checkVersions(node: GradNode, y: Tensor): void {
  node.versions.forEach((v, i) => {
    const t = node.inputs[i];
    if (v >= 0 && t.version !== v) {
      fail('backward', `input ${i} ${fmt(t.shape)} of op '${node.op}' is needed for the gradient but was modified in place since the forward pass (version ${v} → ${t.version}); clone it before changing it`);
    }
  });
  const v = node.outputVersion ?? -1;
  if (v >= 0 && y.version !== v) {
    fail('backward', `the output ${fmt(y.shape)} of op '${node.op}' is needed for its gradient but was modified in place since the forward pass (version ${v} → ${y.version}); clone it before changing it`);
  }
}

function accumulateLeaf(t: Tensor, g: Tensor): void {
  if (t.grad) {
    const sum = o.add(t.grad, g);
    t.grad.dispose();
    g.dispose();
    t.grad = keep(sum);
  } else {
    t.grad = keep(g);
  }
}
