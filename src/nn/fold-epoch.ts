// Eval-mode batch-norm folds cached per BatchNorm module (the fold itself is F's foldBatchNorm, functional/norm.ts):
// reused while the module's parameters and statistics are unchanged. The epoch is bumped whenever parameters may
// have changed in place without a new storage or version (optimizer steps, loadStateDict), so no stale fold survives.
import type { Buffer } from '../engine.js';
import type { Tensor } from '../tensor.js';
import { keep, noGrad, tidy } from '../engine.js';
import { foldBatchNorm } from '../functional/norm.js';
import type { AffineFold } from '../functional/deferred.js';

let epoch = 0;

/** Marks every cached folded batch-norm scale/shift stale; call after writing parameters in place. */
export function invalidateFoldedBatchNorms(): void {
  epoch++;
}

/** @internal The current epoch, part of each cached fold's key. */
export function foldEpoch(): number {
  return epoch;
}

/** What a fold reads: a BatchNorm module's state. */
export interface FoldSource {
  readonly eps: number;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
}

interface Fold {
  key: unknown[];
  scale: Tensor;
  /** The shift last asked for, and the conv bias (buffer and version) folded into it, if any. */
  shift: Tensor;
  biasKey: [Buffer, number] | null;
}

const folds = new WeakMap<FoldSource, Fold>();

/** What a fold depends on: eps, the epoch, and each tensor's storage (assign and Module.to swap it) and version. */
function foldKey(bn: FoldSource): unknown[] {
  const ts = [bn.weight, bn.bias, bn.runningMean, bn.runningVar];
  return [bn.eps, epoch, ...ts.flatMap((t) => (t ? [t.storage, t.version] : [null, null]))];
}

/**
 * The module's folded scale and shift (owned by the cache: do not dispose), or null without running statistics.
 * One shift is kept — the one last asked for, with or without a conv bias — so a batch norm after the same conv
 * every call holds two small tensors and computes nothing after the first call.
 */
export function foldedBatchNorm(bn: FoldSource): AffineFold | null {
  const { runningMean, runningVar } = bn;
  if (!runningMean || !runningVar) return null;
  const key = foldKey(bn);
  let f = folds.get(bn);
  if (!f || f.scale.isDisposed || f.shift.isDisposed || !f.key.every((k, i) => k === key[i])) {
    dropFold(bn);
    const { scale, shift } = noGrad(() => tidy(() => foldBatchNorm(runningMean, runningVar, bn.weight, bn.bias, bn.eps)));
    f = { key, scale: keep(scale), shift: keep(shift), biasKey: null };
    folds.set(bn, f);
  }
  const fold = f;
  return { scale: fold.scale, shift: (bias) => shiftFor(bn, fold, bias) };
}

function shiftFor(bn: FoldSource, f: Fold, bias: Tensor | null): Tensor {
  const want: [Buffer, number] | null = bias ? [bias.core.buf as Buffer, bias.version] : null;
  const k = f.biasKey;
  if (want === null ? k === null : k !== null && k[0] === want[0] && k[1] === want[1]) return f.shift;
  // Another bias (or none): recompute from the statistics, bias·scale + shift (the order the fold always used).
  const t = noGrad(() =>
    tidy(() => {
      const { shift } = foldBatchNorm(bn.runningMean as Tensor, bn.runningVar as Tensor, bn.weight, bn.bias, bn.eps);
      return bias ? shift.add(bias.mul(f.scale)) : shift;
    }),
  );
  f.shift.dispose();
  f.shift = keep(t);
  f.biasKey = want;
  return t;
}

/** Frees a module's cached fold (its module is disposed, or the fold went stale). */
export function dropFold(bn: FoldSource): void {
  const f = folds.get(bn);
  if (!f) return;
  folds.delete(bn);
  f.scale.dispose();
  f.shift.dispose();
}
