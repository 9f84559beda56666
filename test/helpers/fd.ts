// Test harness for the op property suites: seeded inputs, float64 central differences on the oracle,
// and one check that runs an op forward and backward on a backend and compares both with the oracle.
import fc from 'fast-check';
import { Generator, memory, mul, sum, tensor, tidyAsync, type Tensor } from '../../src/index.js';
import type { TestBackend } from './backends.js';
import { sizeOf, type Arr } from './oracle.js';

/** Runs per property: GPUGRAD_PROP_RUNS overrides the suite's default (e.g. 500 for a soak, 5 for a smoke). */
export function runs(dflt: number): number {
  const v = Number(process.env.GPUGRAD_PROP_RUNS);
  return Number.isInteger(v) && v > 0 ? v : dflt;
}

export interface ValueRange {
  lo?: number;
  hi?: number;
  /** Keep |v| at least this far from 0 (kinks of relu/abs, poles of div/log). */
  awayFromZero?: number;
}

/**
 * `n` float32-representable values from `seed`, so the backend and the oracle see exactly the same inputs.
 * Values are distinct enough that max/max-pool ties (non-differentiable points) do not occur in practice.
 */
export function values(seed: number, n: number, r: ValueRange = {}): Float64Array {
  const g = new Generator(seed);
  const lo = r.lo ?? -2;
  const hi = r.hi ?? 2;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let v = lo + (hi - lo) * g.uniform();
    const a = r.awayFromZero ?? 0;
    if (a > 0 && Math.abs(v) < a) v = v < 0 ? -a - Math.abs(v) : a + v;
    out[i] = Math.fround(v);
  }
  return out;
}

/** Integers in [0, k) from `seed` (class labels). */
export function ints(seed: number, n: number, k: number): number[] {
  const g = new Generator(seed);
  return Array.from({ length: n }, () => Math.floor(g.uniform() * k));
}

/**
 * ∂/∂xs[which] of Σ f(xs)·R by central differences in float64, step h = 1e-6·max(1, |x|). The truncation
 * error is O(h²) and the cancellation error O(ε64/h), both far below float32 resolution.
 */
export function fdGrad(f: (xs: Arr[]) => Arr, xs: readonly Arr[], R: Float64Array, which: number): Float64Array {
  const x = xs[which];
  const out = new Float64Array(x.data.length);
  const objective = (): number => {
    const y = f([...xs]).data;
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * R[i];
    return s;
  };
  for (let j = 0; j < x.data.length; j++) {
    const v = x.data[j];
    const h = 1e-6 * Math.max(1, Math.abs(v));
    x.data[j] = v + h;
    const fp = objective();
    x.data[j] = v - h;
    const fm = objective();
    x.data[j] = v;
    out[j] = (fp - fm) / (2 * h);
  }
  return out;
}

function fmtIndex(f: number, shape: readonly number[]): string {
  const idx = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    idx[i] = f % shape[i];
    f = Math.floor(f / shape[i]);
  }
  return `[${idx.join(',')}]`;
}

/**
 * Throws a readable error unless |got − want| ≤ atol + rtol·|want| everywhere (shapes must match too).
 * The message names the worst element by its multi-index.
 */
export function expectAllClose(what: string, got: ArrayLike<number>, gotShape: readonly number[], want: Arr, tol: { atol: number; rtol: number }): void {
  if (gotShape.length !== want.shape.length || gotShape.some((d, i) => d !== want.shape[i])) {
    throw new Error(`${what}: shape [${gotShape.join(',')}], expected [${want.shape.join(',')}]`);
  }
  if (got.length !== want.data.length) throw new Error(`${what}: ${got.length} values, expected ${want.data.length}`);
  let worst = -1;
  let worstExcess = 0;
  let bad = 0;
  for (let i = 0; i < got.length; i++) {
    const w = want.data[i];
    const g = got[i];
    const allowed = tol.atol + tol.rtol * Math.abs(w);
    const err = Math.abs(g - w);
    // ±Infinity on both sides, or NaN on both (the mean of nothing) agree.
    const same = g === w || (Number.isNaN(g) && Number.isNaN(w));
    if (!same && !(err <= allowed)) {
      bad++;
      const excess = Number.isNaN(err) ? Infinity : err / allowed;
      if (excess >= worstExcess) {
        worstExcess = excess;
        worst = i;
      }
    }
  }
  if (bad > 0) {
    const w = want.data[worst];
    throw new Error(
      `${what}: ${bad} of ${got.length} values out of tolerance; worst at ${fmtIndex(worst, want.shape)}: got ${got[worst]}, want ${w} ` +
        `(|err| ${Math.abs(got[worst] - w).toExponential(2)} > atol ${tol.atol.toExponential(1)} + rtol ${tol.rtol.toExponential(1)}·|want|)`,
    );
  }
}

