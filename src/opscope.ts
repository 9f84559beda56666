// Which public op is running, for anomaly mode: composite functions (F.conv2d, F.linear, …) run their body
// through `runAs`, so a NaN found at one of their primitives (conv2d's matmul) is reported under the name the
// user called, and their tensor arguments (inputs, weights) can be checked by name before they run.
//
// While anomaly mode is off both hooks are null: a call costs a closure and two assignments.
import type { Tensor } from './tensor.js';

/** Called with the public op, its argument names and values before it runs. */
export type ArgCheck = (op: string, names: readonly string[], args: readonly unknown[]) => void;
/** Called after each primitive (and the fused GEMM) with its inputs and output. */
export type PrimCheck = (prim: string, inputs: readonly Tensor[], out: Tensor) => void;

let current: string | null = null;
let argCheck: ArgCheck | null = null;
let primCheck: PrimCheck | null = null;

/** The outermost public op now running, or null outside any. */
export function currentUserOp(): string | null {
  return current;
}

export function setAnomalyHooks(args: ArgCheck | null, prims: PrimCheck | null): void {
  argCheck = args;
  primCheck = prims;
}

export function primHook(): PrimCheck | null {
  return primCheck;
}

/** Runs `body` as if no public op were running: a deferred value computed inside another op reports its own op. */
export function outsideOps<R>(body: () => R): R {
  const was = current;
  current = null;
  try {
    return body();
  } finally {
    current = was;
  }
}

/**
 * Runs the body of public op `op`: primitives inside report `op` as the user-level op (the outermost wins, so
 * conv2dAffine's inner conv2d reports conv2dAffine). `names` name the leading entries of `args` for checks.
 */
export function runAs<R>(op: string, names: readonly string[], args: readonly unknown[], body: () => R): R {
  if (current !== null) return body();
  current = op;
  try {
    if (argCheck) argCheck(op, names, args);
    return body();
  } finally {
    current = null;
  }
}
