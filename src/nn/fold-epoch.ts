// The epoch that eval-mode batch-norm folds are cached under (nn/layers.ts convBn): bumped whenever parameters
// may have changed in place without a new storage (optimizer steps, loadStateDict), so no stale fold survives.
let epoch = 0;

/** Marks every cached folded batch-norm scale/shift stale; call after writing parameters in place. */
export function invalidateFoldedBatchNorms(): void {
  epoch++;
}

/** @internal The current epoch, part of each cached fold's key. */
export function foldEpoch(): number {
  return epoch;
}
