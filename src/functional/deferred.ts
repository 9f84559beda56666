// Eval-time batch-norm folding, recognised at the call. A Conv2d whose output needs no gradient returns a deferred
// tensor: its GEMM has not run yet. A batch norm applied to it in eval mode (a per-channel scale and shift), then a
// residual add and a ReLU, join the deferred computation instead of running as passes of their own; the first read
// of the values (the next convolution, a pool, data()) runs one GEMM whose epilogue applies all of them (backend
// matmulEpilogue, via F.conv2dAffine). So a model written as torchvision writes it — relu(bn(conv(x)) + identity) —
// runs as fast as a hand-fused one, and any model written as bn(conv(x)) benefits.
//
// Lifetime rules that keep this invisible:
// - Only modules defer (Conv2d.forward), and the outermost module call computes every deferred value still pending
//   before it returns (`moduleCall`): no deferred tensor reaches user code, so parameters written in place later
//   (optimizer steps, loadStateDict) cannot change a value already returned.
// - Each deferred value holds its inputs (buffer references, taken without reading them), so disposing the conv
//   input or an intermediate is safe; a held input written in place before the read is refused, not used.
// - Each step makes a new deferred value: reading an intermediate (the conv output alone, say) computes exactly it.
// - With gradients, in training (batch statistics read the values) or with folding off, nothing defers or folds.
import type { Backend } from '../backend.js';
import { fail, fmt } from '../errors.js';
import { sameShape } from '../shape.js';
import * as o from '../ops.js';
import { Tensor } from '../tensor.js';
import { Buffer, isGradEnabled, noGrad, tidy, type Deferred } from '../engine.js';
import { releaseBuffer } from '../lifetime.js';
import { outsideOps } from '../opscope.js';
import { ownFastPaths } from '../backends/defaults.js';
import { conv2d, conv2dAffine, convOutput, type Conv2dOptions } from './conv.js';

let folding = true;

/**
 * Turns eval-mode batch-norm folding on or off (default on) and returns the previous setting. Off, every
 * Conv2d → BatchNorm2d pair runs as two modules, as in training; results agree to float32 rounding.
 */
export function setBatchNormFolding(enabled: boolean): boolean {
  const was = folding;
  folding = enabled;
  return was;
}

export function batchNormFolding(): boolean {
  return folding;
}

/** A reference to a tensor's buffer (taken without computing a deferred one) and the version it had then. */
interface Held {
  buf: Buffer;
  shape: readonly number[];
  version: number;
}

function hold(t: Tensor): Held {
  const buf = t.core.buf as Buffer;
  buf.refs++;
  return { buf, shape: t.shape, version: buf.version };
}

function rehold(h: Held): Held {
  h.buf.refs++;
  return h;
}

/** A tensor over a held buffer, owned by the current scope, its values computed (ops on it must not defer again). */
function use(h: Held): Tensor {
  if (!h.buf.deferred && h.buf.version !== h.version) {
    fail('conv2d', `an input ${fmt(h.shape)} of a deferred eval-mode convolution was written in place before its output was read; read the output first (or turn folding off with setBatchNormFolding(false))`);
  }
  h.buf.refs++;
  const t = new Tensor(h.buf, h.shape, null, false);
  void t.storage; // resolves a deferred input (a residual still pending) here
  return t;
}

/** What a deferred convolution will compute: relu?(conv(x, weight)·scale + shift + residual), or conv(x, weight) + bias. */
interface Spec {
  backend: Backend;
  x: Held;
  weight: Held;
  bias: Held | null;
  options: Conv2dOptions;
  shape: number[];
  /** Whether the backend's own GEMM applies scale, shift, residual and ReLU (not withDefaults()' composition). */
  fused: boolean;
  /** A folded batch norm (with the conv bias already in `shift`); null while none joined. */
  scale: Held | null;
  shift: Held | null;
  residual: Held | null;
  relu: boolean;
}