export interface Input {
  shape: number[];
  data: Float64Array;
  /** Whether gpugrad should compute a gradient for this input (and it is checked by finite differences). */
  grad: boolean;
}

export interface OpCheck {
  /** Op label for messages. */
  name: string;
  inputs: Input[];
  /** The op under test on gpugrad tensors (inputs in the same order). */
  run: (ts: Tensor[]) => Tensor;
  /** The same op on the float64 oracle. */
  oracle: (xs: Arr[]) => Arr;
  /** Reduction length of one output (tolerance scaling on float32 backends). */
  k: number;
  /** Reduction length of one gradient entry; defaults to the output size. */
  gradK?: number;
  /**
   * Condition factor of the op (≥ 1): float32 storage of intermediates loses about ε32·factor absolutely
   * where the computation cancels large terms (batch norm centres x and divides by the batch std).
   * Scales atol of the forward and gradient comparisons.
   */
  condition?: number;
  /** The run function may return an input unchanged (expression tests whose expression is a bare input). */
  mayReturnInput?: boolean;
  /** Seed of the fixed random weights R in the objective Σ op(x)·R. */
  seed: number;
}

/**
 * Runs `c` on the current backend: forward against the oracle, then backward of Σ y·R against central
 * differences of the oracle for every input with `grad`, then checks that no tensor leaked.
 */
export async function checkOp(tb: TestBackend, c: OpCheck): Promise<void> {
  const before = memory().tensors;
  await tidyAsync(async () => {
    const ts = c.inputs.map((i) => tensor(Float32Array.from(i.data), i.shape, { requiresGrad: i.grad }));
    const y = c.run(ts);
    // Every op returns its own handle (a view at most), so disposing a result never disposes an input.
    if (!c.mayReturnInput && ts.includes(y)) throw new Error(`${c.name} on ${tb.label}: returned its input tensor itself instead of a new handle`);
    const xs = (): Arr[] => c.inputs.map((i) => ({ shape: [...i.shape], data: Float64Array.from(i.data) }));
    const want = c.oracle(xs());
    const cond = Math.max(1, c.condition ?? 1);
    const ftol = tb.tolerance(c.k);
    expectAllClose(`${c.name} forward on ${tb.label}`, await y.data(), y.shape, want, { atol: ftol.atol * cond, rtol: ftol.rtol });
    if (!c.inputs.some((i) => i.grad)) return;
    const R = values(c.seed ^ 0x5bd1e995, sizeOf(want.shape), { lo: -1, hi: 1 });
    sum(mul(y, tensor(Float32Array.from(R), want.shape))).backward();
    const base = xs();
    for (let i = 0; i < c.inputs.length; i++) {
      if (!c.inputs[i].grad) continue;
      const g = ts[i].grad;
      const fd: Arr = { shape: [...c.inputs[i].shape], data: fdGrad(c.oracle, base, R, i) };
      // No gradient (the output does not depend on the input, as in PyTorch) must mean a zero derivative.
      const got = g ? await g.data() : new Float32Array(fd.data.length);
      const tol = tb.tolerance(c.gradK ?? Math.max(1, R.length));
      expectAllClose(`${c.name} gradient of input ${i} on ${tb.label}${g ? '' : ' (none computed)'}`, got, g ? g.shape : fd.shape, fd, { atol: tol.atol * cond, rtol: tol.rtol });
    }
  });
  const after = memory().tensors;
  // Only growth is a leak: tensors that earlier code dropped without dispose() are released by the garbage
  // collector's finalizers (src/lifetime.ts), which can run at any await of this check and lower the count.
  if (after > before) throw new Error(`${c.name} on ${tb.label}: ${after - before} tensors leaked by the forward/backward pass`);
}

/** A seed arbitrary: counterexamples print as a small integer. */
export const seedArb = fc.integer({ min: 0, max: 0xffff });

/**
 * fast-check parameters shared by the suites: moderate runs, explicit edge cases first. A failure prints
 * its seed; GPUGRAD_PROP_SEED=<seed> replays that run.
 */
export function params<T>(numRuns: number, examples: T[] = []): fc.Parameters<[T]> {
  const seed = Number(process.env.GPUGRAD_PROP_SEED);
  return { numRuns: runs(numRuns), examples: examples.map((e) => [e] as [T]), endOnFailure: false, ...(Number.isInteger(seed) && process.env.GPUGRAD_PROP_SEED ? { seed } : {}) };
}
