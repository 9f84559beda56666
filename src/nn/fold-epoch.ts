// Eval-mode batch-norm folds cached per BatchNorm module (the fold itself is F's foldBatchNorm, functional/norm.ts):
// reused while the module's parameters and statistics are unchanged. The epoch is bumped whenever parameters may
// have changed in place without a new storage or version (optimizer steps, loadStateDict), so no stale fold survives.
import type { Tensor } from '../tensor.js';
import { keep, noGrad, tidy } from '../engine.js';
import { foldBatchNorm } from '../functional/norm.js';
import type { ShiftMemo } from '../functional/deferred.js';

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

/** A cached fold; as a ShiftMemo it also keeps the shift with a conv bias folded in. */
export interface Fold extends ShiftMemo {
  key: unknown[];
  scale: Tensor;
  shift: Tensor;
}

const folds = new WeakMap<FoldSource, Fold>();

/** What a fold depends on: eps, the epoch, and each tensor's storage (assign and Module.to swap it) and version. */
function foldKey(bn: FoldSource): unknown[] {
  const ts = [bn.weight, bn.bias, bn.runningMean, bn.runningVar];
  return [bn.eps, epoch, ...ts.flatMap((t) => (t ? [t.storage, t.version] : [null, null]))];
}

/** The module's folded scale and shift (owned by the cache: do not dispose), or null without running statistics. */
export function foldedBatchNorm(bn: FoldSource): Fold | null {
  const { runningMean, runningVar } = bn;
  if (!runningMean || !runningVar) return null;
  const key = foldKey(bn);
  const hit = folds.get(bn);
  if (hit && !hit.scale.isDisposed && !hit.shift.isDisposed && hit.key.every((k, i) => k === key[i])) return hit;
  dropFold(bn);
  const { scale, shift } = noGrad(() => tidy(() => foldBatchNorm(runningMean, runningVar, bn.weight, bn.bias, bn.eps)));
  const f: Fold = { key, scale: keep(scale), shift: keep(shift), biased: null };
  folds.set(bn, f);
  return f;
}

/** Frees a module's cached fold (its module is disposed, or the fold went stale). */
export function dropFold(bn: FoldSource): void {
  const f = folds.get(bn);
  if (!f) return;
  folds.delete(bn);
  f.scale.dispose();
  f.shift.dispose();
  f.biased?.shift.dispose();
}