/** Deferred values not yet computed nor dropped; `moduleCall` computes them when the outermost module returns. */
const pending = new Set<DeferredConv>();

class DeferredConv implements Deferred {
  private result: Buffer | null = null;
  private error: unknown = null;
  /** Whether the inputs are still held (until computed or released). */
  private held = true;

  constructor(private readonly spec: Spec) {
    pending.add(this);
  }

  /** The tensor standing for the value: a placeholder buffer (no storage) that resolves on first read. */
  tensor(): Tensor {
    const p = new Buffer(this.spec.backend, null as never, 0);
    p.deferred = this;
    return new Tensor(p, this.spec.shape, null, false);
  }

  resolve(placeholder: Buffer): Buffer {
    const b = this.compute();
    b.refs++;
    releaseBuffer(placeholder);
    return b;
  }

  release(): void {
    pending.delete(this);
    if (this.result) releaseBuffer(this.result);
    this.result = null;
    this.dropHolds();
  }

  compute(): Buffer {
    if (this.result) return this.result;
    if (this.error) throw this.error;
    pending.delete(this);
    try {
      // Outside any op the reader is running (anomaly mode then names conv2d / conv2dAffine), without a graph.
      const out = outsideOps(() => noGrad(() => tidy(() => this.run())));
      void out.storage; // (concrete already: every input was)
      const b = out.core.buf as Buffer;
      b.refs++; // taken from `out`, which goes now
      out.dispose();
      this.result = b;
      return b;
    } catch (e) {
      this.error = e;
      throw e;
    } finally {
      this.dropHolds();
    }
  }

  private run(): Tensor {
    const s = this.spec;
    const x = use(s.x);
    const w = use(s.weight);
    const bias = s.bias ? use(s.bias) : null;
    if (!s.scale && !s.residual && !s.relu) return conv2d(x, w, bias, s.options);
    const oc = s.shape[1];
    const scale = s.scale ? use(s.scale) : o.constant(x, [oc], 1);
    const shift = s.shift ? use(s.shift) : (bias ?? o.constant(x, [oc], 0));
    return conv2dAffine(x, w, { scale, shift, residual: s.residual ? use(s.residual) : null, relu: s.relu }, s.options);
  }

  private dropHolds(): void {
    if (!this.held) return;
    this.held = false;
    const s = this.spec;
    for (const h of [s.x, s.weight, s.bias, s.scale, s.shift, s.residual]) if (h) releaseBuffer(h.buf);
  }

  /** A new deferred value: this one's computation plus `change` (every input held again). */
  private extend(change: Partial<Spec>): Tensor {
    const s = this.spec;
    const again = (h: Held | null): Held | null => (h ? rehold(h) : null);
    const next: Spec = { ...s, x: rehold(s.x), weight: rehold(s.weight), bias: again(s.bias), scale: again(s.scale), shift: again(s.shift), residual: again(s.residual), ...change };
    return new DeferredConv(next).tensor();
  }

  /** Whether a per-channel affine (a batch norm in eval mode) can still join: nothing after it has. */
  acceptsAffine(): boolean {
    return this.held && !this.spec.residual && !this.spec.relu;
  }

  withAffine(fold: AffineFold): Tensor {
    const s = this.spec;
    if (!s.scale) {
      // conv + bias, then the batch norm: shift' = bias·scale + shift, which the fold computes (and may cache).
      const t = noGrad(() => fold.shift(s.bias ? use(s.bias) : null));
      return this.extend({ scale: hold(fold.scale), shift: hold(t) });
    }
    // A second affine after the first: scale' = s0·s1, shift' = t0·s1 + t1.
    const [s1, t1] = noGrad(() => {
      const s0 = use(s.scale as Held);
      const t0 = use(s.shift as Held);
      return [o.mul(s0, fold.scale), o.add(o.mul(t0, fold.scale), fold.shift(null))];
    });
    return this.extend({ scale: hold(s1), shift: hold(t1) });
  }

  absorb(op: string, self: Tensor, other?: Tensor): Tensor | null {
    const s = this.spec;
    // Only what the epilogue applies, in its order (affine, then residual, then ReLU), and only without gradients.
    if (!folding || !this.held || s.relu || !(s.fused || s.scale)) return null;
    if (op === 'relu') return this.extend({ relu: true });
    if (op !== 'add' || !other || other === self || s.residual || !sameShape(other.shape, s.shape)) return null;
    if (isGradEnabled() && other.requiresGrad) return null;
    return this.extend({ residual: hold(other) });
  }
}

/**
 * A per-channel affine map (a batch norm in eval mode, folded): its scale, and its shift with a preceding
 * convolution's bias folded in (bias·scale + shift) or not. nn's fold cache (nn/fold-epoch.ts) keeps the shift it
 * was last asked for, so repeated forwards of the same conv → batch norm compute nothing.
 */
export interface AffineFold {
  readonly scale: Tensor;
  shift(bias: Tensor | null): Tensor;
}

/** An uncached fold: the shift with a bias is computed on each call. */
export function plainFold(scale: Tensor, shift: Tensor): AffineFold {
  return { scale, shift: (bias) => (bias ? o.add(o.mul(bias, scale), shift) : shift) };
}

function deferredOf(x: Tensor): DeferredConv | null {
  const d = x.core.buf?.deferred;
  return d instanceof DeferredConv ? d : null;
}

/** Whether `x` is a deferred convolution output that a per-channel affine can still join. */
export function isDeferredConv(x: Tensor): boolean {
  return deferredOf(x)?.acceptsAffine() ?? false;
}

/**
 * Conv2d's forward without gradients: the deferred output, or null where the convolution must run now (folding
 * off, a gradient needed, or arguments that conv2d itself should judge). The arguments are checked here, so a
 * bad call fails at the call as before.
 */
export function deferConv(x: Tensor, weight: Tensor, bias: Tensor | null, options: Conv2dOptions): Tensor | null {
  if (!folding || !(x instanceof Tensor) || x.isDisposed) return null;
  if (isGradEnabled() && (x.requiresGrad || weight.requiresGrad || (bias?.requiresGrad ?? false))) return null;
  if (weight.backend !== x.backend || (bias && bias.backend !== x.backend)) return null;
  const { shape, groups } = convOutput(x, weight, bias, options);
  // The input is computed now: chains of deferred values stay one step deep (and a deep network needs no recursion).
  void x.storage;
  const be = x.backend;
  // A ReLU or an add after a conv with no batch norm joins only where the backend's own GEMM applies it.
  const fused = groups === 1 && ownFastPaths(be).has('matmulEpilogue');
  const spec: Spec = { backend: be, x: hold(x), weight: hold(weight), bias: bias ? hold(bias) : null, options, shape, fused, scale: null, shift: null, residual: null, relu: false };
  return new DeferredConv(spec).tensor();
}

/**
 * x·scale[c] + shift[c] over the channels of a 4-D x (a batch norm in eval mode, folded): joins a deferred
 * convolution's epilogue where it can, otherwise runs as a multiply and an add.
 */
export function scaleShift(x: Tensor, fold: AffineFold): Tensor {
  const d = deferredOf(x);
  if (d?.acceptsAffine() && folding && !(isGradEnabled() && fold.scale.requiresGrad)) return d.withAffine(fold);
  const c = [1, x.shape[1], 1, 1];
  return o.add(o.mul(x, o.reshape(fold.scale, c)), o.reshape(fold.shift(null), c));
}

let depth = 0;

/**
 * Runs a module's forward; when the outermost one returns, every deferred value still pending is computed, so
 * none outlives the call that made it.
 */
export function moduleCall<T>(fn: () => T): T {
  depth++;
  let ok = false;
  try {
    const r = fn();
    ok = true;
    return r;
  } finally {
    if (--depth === 0 && ok && pending.size) for (const d of [...pending]) d.compute();
  }
}
